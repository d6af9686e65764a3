"""The pending login: between the password and the second factor there is only a signed note in the
UI cookie (account id, time, where to go next, whether enrolment is due), valid five minutes, never
an SSO session."""
from __future__ import annotations

from flask import session

from ...clock import now
from ...db import db
from ..models import Account

PENDING = "pending_login"  # ..rate_limits.second_factor_key counts per its account
PENDING_SECONDS = 300


def start(account: Account, next_url: str | None, *, enrol: bool = False) -> None:
    session[PENDING] = {"account": account.id, "at": int(now().timestamp()), "next": next_url, "enrol": enrol}


def note() -> dict | None:
    """The live note, or None (a stale or malformed one is dropped)."""
    value = session.get(PENDING)
    if not isinstance(value, dict) or now().timestamp() - value.get("at", 0) > PENDING_SECONDS:
        session.pop(PENDING, None)
        return None
    return value


def account() -> Account | None:
    value = note()
    return db.session.get(Account, value.get("account")) if value is not None else None


def raw() -> dict:
    """The note as it is (already checked by :func:`account` in this request), or ``{}``."""
    value = session.get(PENDING)
    return value if isinstance(value, dict) else {}


def drop() -> None:
    session.pop(PENDING, None)
