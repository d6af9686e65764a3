"""Token introspection (RFC 7662), client authentication required.

A client may introspect the tokens issued to it; a resource server registered with
``introspection_allowed`` may introspect any. Everything else is ``{"active": false}``.
"""
from __future__ import annotations

from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from flask import current_app

from ..clock import now
from .clients import AUTH_METHODS
from .lookup import live_access_token, refresh_token_record
from .tokens import epoch


class TokenView:
    """What introspection and revocation need to know about a presented token."""

    def __init__(self, kind, grant, record, claims=None):
        self.kind, self.grant, self.record, self.claims = kind, grant, record, claims or {}

    def check_client(self, client):
        return self.grant.client_id == client.client_id

    def is_expired(self):
        return self.record.expires_at <= now()

    def is_revoked(self):
        return (self.grant.revoked_at is not None or self.record.revoked_at is not None
                or (self.kind == "refresh_token" and self.record.rotated_at is not None))


def find_token(value, hint):
    moment = now()
    app = current_app
    order = ("refresh_token", "access_token") if hint == "refresh_token" else ("access_token", "refresh_token")
    for kind in order:
        if kind == "access_token":
            found = live_access_token(value, app.extensions["idp.keys"], app.config["IDP_ISSUER"], moment)
            if found:
                claims, record = found
                return TokenView("access_token", record.grant, record, claims)
        else:
            record = refresh_token_record(value)
            if record is not None:
                return TokenView("refresh_token", record.grant, record)
    return None


class Introspection(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = [m for m in AUTH_METHODS if m != "none"]

    def query_token(self, token_string, token_type_hint):
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
        grant, record = token.grant, token.record
        body = {"active": True, "client_id": grant.client_id, "scope": getattr(record, "scope", None) or grant.scope,
                "token_type": "Bearer" if token.kind == "access_token" else "refresh_token",
                "exp": epoch(record.expires_at), "iat": epoch(record.issued_at),
                "iss": current_app.config["IDP_ISSUER"],
                "sub": token.claims.get("sub") or (grant.account.sub if grant.account_id else grant.client_id)}
        if token.kind == "access_token":
            body.update(jti=record.jti, aud=token.claims.get("aud"))
        if grant.auth_time is not None:
            body.update(auth_time=epoch(grant.auth_time), acr=grant.acr, amr=grant.amr)
        if grant.sid:
            body["sid"] = grant.sid
        if token.kind == "access_token" and grant.cnf_x5t:
            body["cnf"] = {"x5t#S256": grant.cnf_x5t}  # RFC 8705 §3.2
        return body
