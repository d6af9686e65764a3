"""The Authlib authorization server, configured for MotID: grants, client authentication, endpoints."""
from __future__ import annotations

import json

from authlib.integrations.flask_oauth2 import AuthorizationServer
from flask import Response

from .client_auth import ClientSecretJWT, PrivateKeyJWT
from .clients import SCOPES
from .grants.authorization_code import AuthorizationCodeGrant, PkceS256
from .grants.client_credentials import ClientCredentialsGrant
from .grants.refresh_token import RefreshTokenGrant
from .introspection import Introspection
from .revocation import Revocation

NO_STORE = [("Cache-Control", "no-store"), ("Pragma", "no-cache")]


class Server(AuthorizationServer):
    def __init__(self, clients):
        super().__init__()
        self._clients = clients

    def query_client(self, client_id):
        return self._clients.get(client_id)

    def save_token(self, token, request):
        """Tokens are stored by the grants themselves, under their grant row."""

    def handle_error_response(self, request, error):
        # RFC 6749 §5.2 allows 401 for invalid_client; MotID always uses it, however the client authenticated.
        if error.error == "invalid_client":
            error.status_code = 401
        return super().handle_error_response(request, error)

    def handle_response(self, status_code, payload, headers):
        if isinstance(payload, dict):
            payload = json.dumps(payload)
        headers = [h for h in headers if h[0].lower() not in ("cache-control", "pragma")] + NO_STORE
        return Response(payload, status=status_code, headers=headers)


def build_server(app, clients) -> Server:
    server = Server(clients)
    server.init_app(app)
    server.scopes_supported = list(SCOPES)
    server.register_client_auth_method("client_secret_jwt", ClientSecretJWT())
    server.register_client_auth_method("private_key_jwt", PrivateKeyJWT())
    server.register_grant(AuthorizationCodeGrant, [PkceS256(required=True)])
    server.register_grant(RefreshTokenGrant)
    server.register_grant(ClientCredentialsGrant)
    server.register_endpoint(Introspection)
    server.register_endpoint(Revocation)
    return server
