"""A short, human description of a browser from its User-Agent ("Chrome trên Android")."""
from __future__ import annotations

from flask_babel import gettext as _

_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("CocCoc", "Cốc Cốc"), ("Zalo", "Zalo"),
             ("Firefox/", "Firefox"), ("Chrome/", "Chrome"), ("Safari/", "Safari"))
_SYSTEMS = (("Android", "Android"), ("iPhone", "iPhone"), ("iPad", "iPad"), ("Windows", "Windows"),
            ("Mac OS X", "macOS"), ("Linux", "Linux"))


def describe(user_agent: str | None) -> str:
    user_agent = user_agent or ""
    browser = next((name for token, name in _BROWSERS if token in user_agent), None)
    system = next((name for token, name in _SYSTEMS if token in user_agent), None)
    if browser and system:
        return _("%(browser)s on %(system)s", browser=browser, system=system)
    return browser or system or _("Unknown device")
