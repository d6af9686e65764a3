"""Interoperability with openid-client v6 (Node.js, a certified OpenID relying-party library built on
oauth4webapi) against the live server: discovery, authorization code + PKCE S256, the RFC 9207
``iss`` check, ID token validation (signature, iss, aud, exp, nonce, at_hash), UserInfo, refresh
token rotation, introspection (RFC 7662) and revocation of a refresh token's family (RFC 7009)."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests.interop.conftest import EMAIL, FULL_NAME, SCOPE


def _start(node_rp, live_server, client) -> dict:
    payload = {"issuer": live_server.issuer, "client_id": client.client_id, "auth": client.auth_method,
               "private_jwk": client.private_jwk, "redirect_uri": client.redirect_uri, "scope": SCOPE}
    started = node_rp({**payload, "step": "start"})
    query = {k: v[0] for k, v in parse_qs(urlsplit(started["authorization_url"]).query).items()}
    assert started["authorization_url"].startswith(live_server.issuer + "/authorize?")
    assert query["code_challenge_method"] == "S256" and query["client_id"] == client.client_id
    assert query["state"] == started["state"] and query["nonce"] == started["nonce"]
    assert started["server"]["issuer"] == live_server.issuer
    return payload, started


def _callback(browser_login, live_server, client, started) -> str:
    callback = browser_login(started["authorization_url"], client.redirect_uri)
    params = {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}
    assert "code" in params, f"authorization error: {params}\n{live_server.log_tail()}"
    assert params["state"] == started["state"] and params["iss"] == live_server.issuer
    return callback


def _finish(node_rp, payload, started, callback) -> dict:
    return node_rp({**payload, "step": "finish", "callback_url": callback, "code_verifier": started["code_verifier"],
                    "state": started["state"], "nonce": started["nonce"]})


def _assert_identity(live_server, client, result, started):
    claims = result["claims"]
    assert claims["iss"] == live_server.issuer
    assert claims["sub"] == live_server.sub
    assert claims["aud"] == client.client_id and claims["nonce"] == started["nonce"]
    assert claims["at_hash"] and claims["auth_time"] <= claims["iat"] < claims["exp"]
    assert result["token"]["token_type"].lower() == "bearer" and result["token"]["has_refresh_token"]
    assert set(result["token"]["scope"].split()) == set(SCOPE.split())
    assert result["token"]["id_token_header"]["alg"] in started["server"]["id_token_signing_alg_values_supported"]

    userinfo = result["userinfo"]
    assert userinfo["sub"] == live_server.sub
    assert userinfo["email"] == EMAIL and userinfo["email_verified"] is True
    assert userinfo["name"] == FULL_NAME
    assert "citizen_id" not in userinfo

    refresh = result["refresh"]
    assert refresh["new_access_token"] and refresh["new_refresh_token"], "refresh must rotate both tokens"
    if refresh["claims"] is not None:   # an ID token on refresh keeps the same subject (OIDC Core §12.2)
        assert refresh["claims"]["sub"] == live_server.sub and refresh["claims"]["aud"] == client.client_id
    assert result["userinfo_after_refresh"]["sub"] == live_server.sub

    # After revoking the refresh token, its family is gone: no refresh, no UserInfo with its access token.
    assert result["revoked"] is True
    failed = result["refresh_after_revocation"]
    assert failed["failed"] and failed.get("oauth_error") == "invalid_grant", failed
    failed = result["userinfo_after_revocation"]
    assert failed["failed"] and failed.get("status") == 401, failed


def test_private_key_jwt_client_full_flow(node_rp, live_server, browser_login):
    client = live_server.clients["node_private_key_jwt"]
    payload, started = _start(node_rp, live_server, client)
    assert "private_key_jwt" in started["server"]["token_endpoint_auth_methods_supported"]
    assert started["server"]["authorization_response_iss_parameter_supported"] is True
    callback = _callback(browser_login, live_server, client, started)

    result = _finish(node_rp, payload, started, callback)

    _assert_identity(live_server, client, result, started)
    before = result["introspection_before"]
    assert before["access_token"]["active"] is True
    assert before["access_token"]["sub"] == live_server.sub
    assert before["access_token"]["client_id"] == client.client_id
    assert before["refresh_token"]["active"] is True
    assert before["rotated_refresh_token"]["active"] is False, "a rotated refresh token must be inactive"
    after = result["introspection_after"]
    assert after["refresh_token"] == {"active": False}
    assert after["access_token"] == {"active": False}, "revoking the refresh token ends its whole family"


def test_public_client_with_pkce_full_flow(node_rp, live_server, browser_login):
    client = live_server.clients["node_public"]
    payload, started = _start(node_rp, live_server, client)
    assert "none" in started["server"]["token_endpoint_auth_methods_supported"]
    callback = _callback(browser_login, live_server, client, started)

    result = _finish(node_rp, payload, started, callback)

    _assert_identity(live_server, client, result, started)
    # RFC 7662 §2.1: introspection needs client authentication, which a public client has not.
    assert "introspection_before" not in result
