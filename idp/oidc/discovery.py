"""OpenID Provider metadata (OIDC Discovery 1.0 §3, RFC 8414): exactly what is implemented."""
from __future__ import annotations

from flask import current_app, url_for

from ..accounts.assurance import SUPPORTED as ACR_VALUES
from ..keys import ALGORITHMS
from .claims import CLAIMS_SUPPORTED
from .clients import AUTH_METHODS, GRANT_TYPES, SCOPES
from .pairwise import SUBJECT_TYPES
from .dpop import ALGORITHMS as DPOP_ALGORITHMS


def metadata() -> dict:
    issuer = current_app.config["IDP_ISSUER"]

    def endpoint(name: str) -> str:
        return issuer + url_for(name)

    auth_methods = list(AUTH_METHODS)
    return {
        "issuer": issuer,
        "authorization_endpoint": endpoint("oidc.authorize"),
        "token_endpoint": endpoint("oidc.token"),
        "userinfo_endpoint": endpoint("oidc.userinfo"),
        "jwks_uri": endpoint("oidc.jwks"),
        "registration_endpoint": endpoint("registration.register"),
        "introspection_endpoint": endpoint("oidc.introspect"),
        "revocation_endpoint": endpoint("oidc.revoke"),
        "end_session_endpoint": endpoint("oidc.end_session"),
        "device_authorization_endpoint": endpoint("device.authorize"),
        "frontchannel_logout_supported": True,
        "frontchannel_logout_session_supported": True,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "scopes_supported": list(SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "grant_types_supported": list(GRANT_TYPES),
        "subject_types_supported": list(SUBJECT_TYPES),
        "id_token_signing_alg_values_supported": list(ALGORITHMS),
        "userinfo_signing_alg_values_supported": list(ALGORITHMS),
        "request_object_signing_alg_values_supported": ["RS256", "ES256", "none"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": ["HS256", "RS256", "ES256"],
        "introspection_endpoint_auth_methods_supported": [m for m in auth_methods if m != "none"],
        "introspection_endpoint_auth_signing_alg_values_supported": ["HS256", "RS256", "ES256"],
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_signing_alg_values_supported": ["HS256", "RS256", "ES256"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": CLAIMS_SUPPORTED,
        "claims_parameter_supported": True,
        "request_parameter_supported": True,
        "request_uri_parameter_supported": True,
        "require_request_uri_registration": False,
        "pushed_authorization_request_endpoint": endpoint("oidc.par"),  # RFC 9126 §5
        "require_pushed_authorization_requests": bool(current_app.config["IDP_REQUIRE_PAR"]),
        "authorization_response_iss_parameter_supported": True,
        "acr_values_supported": list(ACR_VALUES),
        "tls_client_certificate_bound_access_tokens": True,
        "dpop_signing_alg_values_supported": list(DPOP_ALGORITHMS),  # RFC 9449 §5.1
        "prompt_values_supported": ["none", "login", "consent", "select_account", "create"],
        "display_values_supported": ["page", "touch"],
        "ui_locales_supported": ["vi", "en"],
        "claims_locales_supported": ["vi"],
    }
