"""Client credentials grant (RFC 6749 §4.4): a confidential client acting for itself, for MotID or, with
a resource indicator (RFC 8707), for a service in its table (:mod:`..resources`).

Nothing is written: the token is a signed JWT without a grant (:mod:`..lookup` checks that its client
still exists and that its ``jti`` was not revoked), so issuing costs no database statement beyond
the client, which comes from the cache every node refreshes (:mod:`idp.versions`)."""
from __future__ import annotations

from types import SimpleNamespace

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidScopeError
from flask import current_app

from ...clock import now
from .. import resources
from ..clients import AUTH_METHODS
from ..dpop_token import RequiresRegisteredProof, binding as dpop_binding
from ..mtls import binding_for


class ClientCredentialsGrant(RequiresRegisteredProof, grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = [m for m in AUTH_METHODS if m != "none"]

    def create_token_response(self):
        client = self.request.client
        requested = (self.request.payload.scope or "").split()
        allowed = set(client.meta.get("scope", "").split()) - {"openid", "offline_access"}
        if not set(requested) <= allowed:
            raise InvalidScopeError("The requested scope is not allowed for this client.")
        scope = " ".join(requested) if requested else " ".join(sorted(allowed))
        # RFC 8707 §2: for another service, only one in the client's table, with the scopes it allows.
        target = resources.token_target(client.client_id, self.request.payload.datalist.get("resource"), None)
        scope = resources.narrowed_scope(client.client_id, target, scope, explicit=bool(requested))
        # RFC 8705 §3: bound to the certificate of this request (no person, so no session certificate).
        itself = SimpleNamespace(handle=None, client_id=client.client_id, account_id=None, scope=scope,
                                 auth_time=None, sid=None, cnf_x5t=binding_for(client, None),
                                 cnf_jkt=dpop_binding())
        issuer = current_app.extensions["idp.tokens"]
        body = issuer.response(client, itself, now=now(), refresh=False,
                               audience=resources.audience_claim(target, issuer.issuer))
        return 200, body, self.TOKEN_RESPONSE_HEADER
