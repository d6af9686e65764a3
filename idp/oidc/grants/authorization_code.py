"""Authorization code grant (RFC 6749 §4.1) with PKCE S256 only (RFC 7636) and OIDC ID tokens.

Differences from Authlib's defaults, each tested:
- codes are stored as digests and consumed with one conditional UPDATE before anything else, so
  two racing requests can never both win; a replayed code revokes every token issued from it,
  also when the replay races the first redemption: the UPDATE's row lock is held until the grant
  and its tokens are committed with the code, so a concurrent replay waits, then finds the grant;
- PKCE ``plain`` is refused; PKCE is required for public clients and clients marked ``require_pkce``;
- ``auth_time`` is the time the person authenticated, not the time the code was made.
"""
from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidRequestError, OAuth2Error
from authlib.oauth2.rfc7636 import CodeChallenge
from flask import current_app, g
from sqlalchemy import bindparam, select, update

from ... import metrics
from ...accounts.models import Account
from ...clock import now
from ...db import db
from ...security import digest
from .. import resources
from ..clients import AUTH_METHODS
from ..dpop_token import RequiresRegisteredProof, binding as dpop_binding
from ..logout import record_sign_in
from ..mtls import binding_for
from ..models import AuthorizationCode, Grant, new_handle
from .family import revoke_grant  # also imported from here by idp.admin


class PkceS256(CodeChallenge):
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant, redirect_uri):
        payload = grant.request.payload
        client = grant.request.client
        if not payload.data.get("code_challenge") and (client.is_public or client.require_pkce):
            raise InvalidRequestError("This client must use PKCE: code_challenge (S256) is required.",
                                      redirect_uri=redirect_uri)
        if payload.data.get("code_challenge") and payload.data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256.", redirect_uri=redirect_uri)
        try:
            super().validate_code_challenge(grant, redirect_uri)
        except InvalidRequestError as error:
            error.redirect_uri = redirect_uri
            raise

    def get_authorization_code_challenge(self, authorization_code):
        return authorization_code.code_challenge

    def get_authorization_code_challenge_method(self, authorization_code):
        return authorization_code.code_challenge_method


CODES, GRANTS, ACCOUNTS = AuthorizationCode.__table__.c, Grant.__table__.c, Account.__table__.c
# Built once: the hot path binds values only (pure Core on the session's connection, no ORM layer).
CONSUME = (update(AuthorizationCode.__table__)
           .where(CODES.digest == bindparam("presented"), CODES.client_id == bindparam("client"),
                  CODES.used_at.is_(None), CODES.expires_at > bindparam("moment"))
           .values(used_at=bindparam("moment"))
           .returning(CODES.digest, CODES.account_id, CODES.sid, CODES.redirect_uri, CODES.scope, CODES.nonce,
                      CODES.code_challenge, CODES.code_challenge_method, CODES.auth_time, CODES.acr, CODES.amr,
                      CODES.claims, CODES.resources))
SPENT = select(CODES.grant_id).where(CODES.digest == bindparam("presented"), CODES.client_id == bindparam("client"),
                                     CODES.used_at.is_not(None))
ACCOUNT = select(ACCOUNTS.id, ACCOUNTS.sub, ACCOUNTS.status).where(ACCOUNTS.id == bindparam("account"))
NEW_GRANT = Grant.__table__.insert().returning(GRANTS.id)
LINK_CODE = (update(AuthorizationCode.__table__).where(CODES.digest == bindparam("presented"))
             .values(grant_id=bindparam("grant")))


class SpentCode(SimpleNamespace):
    """A consumed code's columns, with the methods Authlib reads."""

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope


