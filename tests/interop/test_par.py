"""Pushed authorization requests (RFC 9126) with openid-client v6 (Node.js) against the live server:
``buildAuthorizationUrlWithPAR`` discovers the PAR endpoint, pushes the request with the client's
authentication (private_key_jwt, and a public client with client_id alone), and sends the browser with
client_id and request_uri only; the person logs in and consents; rp.mjs redeems the code and checks the
tokens. The request_uri then cannot be used again."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.interop.conftest import HTTP_TIMEOUT, NODE_DIR, SCOPE

PAR_SCRIPT = NODE_DIR / "par.mjs"


@pytest.mark.parametrize("name", ["node_private_key_jwt", "node_public"])
def test_openid_client_pushes_then_completes_the_code_flow(node_rp, live_server, browser_login, name):
    client = live_server.clients[name]
    payload = {"issuer": live_server.issuer, "client_id": client.client_id, "auth": client.auth_method,
               "private_jwk": client.private_jwk, "redirect_uri": client.redirect_uri, "scope": SCOPE}
    started = node_rp(payload, script=PAR_SCRIPT)
    assert started["server"]["pushed_authorization_request_endpoint"] == live_server.issuer + "/par"
    query = {k: v[0] for k, v in parse_qs(urlsplit(started["authorization_url"]).query).items()}
    assert set(query) == {"client_id", "request_uri"}, query  # everything else was pushed
    assert query["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")

    callback = browser_login(started["authorization_url"], client.redirect_uri)
    params = {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}
    assert "code" in params, f"authorization error: {params}\n{live_server.log_tail()}"
    assert params["state"] == started["state"] and params["iss"] == live_server.issuer

    result = node_rp({**payload, "step": "finish", "callback_url": callback, "code_verifier": started["code_verifier"],
                      "state": started["state"], "nonce": started["nonce"]})
    assert result["claims"]["sub"] == live_server.sub and result["claims"]["nonce"] == started["nonce"]
    assert result["claims"]["aud"] == client.client_id
    assert set(result["token"]["scope"].split()) == set(SCOPE.split())

    replay = requests.get(started["authorization_url"], allow_redirects=False, timeout=HTTP_TIMEOUT)
    assert replay.status_code == 400 and "invalid_request_uri" in replay.text
