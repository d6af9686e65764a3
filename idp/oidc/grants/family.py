"""A grant and everything issued under it: one token family (RFC 9700 §4.14.2), ended as one.

Lock order: a transaction that changes a family's tokens locks the grant row first
(:func:`lock_grant`, ``FOR NO KEY UPDATE``: the lock an UPDATE of the grant takes, which does not
block the foreign-key checks of new tokens), and only then token rows. Without this order a refresh
that lost the rotation race keeps the refresh token's row lock (PostgreSQL locks the newest version
of a row it re-checks under READ COMMITTED, even when the row no longer matches) and then waits for
the grant, while a revocation holds the grant and waits for that refresh token: a deadlock, which
the database breaks by failing one of the requests. SQLite runs one writer at a time and ignores
the clause.
"""
from __future__ import annotations

from sqlalchemy import select, update

from ...db import db
from ..models import Grant, RefreshToken


def lock_grant(grant_id) -> Grant | None:
    """Lock the grant for the rest of the transaction and return it as stored now."""
    if grant_id is None:
        return None
    return db.session.execute(
        select(Grant).where(Grant.id == grant_id).with_for_update(key_share=True, of=Grant)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def revoke_grant(grant_id, reason: str, moment) -> None:
    """End a grant and everything issued under it (caller commits): its access tokens die with it, since
    they name the grant (``gid``) and every check reads its ``revoked_at``."""
    if lock_grant(grant_id) is None:
        return
    db.session.execute(update(Grant).where(Grant.id == grant_id, Grant.revoked_at.is_(None))
                       .values(revoked_at=moment, revoke_reason=reason))
    db.session.execute(update(RefreshToken).where(RefreshToken.grant_id == grant_id,
                                                  RefreshToken.revoked_at.is_(None)).values(revoked_at=moment))
