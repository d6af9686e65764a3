"""Token endpoint: client authentication methods, PKCE, refresh rotation, errors per RFC 6749 §5.2."""
from __future__ import annotations

import time
import uuid

import pytest
from joserfc import jwk, jwt

from tests.conftest import login
from tests.oidc.helpers import (REDIRECT, auth_params, authorize, basic, callback, code_for, decode, exchange,
                                make_client, pkce_pair)

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def assertion(client_id, key, alg, aud="http://localhost/token", jti=None, **extra):
    claims = {"iss": client_id, "sub": client_id, "aud": aud, "jti": jti or uuid.uuid4().hex,
              "iat": int(time.time()), "exp": int(time.time()) + 60, **extra}
    return jwt.encode({"alg": alg}, claims, key, algorithms=[alg])


@pytest.fixture
def person(accounts):
    return accounts(email="hoa@example.vn")


def test_client_secret_post(app, client, person):
    client_id, secret = make_client(app, token_endpoint_auth_method="client_secret_post")
    code, _ = code_for(app, client, client_id)
    response = client.post("/token", data={"grant_type": "authorization_code", "code": code,
                                           "redirect_uri": REDIRECT, "client_id": client_id,
                                           "client_secret": secret})
    assert response.status_code == 200


def test_registered_method_is_enforced(app, client, person):
    client_id, secret = make_client(app, token_endpoint_auth_method="client_secret_post")
    code, _ = code_for(app, client, client_id)
    response = exchange(client, client_id, secret, code)  # basic instead of post
    assert response.status_code == 401 and response.json["error"] == "invalid_client"


def test_client_secret_jwt(app, client, person):
    client_id, secret = make_client(app, token_endpoint_auth_method="client_secret_jwt")
    code, _ = code_for(app, client, client_id)
    key = jwk.OctKey.import_key(secret)
    signed = assertion(client_id, key, "HS256", aud="http://localhost")
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
            "client_assertion_type": ASSERTION_TYPE, "client_assertion": signed}
    assert client.post("/token", data=data).status_code == 200
    replay = client.post("/token", data={**data, "code": code})
    assert replay.status_code == 401 and replay.json["error"] == "invalid_client"  # jti seen before


@pytest.fixture
def signing_key():
    return jwk.ECKey.generate_key("P-256", auto_kid=True)


def test_private_key_jwt(app, client, person, signing_key):
    public = {"keys": [signing_key.as_dict(private=False)]}
    client_id, secret = make_client(app, token_endpoint_auth_method="private_key_jwt", jwks=public)
    assert secret is None
    code, _ = code_for(app, client, client_id)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
            "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion(client_id, signing_key, "ES256")}
    assert client.post("/token", data=data).status_code == 200


@pytest.mark.parametrize("change", [{"aud": "https://other.example"}, {"exp": int(time.time()) - 120},
                                    {"iss": "someone-else"}, {"jti": None}])
def test_private_key_jwt_bad_assertions(app, client, person, signing_key, change):
    public = {"keys": [signing_key.as_dict(private=False)]}
    client_id, _ = make_client(app, token_endpoint_auth_method="private_key_jwt", jwks=public,
                               grant_types=["client_credentials"], redirect_uris=[])
    claims = {"iss": client_id, "sub": client_id, "aud": "http://localhost/token", "jti": uuid.uuid4().hex,
              "exp": int(time.time()) + 60, **change}
    claims = {k: v for k, v in claims.items() if v is not None}
    signed = jwt.encode({"alg": "ES256"}, claims, signing_key)
    response = client.post("/token", data={"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
                                           "client_assertion": signed})
    assert response.status_code == 401 and response.json["error"] == "invalid_client"


def test_private_key_jwt_signed_by_another_key(app, client, signing_key):
    public = {"keys": [signing_key.as_dict(private=False)]}
    client_id, _ = make_client(app, token_endpoint_auth_method="private_key_jwt", jwks=public,
                               grant_types=["client_credentials"], redirect_uris=[])
    other = jwk.ECKey.generate_key("P-256")
    response = client.post("/token", data={"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
                                           "client_assertion": assertion(client_id, other, "ES256")})
    assert response.status_code == 401


