"""Assurance levels (DESIGN §Assurance): ``acr`` names how strongly, ``amr`` (RFC 8176) how."""
from __future__ import annotations

from dataclasses import dataclass

LOA1 = "urn:motid:loa:1"
LOA2 = "urn:motid:loa:2"
LOA3 = "urn:motid:loa:3"
LEVELS = (LOA1, LOA2, LOA3)
SUPPORTED = (LOA1, LOA2, LOA3)  # loa:3: digital-signature certificate login (certificates/)


@dataclass(frozen=True)
class Proof:
    """What one proof yields: the level it reaches and its ``amr`` values (in the order sessions keep),
    by how it is used; None where it cannot be used that way."""

    acr: str
    after_password: tuple[str, ...] | None = None  # it completes a pending password login
    alone: tuple[str, ...] | None = None  # it is the whole login
    step_up: tuple[str, ...] | None = None  # what it adds to a live session
    step_up_without_password: tuple[str, ...] | None = None  # ... when that session had no password


def _certificate(key: str) -> Proof:  # "hwk": the key is on a token or smart card; "swk": in a file
    return Proof(LOA3, after_password=("pwd", key, "mfa"), alone=(key,), step_up=(key, "mfa"),
                 step_up_without_password=(key,))


#: Every proof the login flow (:mod:`.login_flow`) accepts, by name.
PROOFS = {
    "password": Proof(LOA1, alone=("pwd",)),
    "remembered_browser": Proof(LOA2, after_password=("pwd", "mfa")),
    "otp": Proof(LOA2, after_password=("pwd", "otp", "mfa"), step_up=("pwd", "otp", "mfa")),  # or a recovery code
    "passkey": Proof(LOA2, after_password=("pwd", "hwk", "mfa"), alone=("hwk", "mfa"), step_up=("hwk", "mfa")),
    "hwk": _certificate("hwk"),
    "swk": _certificate("swk"),
    # An upstream identity provider (VNeID, DVCQG, Zalo): its acr is the one its profile maps the
    # upstream's level to (:mod:`.upstream.profiles`), never above loa:2; this one is the floor.
    "fed": Proof(LOA1, alone=("fed",)),
}


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
