"""What the OpenID Provider keeps and for how long (:mod:`idp.retention` deletes the rest, in batches).

Used ``jti`` values go minutes after they expire (:func:`.client_auth.purge_spent_jtis`, one a DPoP request).
Rotated refresh tokens stay until they expire (plus the retention): presenting one again is how a stolen
token is detected (:mod:`.grants.refresh_token`). A grant goes when it was revoked, or when it is older than
the cutoff and none of its refresh tokens is left (its last access token expired long before: the
configuration keeps ``IDP_RETENTION_EXPIRED_DAYS`` longer than an access token's lifetime).
"""
from __future__ import annotations

from sqlalchemy import exists, select

from .. import retention
from .models import (AuthorizationCode, Grant, InitialAccessToken, LogoutDelivery, RefreshToken,
                     SessionClient)


def _dead_grant(t, cutoff):
    tokens = RefreshToken.__table__
    return (t.c.revoked_at < cutoff) | ((t.c.created_at < cutoff) & ~exists(
        select(tokens.c.digest).where(tokens.c.grant_id == t.c.id)))


def init_app(app) -> None:
    expired = lambda t, cutoff: t.c.expires_at < cutoff  # noqa: E731
    retention.rule(app, "oidc_codes", AuthorizationCode.__table__, expired)
    retention.rule(app, "oidc_refresh_tokens", RefreshToken.__table__,
                   lambda t, cutoff: (t.c.expires_at < cutoff) | (t.c.revoked_at < cutoff))
    retention.rule(app, "oidc_grants", Grant.__table__, _dead_grant)  # after their refresh tokens
    retention.rule(app, "oidc_initial_access_tokens", InitialAccessToken.__table__, expired)
    retention.rule(app, "oidc_session_clients", SessionClient.__table__, lambda t, cutoff: t.c.last_at < cutoff,
                   "IDP_RETENTION_SESSION_DAYS")
    retention.rule(app, "oidc_logout_outbox", LogoutDelivery.__table__,
                   lambda t, cutoff: (t.c.delivered_at < cutoff) | (t.c.failed_at < cutoff),
                   "IDP_RETENTION_OUTBOX_DAYS")
