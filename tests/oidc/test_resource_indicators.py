"""Resource indicators (RFC 8707) at /authorize and at the token endpoint (authorization_code,
refresh_token, client_credentials): the access token's ``aud``, the administrator's table as the rule,
``invalid_target`` for anything else, and MotID's own resources refusing tokens for other services."""
from __future__ import annotations

import pytest

from tests.conftest import login
from tests.oidc.helpers import auth_params, authorize, basic, callback, code_for, decode, exchange, make_client
from tests.oidc.test_token_exchange import allow

HOSO = "https://lgsp.camau.gov.vn/hoso"
THUE = "https://lgsp.camau.gov.vn/thue"


@pytest.fixture
def person(accounts):
    return accounts(email="hoa@example.vn")


@pytest.fixture
def portal(app):
    client_id, secret = make_client(app)
    allow(app, client_id, HOSO, "profile email offline_access")
    allow(app, client_id, THUE, "email")
    return client_id, secret


def refresh(client, client_id, secret, token, **extra):
    return client.post("/token", data={"grant_type": "refresh_token", "refresh_token": token, **extra},
                       headers=basic(client_id, secret))


def test_resource_at_authorize_sets_the_audience(app, client, person, portal):
    client_id, secret = portal
    code, _ = code_for(app, client, client_id, scope="openid profile email offline_access", resource=HOSO)
    body = exchange(client, client_id, secret, code).json
    claims = decode(app, body["access_token"]).claims
    assert claims["aud"] == HOSO and claims["scope"] == body["scope"] == "profile email offline_access"
    assert decode(app, body["id_token"]).claims["aud"] == client_id  # the ID token is still the client's
    seen = client.post("/introspect", data={"token": body["access_token"]}, headers=basic(client_id, secret)).json
    assert seen["active"] is True and seen["aud"] == HOSO
    userinfo = client.get("/userinfo", headers={"Authorization": "Bearer " + body["access_token"]})
    assert userinfo.status_code == 401
    # Refreshing keeps the authorized resource; another one is refused, and the refresh token survives that.
    wrong = refresh(client, client_id, secret, body["refresh_token"], resource=THUE)
    assert (wrong.status_code, wrong.json["error"]) == (400, "invalid_target")
    again = refresh(client, client_id, secret, body["refresh_token"], resource=HOSO, scope="email")
    assert again.status_code == 200, again.json
    assert decode(app, again.json["access_token"]).claims["aud"] == HOSO and again.json["scope"] == "email"


def test_without_any_resource_the_token_is_for_motid(app, client, person, portal):
    client_id, secret = portal
    code, _ = code_for(app, client, client_id)
    body = exchange(client, client_id, secret, code).json
    assert decode(app, body["access_token"]).claims["aud"] == app.config["IDP_ISSUER"]
    assert client.get("/userinfo", headers={"Authorization": "Bearer " + body["access_token"]}).status_code == 200


def test_the_token_request_may_repeat_the_authorized_resource_only(app, client, person, portal):
    client_id, secret = portal
    code, _ = code_for(app, client, client_id, resource=HOSO)
    same = exchange(client, client_id, secret, code, resource=HOSO).json
    assert decode(app, same["access_token"]).claims["aud"] == HOSO and same["scope"] == "profile email"
    result = callback(authorize(client, auth_params(client_id, resource=HOSO)))
    other = exchange(client, client_id, secret, result["code"], resource=THUE)
    assert (other.status_code, other.json["error"]) == (400, "invalid_target")


def test_authorize_takes_one_resource(app, client, person, portal):
    client_id, _ = portal
    login(client, "096301001234")
    params = {**auth_params(client_id), "resource": [HOSO, THUE]}
    result = callback(client.get("/authorize", query_string=params))
    assert result["error"] == "invalid_target" and result["state"] == params["state"] and "code" not in result


def test_a_resource_first_named_at_the_token_endpoint(app, client, person, portal):
    client_id, secret = portal
    code, _ = code_for(app, client, client_id)
    body = exchange(client, client_id, secret, code, resource=HOSO).json
    assert decode(app, body["access_token"]).claims["aud"] == HOSO and body["scope"] == "profile email"


@pytest.mark.parametrize("resource", ["https://lgsp.camau.gov.vn/khac", "lgsp-hoso", "/hoso", HOSO + "#frag"])
def test_authorize_refuses_a_bad_or_unlisted_resource(app, client, person, portal, resource):
    client_id, _ = portal
    login(client, "096301001234")
    params = auth_params(client_id, resource=resource)
    result = callback(client.get("/authorize", query_string=params))
    assert result["error"] == "invalid_target" and result["state"] == params["state"]
    assert "code" not in result


@pytest.mark.parametrize("resource", [["https://lgsp.camau.gov.vn/khac"], ["relative"], [HOSO + "#f"], [HOSO, THUE]])
def test_token_endpoint_refuses_a_bad_unlisted_or_second_resource(app, client, person, portal, resource):
    client_id, secret = portal
    code, _ = code_for(app, client, client_id)
    response = exchange(client, client_id, secret, code, resource=resource)
    assert (response.status_code, response.json["error"]) == (400, "invalid_target")
    assert response.headers["Cache-Control"] == "no-store"


def test_client_credentials_with_a_resource(app, client):
    client_id, secret = make_client(app, grant_types=["client_credentials"], redirect_uris=[], scope="email phone")
    allow(app, client_id, HOSO, "email")

    def token(**extra):
        return client.post("/token", data={"grant_type": "client_credentials", **extra},
                           headers=basic(client_id, secret))

    body = token(resource=HOSO).json
    claims = decode(app, body["access_token"]).claims
    assert claims["aud"] == HOSO and claims["sub"] == client_id and body["scope"] == "email"
    assert decode(app, token().json["access_token"]).claims["aud"] == app.config["IDP_ISSUER"]
    assert token(resource=HOSO, scope="phone").json["error"] == "invalid_scope"
    assert token(resource=THUE).json["error"] == "invalid_target"
    assert token(resource="urn:x#y").json["error"] == "invalid_target"


def test_a_rule_removed_after_the_authorization_stops_new_tokens(app, client, person, portal):
    from idp.admin import exchange as rules
    from idp.admin.authz import operator
    client_id, secret = portal
    code, _ = code_for(app, client, client_id, scope="openid email offline_access", resource=HOSO)
    body = exchange(client, client_id, secret, code).json
    with app.app_context():
        rules.deny(operator(), app.extensions["idp.clients"].get(client_id), HOSO)
    assert refresh(client, client_id, secret, body["refresh_token"]).json["error"] == "invalid_target"
