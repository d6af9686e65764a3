"""Interoperability with Authlib's own OAuth 2.0 client (``authlib.integrations.requests_client``)
against the live server: authorization code + PKCE S256 with ``client_secret_basic`` and with
``private_key_jwt`` (``authlib.oauth2.rfc7523.PrivateKeyJWT``), the ID token verified against the
published JWKS with Authlib's ``CodeIDToken`` rules, UserInfo, refresh rotation, introspection and
revocation."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from authlib.oidc.core import CodeIDToken
from joserfc import jwk, jwt

from tests.interop.conftest import EMAIL, FULL_NAME, HTTP_TIMEOUT, SCOPE


def verify_id_token(id_token: str, meta: dict, client_id: str, *, nonce=None, access_token=None) -> dict:
    """What Authlib's OpenID client does (``parse_id_token``): signature against the JWKS, then the
    OIDC Core §3.1.3.7 claim rules (iss, aud, azp, exp, iat, nonce, at_hash)."""
    keys = jwk.KeySet.import_key_set(requests.get(meta["jwks_uri"], timeout=HTTP_TIMEOUT).json())
    decoded = jwt.decode(id_token, keys, algorithms=meta["id_token_signing_alg_values_supported"])
    options = {"iss": {"essential": True, "value": meta["issuer"]}, "aud": {"essential": True, "value": client_id},
               "sub": {"essential": True}, "exp": {"essential": True}, "iat": {"essential": True}}
    params = {"client_id": client_id, "nonce": nonce}
    if access_token:
        params["access_token"] = access_token
    claims = CodeIDToken(decoded.claims, decoded.header, options, params)
    claims.validate(leeway=30)
    return dict(claims)


def _session(client, meta, **kwargs) -> OAuth2Session:
    return OAuth2Session(client.client_id, kwargs.pop("client_secret", client.secret), scope=SCOPE,
                         redirect_uri=client.redirect_uri, code_challenge_method="S256",
                         default_timeout=HTTP_TIMEOUT, **kwargs)


def _full_flow(session: OAuth2Session, client, live_server, meta, browser_login):
    code_verifier = generate_token(48)
    nonce = generate_token(20)
    url, state = session.create_authorization_url(meta["authorization_endpoint"], code_verifier=code_verifier,
                                                  nonce=nonce)
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"]

    callback = browser_login(url, client.redirect_uri)
    params = {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}
    assert "code" in params, f"authorization error: {params}\n{live_server.log_tail()}"
    # RFC 9207 §2.4: Authlib's client leaves the iss check to the application; do it as an RP must.
    assert params["iss"] == meta["issuer"] and params["state"] == state

    token = session.fetch_token(meta["token_endpoint"], authorization_response=callback, state=state,
                                code_verifier=code_verifier)
    assert token["token_type"].lower() == "bearer" and token["refresh_token"] and token["expires_in"] > 0
    assert set(token["scope"].split()) == set(SCOPE.split())
    claims = verify_id_token(token["id_token"], meta, client.client_id, nonce=nonce,
                             access_token=token["access_token"])
    assert claims["sub"] == live_server.sub and claims["at_hash"] and claims["azp"] == client.client_id

    info = session.get(meta["userinfo_endpoint"])
    assert info.status_code == 200, info.text
    assert info.json()["sub"] == live_server.sub and info.json()["email"] == EMAIL
    assert info.json()["name"] == FULL_NAME and info.json()["email_verified"] is True

    # Refresh (RFC 6749 §6): both tokens rotate; a new ID token keeps iss, sub, aud, auth_time (OIDC Core §12.2).
    first = dict(token)
    refreshed = session.refresh_token(meta["token_endpoint"], refresh_token=first["refresh_token"])
    assert refreshed["access_token"] != first["access_token"]
    assert refreshed["refresh_token"] and refreshed["refresh_token"] != first["refresh_token"]
    if "id_token" in refreshed:
        again = verify_id_token(refreshed["id_token"], meta, client.client_id, access_token=refreshed["access_token"])
        assert again["sub"] == claims["sub"] and again["auth_time"] == claims["auth_time"]
    assert session.get(meta["userinfo_endpoint"]).json()["sub"] == live_server.sub

    # Introspection (RFC 7662) of the live tokens and of the rotated refresh token.
    def introspect(value, hint):
        response = session.introspect_token(meta["introspection_endpoint"], token=value, token_type_hint=hint)
        assert response.status_code == 200, response.text
        return response.json()

    access = introspect(refreshed["access_token"], "access_token")
    assert access["active"] is True and access["sub"] == live_server.sub and access["client_id"] == client.client_id
    assert introspect(refreshed["refresh_token"], "refresh_token")["active"] is True
    assert introspect(first["refresh_token"], "refresh_token") == {"active": False}

    # Revocation (RFC 7009) of the refresh token ends its family, access tokens included.
    response = session.revoke_token(meta["revocation_endpoint"], token=refreshed["refresh_token"],
                                    token_type_hint="refresh_token")
    assert response.status_code == 200, response.text
    assert introspect(refreshed["refresh_token"], "refresh_token") == {"active": False}
    assert introspect(refreshed["access_token"], "access_token") == {"active": False}
    assert session.get(meta["userinfo_endpoint"]).status_code == 401
    with pytest.raises(OAuthError) as failed:
        session.refresh_token(meta["token_endpoint"], refresh_token=refreshed["refresh_token"])
    assert failed.value.error == "invalid_grant"


def test_client_secret_basic_with_pkce(live_server, browser_login):
    meta = live_server.metadata()
    client = live_server.clients["authlib_basic"]
    assert "client_secret_basic" in meta["token_endpoint_auth_methods_supported"]
    session = _session(client, meta, token_endpoint_auth_method="client_secret_basic")
    _full_flow(session, client, live_server, meta, browser_login)


def test_private_key_jwt_with_pkce(live_server, browser_login):
    meta = live_server.metadata()
    client = live_server.clients["authlib_private_key_jwt"]
    assert "RS256" in meta["token_endpoint_auth_signing_alg_values_supported"]
    private_key = jwk.RSAKey.import_key(client.private_jwk)
    session = _session(client, meta, client_secret=private_key, token_endpoint_auth_method="private_key_jwt",
                       revocation_endpoint_auth_method="private_key_jwt")
    # Authlib signs the assertion with RS256 and aud = the token endpoint (RFC 7523 §3), without a kid.
    session.register_client_auth_method(PrivateKeyJWT(meta["token_endpoint"], alg="RS256"))
    _full_flow(session, client, live_server, meta, browser_login)
