"""Token introspection (RFC 7662), client authentication required.

A client may introspect the tokens issued to it; a resource server registered with
``introspection_allowed`` may introspect any. Everything else is ``{"active": false}``.
"""
from __future__ import annotations

from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from flask import current_app

from ..clock import now
from ..db import autocommit_reads
from .clients import AUTH_METHODS
from .pairwise import subject_for
from .lookup import live_access_token, refresh_token_record
from .tokens import epoch


class TokenView:
    """What introspection and revocation need to know about a presented token: an access token's
    :class:`~.lookup.LiveAccess`, or a refresh token's row (with its grant)."""

    def __init__(self, kind, *, access=None, record=None):
        self.kind, self.access, self.record = kind, access, record

    @property
    def client_id(self) -> str:
        return self.access.client_id if self.access is not None else self.record.grant.client_id

    def check_client(self, client):
        return self.client_id == client.client_id

    def is_expired(self):
        return self.record is not None and self.record.expires_at <= now()  # live access tokens are unexpired

    def is_revoked(self):
        if self.record is None:
            return False  # a live access token is unrevoked
        return (self.record.grant.revoked_at is not None or self.record.revoked_at is not None
                or self.record.rotated_at is not None)


def find_token(value, hint):
    app = current_app
    order = ("refresh_token", "access_token") if hint == "refresh_token" else ("access_token", "refresh_token")
    for kind in order:
        if kind == "access_token":
            found = live_access_token(value, app.extensions["idp.keys"], app.config["IDP_ISSUER"], now())
            if found:
                return TokenView("access_token", access=found)
        else:
            record = refresh_token_record(value)
            if record is not None:
                return TokenView("refresh_token", record=record)
    return None


class Introspection(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = [m for m in AUTH_METHODS if m != "none"]

    def query_token(self, token_string, token_type_hint):
        autocommit_reads()  # introspection writes nothing
        return find_token(token_string, token_type_hint)

    def check_permission(self, token, client, request):
        return token.check_client(client) or bool(client.meta.get("introspection_allowed"))

    def authenticate_token(self, request, client):
        self.check_params(request, client)
        token = self.query_token(request.form["token"], request.form.get("token_type_hint"))
        if token is not None and not self.check_permission(token, client, request):
            return None  # RFC 7662 §2.2: no information about tokens the caller may not see
        return token

    def introspect_token(self, token):
        issuer = current_app.config["IDP_ISSUER"]
        if token.kind == "access_token":  # everything is in the verified claims
            claims = token.access.claims
            token_type = "DPoP" if token.access.cnf_jkt else "Bearer"  # RFC 9449 §6.2
            body = {"active": True, "token_type": token_type, "iss": issuer,
                    **{name: claims[name] for name in ("client_id", "scope", "exp", "iat", "sub", "jti", "aud",
                                                       "auth_time", "acr", "amr", "sid", "cnf", "act")
                       if name in claims}}
            return body
        grant, record = token.record.grant, token.record
        body = {"active": True, "client_id": grant.client_id, "scope": grant.scope, "token_type": "refresh_token",
                "exp": epoch(record.expires_at), "iat": epoch(record.issued_at), "iss": issuer,
                "sub": subject_for(grant.client_id, grant.account.sub) if grant.account_id else grant.client_id}
        if grant.auth_time is not None:
            body.update(auth_time=epoch(grant.auth_time), acr=grant.acr, amr=grant.amr)
        if grant.sid:
            body["sid"] = grant.sid
        return body
