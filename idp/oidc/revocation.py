"""Token revocation (RFC 7009), client authentication required.

Revoking a refresh token revokes its whole family (the grant) and so every access token issued
from it; revoking an access token puts its ``jti`` on the revocation list until it expires.
"""
from __future__ import annotations

from datetime import datetime, timezone

from authlib.oauth2.rfc7009 import RevocationEndpoint

from ..clock import now
from ..db import db, insert
from .. import retention
from .clients import AUTH_METHODS
from .grants.family import revoke_grant
from .introspection import find_token
from .models import RevokedAccessToken


class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = list(AUTH_METHODS)

    def query_token(self, token_string, token_type_hint):
        return find_token(token_string, token_type_hint)

    def revoke_token(self, token, request):
        moment = now()
        if token.kind == "refresh_token":
            revoke_grant(token.record.grant_id, "revoked_by_client", moment)
        else:
            expires = datetime.fromtimestamp(token.access.claims["exp"], timezone.utc)
            db.session.execute(insert(RevokedAccessToken.__table__).values(
                jti=token.access.claims["jti"], revoked_at=moment, expires_at=expires,
            ).on_conflict_do_nothing())  # revoked twice, even at once: one row
        db.session.commit()


def purge_expired_revocations(moment) -> int:
    """Forget revoked access tokens that have expired anyway (``idp worker`` runs it with its housekeeping)."""
    table = RevokedAccessToken.__table__
    deleted = db.session.execute(table.delete().where(table.c.expires_at <= moment)).rowcount
    db.session.commit()
    return deleted


def init_app(app) -> None:
    retention.job(app, purge_expired_revocations)
