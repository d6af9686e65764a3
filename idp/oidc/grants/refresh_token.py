"""Refresh token grant (RFC 6749 §6) with rotation on every use (RFC 9700 §4.14.2).

The presented token is rotated by one conditional UPDATE; presenting an already rotated token is
treated as theft and revokes the whole family (the grant). There is no grace window: of two
concurrent requests with the same token exactly one succeeds and the other revokes the family,
which the client recovers from by a new authorization. The grant is locked before the token
(:mod:`.family`), so a refresh racing a revocation gets a protocol answer, never a deadlock.

The hot path is three statements in one transaction, none through the ORM's unit of work: the grant
(locked) with the token's client and the account's ``sub`` and status, the rotating UPDATE, and the
INSERT of the new refresh token. The access token is not stored (:mod:`..tokens`).
"""
from __future__ import annotations

from types import SimpleNamespace

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidRequestError, InvalidScopeError, OAuth2Error
from flask import current_app
from sqlalchemy import bindparam, select, update

from ... import metrics
from ...accounts.models import Account
from ...clock import now
from ...db import db
from ...security import digest
from .. import resources
from ..clients import AUTH_METHODS
from ..dpop_token import RequiresRegisteredProof, refresh_binding
from ..models import Grant, RefreshToken
from .family import revoke_grant

GRANTS, TOKENS, ACCOUNTS = Grant.__table__.c, RefreshToken.__table__.c, Account.__table__.c
# Built once: the hot path binds values only (pure Core on the session's connection, no ORM layer).
FAMILY = (
    select(GRANTS.id, GRANTS.handle, GRANTS.client_id, GRANTS.account_id, GRANTS.sid, GRANTS.scope, GRANTS.claims,
           GRANTS.auth_time, GRANTS.acr, GRANTS.amr, GRANTS.revoked_at, GRANTS.cnf_x5t, GRANTS.resources, GRANTS.cnf_jkt,
           ACCOUNTS.sub.label("sub"), ACCOUNTS.status.label("account_status"))
    .select_from(Grant.__table__.join(RefreshToken.__table__, TOKENS.grant_id == GRANTS.id)
                 .outerjoin(Account.__table__, ACCOUNTS.id == GRANTS.account_id))
    .where(TOKENS.digest == bindparam("digest"))
    .with_for_update(key_share=True, of=Grant.__table__)
)
ROTATE = (update(RefreshToken.__table__)
          .where(TOKENS.digest == bindparam("presented"), TOKENS.rotated_at.is_(None), TOKENS.revoked_at.is_(None),
                 TOKENS.expires_at > bindparam("moment"))
          .values(rotated_at=bindparam("moment")))
ROTATED_AT = select(TOKENS.rotated_at).where(TOKENS.digest == bindparam("digest"))


class RefreshTokenGrant(RequiresRegisteredProof, grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = list(AUTH_METHODS)
    INCLUDE_NEW_REFRESH_TOKEN = True

    def _validate_request_token(self, client):
        value = self.request.form.get("refresh_token")
        if not value:
            raise InvalidRequestError("Missing 'refresh_token' in request.")
        if not isinstance(value, str) or len(value) > 200:
            raise InvalidGrantError("The refresh token is not valid.")
        moment = now()
        token_digest = digest(value)
        connection = db.session.connection()
        # First the grant, locked (see .family), with what the response needs.
        grant = connection.execute(FAMILY, {"digest": token_digest}).first()
        # Bound to its client: another client's request neither succeeds nor rotates it.
        if grant is None or grant.client_id != client.client_id:
            db.session.rollback()
            raise InvalidGrantError("The refresh token is not valid.")
        try:  # before rotating: a token stolen without its DPoP key is not even spent
            self.cnf_jkt = refresh_binding(client, grant.cnf_jkt)
        except InvalidGrantError:
            db.session.rollback()
            raise
        rotated = connection.execute(ROTATE, {"presented": token_digest, "moment": moment}).rowcount
        if rotated != 1:
            rotated_at = connection.execute(ROTATED_AT, {"digest": token_digest}).scalar()
            if rotated_at is not None:  # presented again after rotation: assume theft
                revoke_grant(grant.id, "refresh_token_reuse", moment)
                metrics.count("refresh_token_reuse")
            db.session.commit()
            raise InvalidGrantError("The refresh token is not valid.")
        if grant.revoked_at is not None:  # as stored now, under the lock
            db.session.commit()
            raise InvalidGrantError("The refresh token is not valid.")
        return grant

    def _validate_token_scope(self, grant):
        scope = self.request.payload.scope
        if scope and not set(scope.split()) <= set(grant.scope.split()):
            raise InvalidScopeError("The requested scope exceeds the granted scope.")
        # RFC 8707 §2.2: a resource the authorization named (or, with none named, one in the client's
        # table). A refusal rolls the rotation back: the refresh token stays usable.
        client_id = self.request.client.client_id
        try:
            self.target = resources.token_target(client_id, self.request.payload.datalist.get("resource"),
                                                 grant.resources)
            self.scope = resources.narrowed_scope(client_id, self.target, scope or grant.scope,
                                                  explicit=bool(scope))
        except OAuth2Error:
            db.session.rollback()
            raise

    def create_token_response(self):
        client, row = self.request.client, self.request.refresh_token
        if row.account_id is not None and row.account_status == "disabled":
            db.session.commit()
            raise InvalidGrantError("The account behind this token is not available.")
        grant = SimpleNamespace(**{**row._asdict(), "cnf_jkt": self.cnf_jkt})
        issuer = current_app.extensions["idp.tokens"]
        body = issuer.response(client, grant, now=now(), refresh=True, scope=self.scope,
                               audience=resources.audience_claim(self.target, issuer.issuer),
                               id_token="openid" in grant.scope.split() and grant.account_id is not None,
                               sub=grant.sub if grant.account_id is not None else grant.client_id)
        db.session.commit()
        return 200, body, self.TOKEN_RESPONSE_HEADER
