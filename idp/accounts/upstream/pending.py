"""Logins sent upstream and not yet back (OAuth 2 ``state``, RFC 6749 §10.12): stored server-side,
keyed by the SHA-256 of ``state``, consumed by one atomic statement so that a replayed, unknown or
expired ``state`` fails, and two requests racing on one ``state`` cannot both win (DESIGN §Storage).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, update

from ...db import db
from ...security import digest, new_token
from .errors import StateInvalid
from .models import UpstreamLogin

LIFETIME = timedelta(minutes=10)  # long enough to find the phone with VNeID on it


@dataclass(frozen=True)
class Pending:
    provider: str
    nonce: str
    code_verifier: str
    acr_values: str | None
    next_url: str | None


def store(provider: str, *, code_verifier: str, acr_values: str | None, next_url: str | None, master_key,
          now) -> tuple[str, str]:
    """A new pending login; returns (state, nonce). Committed: the browser leaves for the upstream next."""
    state, nonce = new_token(), new_token()
    db.session.add(UpstreamLogin(
        state_digest=digest(state), provider=provider, nonce=nonce,
        code_verifier=master_key.encrypt(code_verifier.encode()), acr_values=acr_values, next_url=next_url,
        created_at=now, expires_at=now + LIFETIME))
    db.session.commit()
    return state, nonce


def consume(state, provider: str, *, master_key, now) -> Pending:
    """The pending login ``state`` names, marked used in the same statement that finds it."""
    if not isinstance(state, str) or not 20 <= len(state) <= 200:
        raise StateInvalid("state missing or malformed")
    statement = (update(UpstreamLogin)
                 .where(UpstreamLogin.state_digest == digest(state), UpstreamLogin.consumed_at.is_(None),
                        UpstreamLogin.expires_at > now)
                 .values(consumed_at=now)
                 .returning(UpstreamLogin.provider, UpstreamLogin.nonce, UpstreamLogin.code_verifier,
                            UpstreamLogin.acr_values, UpstreamLogin.next_url))
    row = db.session.execute(statement).first()
    db.session.commit()
    if row is None:
        raise StateInvalid("state unknown, used or expired")
    if row.provider != provider:  # a state from one provider's login brought to another's callback
        raise StateInvalid("state belongs to another provider")
    return Pending(row.provider, row.nonce, master_key.decrypt(row.code_verifier).decode(), row.acr_values,
                   row.next_url)


def purge(now) -> int:
    """Delete pending logins that expired (the worker's housekeeping)."""
    result = db.session.execute(delete(UpstreamLogin).where(UpstreamLogin.expires_at <= now))
    db.session.commit()
    return result.rowcount
