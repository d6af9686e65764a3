"""Token revocation (RFC 7009), client authentication required.

Revoking a refresh token revokes its whole family (the grant) and so every access token issued
from it; revoking an access token revokes that token only.
"""
from __future__ import annotations

from authlib.oauth2.rfc7009 import RevocationEndpoint

from ..clock import now
from ..db import db
from .clients import AUTH_METHODS
from .grants.family import revoke_grant
from .introspection import find_token


class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = list(AUTH_METHODS)

    def query_token(self, token_string, token_type_hint):
        return find_token(token_string, token_type_hint)

    def revoke_token(self, token, request):
        moment = now()
        if token.kind == "refresh_token":
            revoke_grant(token.grant.id, "revoked_by_client", moment)
        else:
            token.record.revoked_at = moment
        db.session.commit()
