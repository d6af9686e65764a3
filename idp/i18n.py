"""Languages: Vietnamese by default, English available (Flask-Babel catalogues in idp/translations)."""
from __future__ import annotations

from flask import g, request

from .extensions import babel

LANGUAGES = ("vi", "en")
DEFAULT = "vi"
COOKIE = "motid_lang"


def select_locale() -> str:
    """An explicit choice (``ui_locales`` of this request, then the cookie), then Accept-Language."""
    forced = g.get("ui_locale")
    if forced in LANGUAGES:
        return forced
    for tag in request.args.get("ui_locales", "")[:100].split():  # OIDC Core §3.1.2.1, passed to /login
        if tag.split("-")[0].lower() in LANGUAGES:
            return tag.split("-")[0].lower()
    chosen = request.cookies.get(COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES, default=DEFAULT) or DEFAULT


def init_app(app) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "translations")
    babel.init_app(app, locale_selector=select_locale, default_timezone="Asia/Ho_Chi_Minh")
