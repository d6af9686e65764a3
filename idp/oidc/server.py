"""The Authlib authorization server, configured for MotID: grants, client authentication, endpoints."""
from __future__ import annotations

import json

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749.errors import InvalidClientError, OAuth2Error, UnsupportedGrantTypeError
from flask import Response, current_app

from ..clock import now
from .client_auth import ClientSecretJWT, PrivateKeyJWT
from .clients import SCOPES
from .dpop import ProofRefused
from .dpop_token import proof_for_token_request
from .grants.authorization_code import AuthorizationCodeGrant, PkceS256
from .device import DeviceEndpoint
from .grants.client_credentials import ClientCredentialsGrant
from .grants.device_code import DeviceCodeGrant
from .grants.refresh_token import RefreshTokenGrant
from .grants.token_exchange import TokenExchangeGrant
from .introspection import Introspection
from .mtls_auth import SelfSignedTlsClientAuth, TlsClientAuth
from .revocation import Revocation

NO_STORE = [("Cache-Control", "no-store"), ("Pragma", "no-cache")]


class UnsupportedGrantType(UnsupportedGrantTypeError):
    """RFC 6749 §5.2, with a fixed description: the offending value is never reflected."""

    def __init__(self):
        super().__init__(None)

    def get_error_description(self):
        return "The grant_type is not supported."


class Server(AuthorizationServer):
    def __init__(self, clients):
        super().__init__()
        self._clients = clients

    def query_client(self, client_id):
        return self._clients.cached(client_id)

    def authenticate_client(self, request, methods, endpoint="token"):
        # Authlib decodes HTTP Basic credentials as UTF-8 and raises on other bytes (RFC 6749 §2.3.1:
        # they are form-encoded UTF-8), and builds errors that refuse control characters: both are
        # malformed credentials, not a server failure.
        try:
            return super().authenticate_client(request, methods, endpoint)
        except (UnicodeError, ValueError):
            raise InvalidClientError(description="The client credentials are malformed.") from None

    def create_token_response(self, request=None):
        """RFC 9449 §5: the DPoP proof is checked before any grant runs; nonces go back in ``DPoP-Nonce``."""
        moment = now()
        try:
            proof = proof_for_token_request(moment)
        except ProofRefused as refused:
            return self.handle_response(400, {"error": refused.error, "error_description": refused.description},
                                        [("Content-Type", "application/json")]
                                        + ([("DPoP-Nonce", refused.nonce)] if refused.nonce else []))
        response = super().create_token_response(request)
        dpop = current_app.extensions["idp.dpop"]
        if proof is not None and dpop.require_nonce:
            response.headers["DPoP-Nonce"] = dpop.nonce(moment)
        return response

    def get_token_grant(self, request):
        try:
            return super().get_token_grant(request)
        except OAuth2Error as error:  # Authlib echoes grant_type into the description, control characters too
            if error.error == "unsupported_grant_type":
                raise UnsupportedGrantType() from None
            raise

    def save_token(self, token, request):
        """Tokens are stored by the grants themselves, under their grant row."""

    def handle_error_response(self, request, error):
        # RFC 6749 §5.2 allows 401 for invalid_client; MotID always uses it, however the client authenticated.
        if error.error == "invalid_client":
            error.status_code = 401
        elif error.error == "unsupported_token_type":  # RFC 7009 §2.2.1 uses RFC 6749 §5.2: 400
            error.status_code = 400
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
    server.register_client_auth_method("tls_client_auth", TlsClientAuth())
    server.register_client_auth_method("self_signed_tls_client_auth", SelfSignedTlsClientAuth())
    server.register_grant(AuthorizationCodeGrant, [PkceS256(required=True)])
    server.register_grant(RefreshTokenGrant)
    server.register_grant(ClientCredentialsGrant)
    server.register_grant(DeviceCodeGrant)
    server.register_endpoint(DeviceEndpoint)
    server.register_grant(TokenExchangeGrant)
    server.register_endpoint(Introspection)
    server.register_endpoint(Revocation)
    return server
