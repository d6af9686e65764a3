"""Remembered browsers: "remember this browser for 30 days" after a second factor. The cookie holds
a random token; the database keeps only its digest, so a dump cannot replay it."""
from __future__ import annotations

from datetime import timedelta

from .. import events
from ..db import db
from ..security import digest, new_token
from .models import Account, RememberedBrowser

COOKIE = "motid_rb"
DAYS = 30


def is_remembered(account: Account, token: str | None, *, now) -> bool:
    if not token or len(token) > 100:
        return False
    row = db.session.get(RememberedBrowser, digest(token))
    return (row is not None and row.account_id == account.id and row.revoked_at is None
            and row.expires_at > now)


def remember(account: Account, user_agent: str | None, *, now) -> str:
    """A new remembered browser; returns the token for its cookie."""
    token = new_token()
    db.session.add(RememberedBrowser(digest=digest(token), account_id=account.id, created_at=now,
                                     expires_at=now + timedelta(days=DAYS),
                                     user_agent=(user_agent or "")[:300] or None))
    events.record("account:browser:remember", subject=account, actor=account, now=now)
    db.session.commit()
    return token


def live(account: Account, *, now) -> list[RememberedBrowser]:
    return db.session.query(RememberedBrowser).filter_by(account_id=account.id, revoked_at=None).filter(
        RememberedBrowser.expires_at > now).all()


def forget_all(account: Account, *, now) -> None:
    """Every remembered browser of the account asks for the second factor again."""
    db.session.query(RememberedBrowser).filter_by(account_id=account.id, revoked_at=None).update(
        {"revoked_at": now})
    db.session.commit()
