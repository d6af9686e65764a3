"""Refresh token grant (RFC 6749 §6) with rotation on every use (RFC 9700 §4.14.2).

The presented token is rotated by one conditional UPDATE; presenting an already rotated token is
treated as theft and revokes the whole family (the grant). There is no grace window: of two
concurrent requests with the same token exactly one succeeds and the other revokes the family,
which the client recovers from by a new authorization. The grant is locked before the token
(:mod:`.family`), so a refresh racing a revocation gets a protocol answer, never a deadlock.
"""
from __future__ import annotations

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidRequestError, InvalidScopeError
from flask import current_app
from sqlalchemy import update

from ...clock import now
from ...db import db
from ...security import digest
from ..clients import AUTH_METHODS
from ..models import RefreshToken
from .family import lock_grant, revoke_grant


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = list(AUTH_METHODS)
    INCLUDE_NEW_REFRESH_TOKEN = True

    def _validate_request_token(self, client):
        value = self.request.form.get("refresh_token")
        if not value:
            raise InvalidRequestError("Missing 'refresh_token' in request.")
        if not isinstance(value, str) or len(value) > 200:
            raise InvalidGrantError("The refresh token is not valid.")
        moment = now()
        row = db.session.get(RefreshToken, digest(value))
        # Bound to its client: another client's request neither succeeds nor rotates it.
        if row is None or row.grant.client_id != client.client_id:
            raise InvalidGrantError("The refresh token is not valid.")
        grant = lock_grant(row.grant_id)  # first the grant, then its tokens (see .family)
        if grant is None:
            raise InvalidGrantError("The refresh token is not valid.")
        rotated = db.session.execute(
            update(RefreshToken)
            .where(RefreshToken.digest == row.digest, RefreshToken.rotated_at.is_(None),
                   RefreshToken.revoked_at.is_(None), RefreshToken.expires_at > moment)
            .values(rotated_at=moment)
        ).rowcount
        if rotated != 1:
            db.session.refresh(row)  # as stored, not as the UPDATE's in-session evaluation left it
            if row.rotated_at is not None:  # presented again after rotation: assume theft
                revoke_grant(row.grant_id, "refresh_token_reuse", moment)
            db.session.commit()
            raise InvalidGrantError("The refresh token is not valid.")
        if grant.revoked_at is not None:  # as stored now: a revocation may have committed since the read
            db.session.commit()
            raise InvalidGrantError("The refresh token is not valid.")
        return row

    def _validate_token_scope(self, token):
        scope = self.request.payload.scope
        if scope and not set(scope.split()) <= set(token.grant.scope.split()):
            raise InvalidScopeError("The requested scope exceeds the granted scope.")

    def create_token_response(self):
        client, token = self.request.client, self.request.refresh_token
        grant = token.grant
        if grant.account is not None and grant.account.status == "disabled":
            db.session.commit()
            raise InvalidGrantError("The account behind this token is not available.")
        moment = now()
        issuer = current_app.extensions["idp.tokens"]
        body = issuer.response(client, grant, now=moment, refresh=True, scope=self.request.payload.scope,
                               id_token="openid" in grant.scope.split() and grant.account is not None)
        db.session.commit()
        return 200, body, self.TOKEN_RESPONSE_HEADER