class AuthorizationCodeGrant(RequiresRegisteredProof, grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = list(AUTH_METHODS)

    def save_authorization_code(self, code, request):
        session = g.sso_session
        payload = request.payload
        moment = now()
        db.session.add(AuthorizationCode(
            digest=digest(code), client_id=request.client.client_id, account_id=request.user.id, sid=session.sid,
            redirect_uri=payload.redirect_uri, scope=request.scope or payload.scope, nonce=payload.data.get("nonce"),
            code_challenge=payload.data.get("code_challenge"),
            code_challenge_method=payload.data.get("code_challenge") and "S256",
            auth_time=session.auth_time, acr=session.acr, amr=session.amr, claims=g.get("oidc_claims"),
            resources=g.get("oidc_resources") or None, created_at=moment,
            expires_at=moment + timedelta(seconds=current_app.config["IDP_CODE_SECONDS"]),
        ))
        record_sign_in(session.sid, request.client.client_id, moment)
        db.session.commit()

    def query_authorization_code(self, code, client):
        """Consume the code atomically (one ``UPDATE … RETURNING``); a second use revokes what the first
        produced.

        The winner does not commit here: its row lock on the code is held until
        :meth:`create_token_response` commits the grant with it (or :meth:`validate_token_request`
        commits the spent code alone). A concurrent replay's UPDATE waits for that lock, matches
        nothing, and then reads the committed ``grant_id`` and revokes it."""
        if not isinstance(code, str) or len(code) > 200:
            return None
        moment = now()
        code_digest = digest(code)
        connection = db.session.connection()
        params = {"presented": code_digest, "client": client.client_id}
        row = connection.execute(CONSUME, {**params, "moment": moment}).first()
        if row is None:
            spent = connection.execute(SPENT, params).first()
            if spent is not None:
                revoke_grant(spent.grant_id, "code_replay", moment)
                metrics.count("code_replays")
            db.session.commit()
            return None
        return SpentCode(**row._asdict())

    def validate_token_request(self):
        """Authlib's checks (client, code, redirect URI, PKCE) and ours; whatever fails once the code
        was read, the code stays spent (RFC 6749 §4.1.2: used once), and nothing else is written."""
        try:
            super().validate_token_request()
            code = self.request.authorization_code
            account = self.request.user = self.authenticate_user(code)
            if account is None or account.status == "disabled":
                raise InvalidGrantError("The account behind this code is not available.")
            self.cnf_x5t = binding_for(self.request.client, code.sid)
            # RFC 8707 §2.2: the token's audience, one of the authorized resources, and its scope for it.
            self.target = resources.token_target(self.request.client.client_id,
                                                 self.request.payload.datalist.get("resource"), code.resources)
            self.scope = resources.narrowed_scope(self.request.client.client_id, self.target, code.scope)
            self.cnf_jkt = dpop_binding()
        except OAuth2Error:
            db.session.commit()
            raise

    def delete_authorization_code(self, authorization_code):
        """Nothing to do: the code was consumed when it was read."""

    def authenticate_user(self, authorization_code):
        return db.session.connection().execute(ACCOUNT, {"account": authorization_code.account_id}).first()

    def create_token_response(self):
        """The grant, its tokens and the code's ``grant_id`` are committed together with the spent code."""
        client, code, account = self.request.client, self.request.authorization_code, self.request.user
        moment = now()
        values = {"handle": new_handle(), "client_id": client.client_id, "account_id": account.id, "sid": code.sid,
                  "scope": code.scope, "claims": code.claims, "auth_time": code.auth_time, "acr": code.acr,
                  "amr": code.amr, "created_at": moment, "cnf_x5t": self.cnf_x5t, "resources": code.resources,
                  "cnf_jkt": self.cnf_jkt}
        connection = db.session.connection()
        grant_id = connection.execute(NEW_GRANT, values).scalar_one()
        connection.execute(LINK_CODE, {"presented": code.digest, "grant": grant_id})
        grant = SimpleNamespace(id=grant_id, **values)
        issuer = current_app.extensions["idp.tokens"]
        scopes = code.scope.split()
        body = issuer.response(client, grant, now=moment, nonce=code.nonce, id_token="openid" in scopes, sub=account.sub,
                               scope=self.scope, audience=resources.audience_claim(self.target, issuer.issuer),
                               refresh=client.check_grant_type("refresh_token") and (
                                   "offline_access" in scopes or client.meta.get("refresh_token_online") is True))
        db.session.commit()
        return 200, body, self.TOKEN_RESPONSE_HEADER
