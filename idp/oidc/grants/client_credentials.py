"""Client credentials grant (RFC 6749 §4.4): a confidential client acting for itself."""
from __future__ import annotations

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidScopeError
from flask import current_app

from ...clock import now
from ...db import db
from ..clients import AUTH_METHODS
from ..models import Grant
from ..mtls import binding_for


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = [m for m in AUTH_METHODS if m != "none"]

    def create_token_response(self):
        client = self.request.client
        requested = (self.request.payload.scope or "").split()
        allowed = set(client.meta.get("scope", "").split()) - {"openid", "offline_access"}
        if not set(requested) <= allowed:
            raise InvalidScopeError("The requested scope is not allowed for this client.")
        scope = " ".join(requested) if requested else " ".join(sorted(allowed))
        moment = now()
        # RFC 8705 §3: bound to the certificate of this request (no person, so no session certificate).
        grant = Grant(client_id=client.client_id, scope=scope, created_at=moment,
                      cnf_x5t=binding_for(client, None))
        db.session.add(grant)
        db.session.flush()
        body = current_app.extensions["idp.tokens"].response(client, grant, now=moment, refresh=False)
        db.session.commit()
        return 200, body, self.TOKEN_RESPONSE_HEADER
