"""Issue 11 items 14 and 15, as a strict client tried them: input that used to answer 500. Every one gets
the protocol's error, with a description that never echoes the input."""
from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.oidc.helpers import REDIRECT, make_client

HOSTILE = ["code' OR 1=1--", "code\x00", "\x00", "code\r\nX-Injected: 1", "mã", "code id_token\x7f", "token"]


@pytest.mark.parametrize("response_type", HOSTILE)
def test_authorize_with_a_hostile_response_type(app, client, response_type):
    client_id, _ = make_client(app)
    response = client.get("/authorize?" + urlencode({"client_id": client_id, "redirect_uri": REDIRECT,
                                                     "response_type": response_type, "scope": "openid",
                                                     "state": "s1"}))
    assert response.status_code == 302
    result = {k: v[0] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()}
    assert result["error"] == "unsupported_response_type" and result["state"] == "s1"
    assert result["error_description"] == "Only the response type code is supported."


@pytest.mark.parametrize("raw", [b"\xff\xfe:x", b"\xc3(:secret", b"client:\xff", b"no-colon-\x80"])
def test_token_with_non_utf8_basic_credentials(app, client, raw):
    make_client(app)
    response = client.post("/token", data={"grant_type": "client_credentials"},
                           headers={"Authorization": "Basic " + base64.b64encode(raw).decode()})
    assert response.status_code == 401 and response.json["error"] == "invalid_client"


@pytest.mark.parametrize("grant_type", ["client_credentials\x00", "x\x00y", "mã", "a\r\nb"])
def test_token_with_a_hostile_grant_type(app, client, grant_type):
    client_id, secret = make_client(app, grant_types=["client_credentials"], redirect_uris=[])
    response = client.post("/token", data={"grant_type": grant_type}, auth=(client_id, secret))
    assert response.status_code == 400 and response.json["error"] == "unsupported_grant_type"
    assert grant_type not in response.get_data(as_text=True)


@pytest.mark.parametrize("endpoint", ["/introspect", "/revoke"])
@pytest.mark.parametrize("hint", ["x\x00", "mã", "id_token"])
def test_introspection_and_revocation_with_a_hostile_hint(app, client, endpoint, hint):
    client_id, secret = make_client(app, grant_types=["client_credentials"], redirect_uris=[])
    response = client.post(endpoint, data={"token": "a\x00b", "token_type_hint": hint}, auth=(client_id, secret))
    assert response.status_code == 400 and response.json["error"] == "unsupported_token_type"
