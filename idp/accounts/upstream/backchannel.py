"""Back-channel logout from an upstream: OpenID Connect Back-Channel Logout 1.0 §2.5–2.8, MotID as the RP.

https://openid.net/specs/openid-connect-backchannel-1_0.html#Validation

The logout token is checked like an ID token (:func:`.id_token.signed_claims`: algorithm, key from the
upstream's JWKS, signature) → ``iss`` → ``aud`` → ``iat`` (not in the future, not older than
:data:`MAX_AGE`) → ``exp`` when present → ``events`` → ``sid`` and/or ``sub`` → no ``nonce`` → ``jti``
consumed once (a primary key). Then every MotID session that upstream session (or, with only ``sub``,
that upstream subject) opened ends through the sessions service, which tells every application.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ... import events
from ...db import db
from ..models import SsoSession
from . import id_token
from .discovery import cache
from .errors import TokenRejected, UpstreamError
from .flow import provider_named
from .models import UpstreamLogoutToken, UpstreamSession
from .profiles import PROFILES

EVENT = "http://schemas.openid.net/event/backchannel-logout"
MAX_AGE = timedelta(minutes=10)  # §2.6: an old iat may be rejected; the jti is kept as long


def logout(name: str, token, *, now) -> int:
    """Verify ``token`` from upstream ``name`` and end the sessions it names; how many ended. Raises an
    :class:`UpstreamError` (recorded as ``account:upstream:reject``) for anything to refuse."""
    try:
        provider = provider_named(name)
        if not PROFILES[provider.profile].openid:
            raise TokenRejected(f"{provider.name} has no OpenID logout")
        metadata = cache().metadata(provider)
        claims = id_token.signed_claims(
            token, algorithms=PROFILES[provider.profile].algorithms, what="logout_token",
            keys=lambda refresh: cache().keys(provider, metadata, refresh=refresh))
        expires = check(claims, issuer=provider.issuer, client_id=provider.client_id, now=now)
        _consume(provider.name, claims["jti"], expires)
    except UpstreamError as exc:
        db.session.rollback()
        events.record("account:upstream:reject", now=now, details={
            "provider": str(name)[:40], "error": exc.code, "reason": exc.reason[:300], "logout": "backchannel"})
        db.session.commit()
        raise
    return _end_sessions(provider.name, claims.get("sid"), claims.get("sub"), now=now)


def check(claims: dict, *, issuer: str, client_id: str, now: datetime) -> datetime:
    """The claim checks of §2.6 (the signature already verified); when the ``jti`` may be forgotten."""
    id_token.check_issuer_and_audience(claims, issuer=issuer, client_id=client_id, what="logout_token")
    moment, skew = now.timestamp(), id_token.SKEW.total_seconds()
    iat, exp = claims.get("iat"), claims.get("exp")
    if not id_token.number(iat) or iat > moment + skew or iat < moment - MAX_AGE.total_seconds() - skew:
        raise TokenRejected("logout_token iat missing, in the future or too old")
    if exp is not None and (not id_token.number(exp) or exp <= moment - skew):
        raise TokenRejected("logout_token expired")
    event = claims.get("events")
    if not isinstance(event, dict) or not isinstance(event.get(EVENT), dict):
        raise TokenRejected("logout_token events has no back-channel logout event")
    sid, sub = claims.get("sid"), claims.get("sub")
    if (sid is None and sub is None) or any(value is not None and not _text(value) for value in (sid, sub)):
        raise TokenRejected("logout_token names neither a sid nor a sub")
    if "nonce" in claims:
        raise TokenRejected("logout_token carries a nonce")
    if not _text(claims.get("jti")):
        raise TokenRejected("logout_token jti missing")
    return datetime.fromtimestamp(max(iat + MAX_AGE.total_seconds() + skew, exp or 0), timezone.utc)


def _text(value) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 255


def _consume(provider: str, jti: str, expires: datetime) -> None:
    """One insert against the primary key: a token seen before fails here, whatever the race."""
    try:
        with db.session.begin_nested():
            db.session.add(UpstreamLogoutToken(provider=provider, jti=jti, expires_at=expires))
    except IntegrityError:
        raise TokenRejected("logout_token jti already used") from None


def _end_sessions(provider: str, sid: str | None, sub: str | None, *, now) -> int:
    query = (select(SsoSession).join(UpstreamSession, UpstreamSession.sso_session_id == SsoSession.id)
             .where(UpstreamSession.provider == provider, SsoSession.ended_at.is_(None)))
    if sid is not None:
        query = query.where(UpstreamSession.upstream_sid == sid)
    if sub is not None:
        query = query.where(UpstreamSession.subject == sub)
    rows = list(db.session.scalars(query))
    events.record("account:upstream:logout", now=now,
                  details={"provider": provider, "sessions": len(rows), "logout": "backchannel"})
    ended = current_app.extensions["idp.sessions"].end_sessions(rows, "upstream_logout", now=now)
    db.session.commit()
    return ended
