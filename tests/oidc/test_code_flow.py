"""The authorization code flow end to end through the HTTP interface."""
from __future__ import annotations

from tests.oidc.helpers import basic, code_for, decode, exchange, make_client


def test_code_flow_issues_id_and_access_tokens(app, client, accounts):
    account = accounts(email="hoa@example.vn")
    client_id, secret = make_client(app)
    code, params = code_for(app, client, client_id)
    response = exchange(client, client_id, secret, code)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    id_token = decode(app, body["id_token"])
    assert id_token.header["alg"] == "ES256"
    claims = id_token.claims
    assert claims["iss"] == "http://localhost" and claims["aud"] == client_id and claims["azp"] == client_id
    assert claims["sub"] == account["sub"] and claims["nonce"] == params["nonce"]
    assert claims["acr"] == "urn:motid:loa:1" and claims["amr"] == ["pwd"] and claims["sid"]
    assert claims["at_hash"] and claims["auth_time"] <= claims["iat"]
    access = decode(app, body["access_token"])
    assert access.header["typ"] == "at+jwt"
    assert access.claims["client_id"] == client_id and access.claims["scope"] == "openid profile email"
    info = client.get("/userinfo", headers={"Authorization": "Bearer " + body["access_token"]})
    assert info.status_code == 200
    assert info.json["sub"] == account["sub"] and info.json["email"] == "hoa@example.vn"
    assert info.json["name"] == "Nguyễn Thị Hoa" and info.json["family_name"] == "Nguyễn"
    assert "citizen_id" not in info.json


def test_code_is_single_use_and_replay_revokes(app, client, accounts):
    accounts()
    client_id, secret = make_client(app)
    code, _ = code_for(app, client, client_id)
    first = exchange(client, client_id, secret, code)
    assert first.status_code == 200
    again = exchange(client, client_id, secret, code)
    assert again.status_code == 400 and again.json["error"] == "invalid_grant"
    info = client.get("/userinfo", headers={"Authorization": "Bearer " + first.json["access_token"]})
    assert info.status_code == 401 and 'error="invalid_token"' in info.headers["WWW-Authenticate"]


def test_wrong_secret_is_401(app, client, accounts):
    accounts()
    client_id, secret = make_client(app)
    code, _ = code_for(app, client, client_id)
    response = exchange(client, client_id, secret + "x", code)
    assert response.status_code == 401 and response.json["error"] == "invalid_client"


def test_client_credentials(app, client):
    client_id, secret = make_client(app, grant_types=["client_credentials"], redirect_uris=[], scope="email")
    response = client.post("/token", data={"grant_type": "client_credentials"}, headers=basic(client_id, secret))
    assert response.status_code == 200, response.json
    assert decode(app, response.json["access_token"]).claims["sub"] == client_id
    assert "refresh_token" not in response.json