@pytest.mark.parametrize("junk", ["x", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", "." * 5000])
def test_malformed_assertions_are_invalid_client(client, junk):
    response = client.post("/token", data={"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
                                           "client_assertion": junk})
    assert response.status_code in (400, 401) and response.json["error"] == "invalid_client"


def test_public_client_needs_pkce(app, client, person):
    client_id, secret = make_client(app, token_endpoint_auth_method="none")
    assert secret is None
    login(client, "hoa@example.vn")
    refused = callback(authorize(client, auth_params(client_id)))
    assert refused["error"] == "invalid_request"
    verifier, challenge = pkce_pair()
    result = callback(authorize(client, auth_params(client_id, code_challenge=challenge,
                                                    code_challenge_method="S256")))
    wrong = exchange(client, client_id, None, result["code"], code_verifier=verifier[:-1] + ("B" if verifier.endswith("A") else "A"))
    assert wrong.status_code == 400 and wrong.json["error"] == "invalid_grant"


def test_pkce_round_trip_and_missing_verifier(app, client, person):
    client_id, _ = make_client(app, token_endpoint_auth_method="none")
    login(client, "hoa@example.vn")
    verifier, challenge = pkce_pair()
    params = auth_params(client_id, code_challenge=challenge, code_challenge_method="S256")
    code = callback(authorize(client, params))["code"]
    assert exchange(client, client_id, None, code, code_verifier=verifier).status_code == 200
    code = callback(authorize(client, {**params, "state": "s2"}))["code"]
    missing = exchange(client, client_id, None, code)
    assert missing.status_code == 400 and missing.json["error"] == "invalid_request"


def test_plain_pkce_is_refused(app, client, person):
    client_id, _ = make_client(app, token_endpoint_auth_method="none")
    login(client, "hoa@example.vn")
    params = auth_params(client_id, code_challenge="a" * 43, code_challenge_method="plain")
    assert callback(authorize(client, params))["error"] == "invalid_request"


def test_require_pkce_for_a_confidential_client(app, client, person):
    client_id, _ = make_client(app, require_pkce=True)
    login(client, "hoa@example.vn")
    assert callback(authorize(client, auth_params(client_id)))["error"] == "invalid_request"


def test_verifier_without_challenge_is_refused(app, client, person):
    client_id, secret = make_client(app)
    code, _ = code_for(app, client, client_id)
    response = exchange(client, client_id, secret, code, code_verifier="a" * 50)
    assert response.status_code == 400


def test_code_bound_to_client_and_redirect_uri(app, client, person):
    client_id, secret = make_client(app)
    other_id, other_secret = make_client(app)
    code, _ = code_for(app, client, client_id)
    assert exchange(client, other_id, other_secret, code).json["error"] == "invalid_grant"
    code, _ = code_for(app, client, client_id)
    wrong_uri = client.post("/token", data={"grant_type": "authorization_code", "code": code,
                                            "redirect_uri": REDIRECT + "x"}, headers=basic(client_id, secret))
    assert wrong_uri.json["error"] == "invalid_grant"


def test_code_expires(app, client, person, clock):
    client_id, secret = make_client(app)
    code, _ = code_for(app, client, client_id)
    clock.advance(seconds=61)
    assert exchange(client, client_id, secret, code).json["error"] == "invalid_grant"


def test_refresh_rotation_and_reuse_revokes_the_family(app, client, person):
    client_id, secret = make_client(app)
    code, _ = code_for(app, client, client_id, scope="openid email offline_access")
    first = exchange(client, client_id, secret, code).json
    assert "refresh_token" in first
    refresh = lambda token, **extra: client.post(  # noqa: E731
        "/token", data={"grant_type": "refresh_token", "refresh_token": token, **extra}, headers=basic(client_id, secret))
    second = refresh(first["refresh_token"])
    assert second.status_code == 200 and second.json["refresh_token"] != first["refresh_token"]
    assert decode(app, second.json["id_token"]).claims["aud"] == client_id
    narrowed = refresh(second.json["refresh_token"], scope="openid")
    assert narrowed.status_code == 200 and narrowed.json["scope"] == "openid"
    wider = refresh(narrowed.json["refresh_token"], scope="openid phone")
    assert wider.json["error"] == "invalid_scope"
    # Reuse of an already rotated token: theft assumed, the family ends.
    reuse = refresh(first["refresh_token"])
    assert reuse.status_code == 400 and reuse.json["error"] == "invalid_grant"
    latest = narrowed.json["refresh_token"]
    assert refresh(latest).json["error"] == "invalid_grant"
    assert client.get("/userinfo", headers={"Authorization": "Bearer " + narrowed.json["access_token"]}).status_code == 401


def test_no_refresh_token_without_offline_access(app, client, person):
    client_id, secret = make_client(app)
    code, _ = code_for(app, client, client_id)
    assert "refresh_token" not in exchange(client, client_id, secret, code).json


def test_refresh_token_is_bound_to_its_client(app, client, person):
    client_id, secret = make_client(app)
    other_id, other_secret = make_client(app)
    code, _ = code_for(app, client, client_id, scope="openid offline_access")
    token = exchange(client, client_id, secret, code).json["refresh_token"]
    stolen = client.post("/token", data={"grant_type": "refresh_token", "refresh_token": token},
                         headers=basic(other_id, other_secret))
    assert stolen.json["error"] == "invalid_grant"
    mine = client.post("/token", data={"grant_type": "refresh_token", "refresh_token": token},
                       headers=basic(client_id, secret))
    assert mine.status_code == 200  # the thief's attempt did not rotate it


@pytest.mark.parametrize("data, status, error", [
    ({}, 400, "unsupported_grant_type"),
    ({"grant_type": "password", "username": "a", "password": "b"}, 400, "unsupported_grant_type"),
    ({"grant_type": "authorization_code"}, 400, "invalid_request"),
    ({"grant_type": "authorization_code", "code": "nope", "redirect_uri": REDIRECT}, 400, "invalid_grant"),
    ({"grant_type": "refresh_token"}, 400, "invalid_request"),
    ({"grant_type": "refresh_token", "refresh_token": "x" * 5000}, 400, "invalid_grant"),
    ({"grant_type": "client_credentials"}, 400, "unauthorized_client"),
])
def test_token_errors(app, client, data, status, error):
    client_id, secret = make_client(app)
    response = client.post("/token", data=data, headers=basic(client_id, secret))
    assert (response.status_code, response.json["error"]) == (status, error)
    assert response.headers["Cache-Control"] == "no-store"


def test_unknown_client_is_401(client):
    response = client.post("/token", data={"grant_type": "client_credentials"}, headers=basic("nobody", "secret"))
    assert response.status_code == 401 and response.json["error"] == "invalid_client"


def test_client_credentials_scopes(app, client):
    client_id, secret = make_client(app, grant_types=["client_credentials"], redirect_uris=[], scope="openid email")
    ok = client.post("/token", data={"grant_type": "client_credentials", "scope": "email"},
                     headers=basic(client_id, secret))
    assert ok.status_code == 200 and ok.json["scope"] == "email"
    bad = client.post("/token", data={"grant_type": "client_credentials", "scope": "openid"},
                      headers=basic(client_id, secret))
    assert bad.json["error"] == "invalid_scope"


def test_get_is_not_allowed(client):
    assert client.get("/token").status_code == 405


def test_id_token_algorithms_per_client(app, client, person):
    for alg in ("RS256", "EdDSA"):
        client_id, secret = make_client(app, id_token_signed_response_alg=alg)
        code, _ = code_for(app, client, client_id)
        assert decode(app, exchange(client, client_id, secret, code).json["id_token"]).header["alg"] == alg


def test_online_refresh_tokens_by_client_policy_end_with_the_session(app, client, person):
    from tests.conftest import post_form
    client_id, secret = make_client(app, refresh_token_online=True)
    code, _ = code_for(app, client, client_id)
    tokens = exchange(client, client_id, secret, code).json
    assert "refresh_token" in tokens
    post_form(client, "/logout", {})
    response = client.post("/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                           headers=basic(client_id, secret))
    assert response.json["error"] == "invalid_grant"


def test_a_failed_redemption_spends_the_code_and_writes_nothing_else(app, client, person):
    """The code row stays locked until the token response commits (a concurrent replay waits for the grant);
    a redemption that fails after the code was read must still commit the code as spent, and nothing else."""
    from idp.db import db
    from idp.oidc.models import AuthorizationCode, Grant
    client_id, _ = make_client(app, token_endpoint_auth_method="none")
    login(client, "hoa@example.vn")
    verifier, challenge = pkce_pair()
    params = auth_params(client_id, code_challenge=challenge, code_challenge_method="S256")
    code = callback(authorize(client, params))["code"]
    wrong = exchange(client, client_id, None, code, code_verifier=verifier[:-1] + ("B" if verifier.endswith("A") else "A"))
    assert wrong.status_code == 400 and wrong.json["error"] == "invalid_grant"
    again = exchange(client, client_id, None, code, code_verifier=verifier)
    assert again.status_code == 400 and again.json["error"] == "invalid_grant"
    with app.app_context():
        assert db.session.query(AuthorizationCode).one().used_at is not None
        assert db.session.query(Grant).count() == 0


def test_a_code_of_a_disabled_account_is_spent_without_a_grant(app, client, person):
    from idp.accounts.models import Account
    from idp.db import db
    from idp.oidc.models import Grant
    client_id, secret = make_client(app)
    code, _ = code_for(app, client, client_id)
    with app.app_context():
        db.session.get(Account, person["id"]).status = "disabled"
        db.session.commit()
    refused = exchange(client, client_id, secret, code)
    assert refused.status_code == 400 and refused.json["error"] == "invalid_grant"
    with app.app_context():
        db.session.get(Account, person["id"]).status = "active"
        db.session.commit()
    assert exchange(client, client_id, secret, code).json["error"] == "invalid_grant"
    with app.app_context():
        assert db.session.query(Grant).count() == 0
