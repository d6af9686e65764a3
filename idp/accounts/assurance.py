"""Assurance levels (DESIGN §Assurance): ``acr`` names how strongly, ``amr`` (RFC 8176) how."""
from __future__ import annotations

LOA1 = "urn:motid:loa:1"
LOA2 = "urn:motid:loa:2"
LOA3 = "urn:motid:loa:3"
LEVELS = (LOA1, LOA2, LOA3)
SUPPORTED = (LOA1, LOA2, LOA3)  # loa:3: digital-signature certificate login (certificates/)

PASSWORD = ["pwd"]
PASSWORD_AND_OTP = ["pwd", "otp", "mfa"]
PASSWORD_AND_REMEMBERED_BROWSER = ["pwd", "mfa"]


def rank(acr: str | None) -> int:
    return LEVELS.index(acr) + 1 if acr in LEVELS else 0


def satisfies(current: str | None, wanted: str | None) -> bool:
    return wanted is None or rank(current) >= rank(wanted)


def strongest_supported(values) -> str | None:
    """Of the requested acr values (in preference order), the first MotID can deliver; None if none."""
    for value in values:
        if value in SUPPORTED:
            return value
    return None
