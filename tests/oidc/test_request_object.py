"""Request objects (RFC 9101) by value and by reference."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import urlencode

import pytest
from joserfc import jwk, jwt

from tests.conftest import login
from tests.oidc.helpers import REDIRECT, auth_params, callback, make_client


@pytest.fixture
def key():
    return jwk.RSAKey.generate_key(2048, auto_kid=True)


@pytest.fixture
def rp(app, client, accounts, key):
    accounts(email="hoa@example.vn")
    client_id, _ = make_client(app, first_party=True, jwks={"keys": [key.as_dict(private=False)]})
    login(client, "hoa@example.vn")
    return client_id


def signed(client_id, key, alg="RS256", **claims):
    body = {"iss": client_id, "aud": "http://localhost", "exp": int(time.time()) + 60,
            **auth_params(client_id), **claims}
    return jwt.encode({"alg": alg, "kid": key.kid}, body, key, algorithms=[alg])


def unsigned(claims):
    import base64

    def b64(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{b64({'alg': 'none'})}.{b64(claims)}."


def go(client, client_id, **params):
    query = {"client_id": client_id, "response_type": "code", "scope": "openid", "redirect_uri": REDIRECT, **params}
    return client.get("/authorize?" + urlencode(query))


def test_signed_request_object_by_value(client, rp, key):
    result = callback(go(client, rp, request=signed(rp, key, state="from-object", nonce="n1")))
    assert result["state"] == "from-object" and "code" in result


def test_request_object_values_win(client, rp, key):
    result = callback(go(client, rp, state="outer", request=signed(rp, key, state="inner")))
    assert result["state"] == "inner"


def test_bad_signature(client, rp, key):
    other = jwk.RSAKey.generate_key(2048, auto_kid=True)
    result = callback(go(client, rp, state="s", request=signed(rp, other)))
    assert result["error"] == "invalid_request_object" and result["state"] == "s"


def test_wrong_audience_or_issuer(client, rp, key, clock):
    assert callback(go(client, rp, request=signed(rp, key, aud="https://elsewhere")))["error"] == "invalid_request_object"
    assert callback(go(client, rp, request=signed(rp, key, iss="other")))["error"] == "invalid_request_object"
    assert callback(go(client, rp, request=signed(rp, key, exp=int(clock.now.timestamp()) - 600)))["error"] == \
        "invalid_request_object"


def test_jti_replay(client, rp, key):
    obj = signed(rp, key, jti="once")
    assert "code" in callback(go(client, rp, request=obj))
    assert callback(go(client, rp, request=obj))["error"] == "invalid_request_object"


def test_unsigned_only_when_registered(app, client, rp):
    claims = auth_params(rp)
    assert callback(go(client, rp, request=unsigned(claims)))["error"] == "invalid_request_object"
    allowed_id, _ = make_client(app, first_party=True, request_object_signing_alg="none")
    assert "code" in callback(go(client, allowed_id, request=unsigned(auth_params(allowed_id))))


@pytest.mark.parametrize("junk", ["junk", "a.b.c", "e30.e30.", "x" * 70000])
def test_malformed_request_objects(client, rp, junk):
    response = go(client, rp, request=junk)
    assert response.status_code in (302, 400)
    if response.status_code == 302:
        assert callback(response)["error"] in ("invalid_request_object", "invalid_request")


def test_request_and_request_uri_together(client, rp, key):
    result = callback(go(client, rp, request=signed(rp, key), request_uri="https://rp.example.vn/r"))
    assert result["error"] == "invalid_request"


class _Serve(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self):  # noqa: N802 (http.server's naming)
        self.send_response(200)
        self.send_header("Content-Type", "application/oauth-authz-req+jwt")
        self.end_headers()
        self.wfile.write(type(self).body)

    def log_message(self, *args):
        pass


@pytest.fixture
def object_server():
    server = HTTPServer(("127.0.0.1", 0), _Serve)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def test_request_uri(app, client, rp, key, object_server):
    uri = f"http://127.0.0.1:{object_server.server_port}/request.jwt"
    with app.app_context():
        row = app.extensions["idp.clients"].get(rp)
        app.extensions["idp.clients"].update(row, {**row.meta, "request_uris": [uri]})
    _Serve.body = signed(rp, key, state="by-reference").encode()
    result = callback(go(client, rp, request_uri=uri + "#c2hhMjU2"))  # the fragment is the client's cache key
    assert result["state"] == "by-reference" and "code" in result
    assert callback(go(client, rp, request_uri="http://127.0.0.1:1/x"))["error"] == "invalid_request_uri"


def test_request_uris_must_be_https(app, rp):
    from idp.oidc.clients import InvalidClientMetadata
    with app.app_context(), pytest.raises(InvalidClientMetadata, match="request_uris"):
        row = app.extensions["idp.clients"].get(rp)
        app.extensions["idp.clients"].update(row, {**row.meta, "request_uris": ["http://rp.example.vn/r"]})
