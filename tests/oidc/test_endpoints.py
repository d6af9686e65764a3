"""Discovery, JWKS and keys, userinfo, introspection and revocation."""
from __future__ import annotations

from datetime import timedelta

import pytest
from joserfc import jwt

from idp.keys import SigningKey
from idp.db import db
from tests.oidc.helpers import basic, code_for, decode, exchange, make_client


@pytest.fixture
def tokens(app, client, accounts):
    accounts(email="hoa@example.vn")
    client_id, secret = make_client(app)
    code, _ = code_for(app, client, client_id, scope="openid email offline_access")
    return client_id, secret, exchange(client, client_id, secret, code).json


def test_discovery(client):
    response = client.get("/.well-known/openid-configuration")
    meta = response.json
    assert meta["issuer"] == "http://localhost"
    assert meta["authorization_endpoint"] == "http://localhost/authorize"
    assert meta["jwks_uri"] == "http://localhost/jwks.json"
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["response_types_supported"] == ["code"]
    assert set(meta["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none",
        "tls_client_auth", "self_signed_tls_client_auth"}
    assert meta["subject_types_supported"] == ["public", "pairwise"]
    assert meta["tls_client_certificate_bound_access_tokens"] is True and "mtls_endpoint_aliases" not in meta
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert meta["claims_parameter_supported"] and meta["request_parameter_supported"]
    assert "citizen_id" in meta["scopes_supported"] and "ES256" in meta["id_token_signing_alg_values_supported"]
    assert response.headers["Cache-Control"].startswith("public") and response.headers["ETag"]
    again = client.get("/.well-known/openid-configuration", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def test_discovery_follows_the_configured_issuer(make_app):
    app = make_app(IDP_ISSUER="https://idp.camau.gov.vn")
    meta = app.test_client().get("/.well-known/openid-configuration", base_url="https://localhost").json
    assert meta["issuer"] == "https://idp.camau.gov.vn" and meta["token_endpoint"] == "https://idp.camau.gov.vn/token"


def test_jwks_has_public_keys_only(client):
    response = client.get("/jwks.json")
    keys = response.json["keys"]
    assert {k["alg"] for k in keys} == {"ES256", "RS256", "EdDSA"}
    for key in keys:
        assert key["kid"] and key["use"] == "sig"
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)
    assert client.get("/jwks.json", headers={"If-None-Match": response.headers["ETag"]}).status_code == 304


@pytest.mark.parametrize("path", ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server",
                                  "/jwks.json"])
def test_published_documents_answer_alike_before_flask_and_through_it(client, path):
    fast = client.get(path)  # answered before Flask (idp.oidc.published)
    routed = client.get(path + "?via=flask")  # a query string goes through the Flask route
    assert fast.status_code == routed.status_code == 200
    assert fast.get_data() == routed.get_data()
    assert {k: v for k, v in fast.headers.items() if k != "Date"} == {k: v for k, v in routed.headers.items()
                                                                     if k != "Date"}  # the server adds Date
    head = client.head(path)
    assert head.status_code == 200 and head.get_data() == b"" and head.headers["ETag"] == fast.headers["ETag"]
    assert client.get(path, headers={"If-None-Match": f'"other", {fast.headers["ETag"]}'}).status_code == 304
    assert client.get(path, headers={"Host": "attacker.example"}).status_code == 400  # TRUSTED_HOSTS, as anywhere


def test_a_rotated_key_is_published_at_once_in_this_process(app, client):
    before = client.get("/jwks.json")
    with app.app_context():
        new = app.extensions["idp.keys"].rotate("ES256", now=app.config["CLOCK"]()).kid
    after = client.get("/jwks.json", headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200 and new in {k["kid"] for k in after.json["keys"]}


def test_signing_keys_are_stored_encrypted(app, client):
    client.get("/jwks.json")
    with app.app_context():
        for row in db.session.query(SigningKey):
            assert '"d"' not in row.private_jwk and row.private_jwk.startswith("gAAAA")


def test_two_phase_rotation(app, client, runner, tokens, clock):
    client_id, secret, first = tokens
    old_kid = decode(app, first["access_token"]).header["kid"]
    result = runner.invoke(args=["keys", "rotate", "--alg", "ES256", "--delay", "0"])
    assert result.exit_code == 0, result.output
    # CLI rotation uses wall-clock time; re-time it against the test clock.
    new_kid = result.output.split()[0]
    with app.app_context():
        new = db.session.get(SigningKey, new_kid)
        old = db.session.get(SigningKey, old_kid)
        new.created_at = clock.now
        new.activates_at = clock.now + timedelta(hours=1)
        old.retired_at = new.activates_at
        old.expires_at = new.activates_at + timedelta(minutes=15)
        db.session.commit()
        app.extensions["idp.keys"].invalidate()
    kids = {k["kid"] for k in client.get("/jwks.json").json["keys"]}
    assert {old_kid, new_kid} <= kids  # published before it signs
    code, _ = code_for(app, client, client_id)
    assert decode(app, exchange(client, client_id, secret, code).json["access_token"]).header["kid"] == old_kid
    clock.advance(hours=1, seconds=1)
    app.extensions["idp.keys"].invalidate()
    code, _ = code_for(app, client, client_id)
    assert decode(app, exchange(client, client_id, secret, code).json["access_token"]).header["kid"] == new_kid
    assert old_kid in {k["kid"] for k in client.get("/jwks.json").json["keys"]}  # still verifies old tokens
    clock.advance(minutes=16)
    app.extensions["idp.keys"].invalidate()
    assert old_kid not in {k["kid"] for k in client.get("/jwks.json").json["keys"]}


def test_keys_cli(runner, client):
    client.get("/jwks.json")
    listing = runner.invoke(args=["keys", "list"]).output
    assert listing.count("signing") == 3
    kid = listing.split()[0]
    assert "retired" in runner.invoke(args=["keys", "retire", "--", kid]).output  # a kid may start with "-"
    assert runner.invoke(args=["keys", "retire", "nope"]).exit_code != 0


def test_userinfo_variants(app, client, tokens):
    client_id, secret, body = tokens
    token = body["access_token"]
    assert client.post("/userinfo", headers={"Authorization": "Bearer " + token}).status_code == 200
    assert client.post("/userinfo", data={"access_token": token}).status_code == 200
    both = client.post("/userinfo", data={"access_token": token}, headers={"Authorization": "Bearer " + token})
    assert both.status_code == 400
    none = client.get("/userinfo")
    assert none.status_code == 401 and none.headers["WWW-Authenticate"].startswith("Bearer")
    for bad in ("x", token[:-3] + "abc", "a.b.c", "Bearer"):
        response = client.get("/userinfo", headers={"Authorization": "Bearer " + bad})
        assert response.status_code == 401 and 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_userinfo_expired_token(app, client, tokens, clock):
    token = tokens[2]["access_token"]
    clock.advance(minutes=16)
    assert client.get("/userinfo", headers={"Authorization": "Bearer " + token}).status_code == 401


def test_signed_userinfo(app, client, accounts):
    accounts(email="hoa@example.vn")
    client_id, secret = make_client(app, userinfo_signed_response_alg="RS256")
    code, _ = code_for(app, client, client_id)
    token = exchange(client, client_id, secret, code).json["access_token"]
    response = client.get("/userinfo", headers={"Authorization": "Bearer " + token})
    assert response.mimetype == "application/jwt"
    signed = decode(app, response.get_data(as_text=True))
    assert signed.header["alg"] == "RS256" and signed.claims["aud"] == client_id


def test_client_credentials_token_is_not_for_userinfo(app, client):
    client_id, secret = make_client(app, grant_types=["client_credentials"], redirect_uris=[], scope="email")
    token = client.post("/token", data={"grant_type": "client_credentials"}, headers=basic(client_id, secret)).json
    response = client.get("/userinfo", headers={"Authorization": "Bearer " + token["access_token"]})
    assert response.status_code == 403 and 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]


def test_introspection(app, client, tokens):
    client_id, secret, body = tokens
    active = client.post("/introspect", data={"token": body["access_token"]}, headers=basic(client_id, secret)).json
    assert active["active"] is True and active["client_id"] == client_id and active["scope"] == "openid email offline_access"
    assert active["token_type"] == "Bearer" and active["sub"] and active["exp"] > active["iat"]
    refresh = client.post("/introspect", data={"token": body["refresh_token"], "token_type_hint": "refresh_token"},
                          headers=basic(client_id, secret)).json
    assert refresh["active"] is True and refresh["token_type"] == "refresh_token"
    assert client.post("/introspect", data={"token": "garbage"}, headers=basic(client_id, secret)).json == \
        {"active": False}


def test_introspection_needs_client_authentication(client, tokens):
    client_id, secret, body = tokens
    assert client.post("/introspect", data={"token": body["access_token"]}).status_code == 401
    assert client.post("/introspect", data={"token": body["access_token"]},
                       headers=basic(client_id, "wrong")).status_code == 401
    assert client.post("/introspect", data={}, headers=basic(client_id, secret)).json["error"] == "invalid_request"


def test_other_clients_see_nothing_unless_allowed(app, client, tokens):
    _, _, body = tokens
    other_id, other_secret = make_client(app)
    assert client.post("/introspect", data={"token": body["access_token"]},
                       headers=basic(other_id, other_secret)).json == {"active": False}
    rs_id, rs_secret = make_client(app, grant_types=["client_credentials"], redirect_uris=[],
                                   introspection_allowed=True)
    assert client.post("/introspect", data={"token": body["access_token"]},
                       headers=basic(rs_id, rs_secret)).json["active"] is True


def test_revoking_a_refresh_token_revokes_its_family(app, client, tokens):
    client_id, secret, body = tokens
    response = client.post("/revoke", data={"token": body["refresh_token"]}, headers=basic(client_id, secret))
    assert response.status_code == 200
    for token in (body["access_token"], body["refresh_token"]):
        assert client.post("/introspect", data={"token": token}, headers=basic(client_id, secret)).json == \
            {"active": False}
    refresh = client.post("/token", data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
                          headers=basic(client_id, secret))
    assert refresh.json["error"] == "invalid_grant"


def test_revoking_an_access_token(app, client, tokens):
    client_id, secret, body = tokens
    assert client.post("/revoke", data={"token": body["access_token"], "token_type_hint": "access_token"},
                       headers=basic(client_id, secret)).status_code == 200
    assert client.get("/userinfo", headers={"Authorization": "Bearer " + body["access_token"]}).status_code == 401
    assert client.post("/introspect", data={"token": body["refresh_token"]},
                       headers=basic(client_id, secret)).json["active"] is True


def test_a_client_credentials_token_is_stored_nowhere_until_revoked_and_forgotten_after_expiry(app, client, clock):
    from idp.oidc.models import Grant, RevokedAccessToken
    from idp.oidc.revocation import purge_expired_revocations
    client_id, secret = make_client(app, grant_types=["client_credentials"], redirect_uris=[],
                                    introspection_allowed=True)
    token = client.post("/token", data={"grant_type": "client_credentials"}, headers=basic(client_id, secret)).json
    with app.app_context():
        assert db.session.query(Grant).count() == 0 and db.session.query(RevokedAccessToken).count() == 0
    assert client.post("/introspect", data={"token": token["access_token"]},
                       headers=basic(client_id, secret)).json["active"] is True
    for _ in range(2):  # revoking twice is one entry, and still 200
        assert client.post("/revoke", data={"token": token["access_token"]},
                           headers=basic(client_id, secret)).status_code == 200
    assert client.post("/introspect", data={"token": token["access_token"]},
                       headers=basic(client_id, secret)).json == {"active": False}
    with app.app_context():
        assert purge_expired_revocations(clock()) == 0  # kept while the token could still be presented
        clock.advance(seconds=token["expires_in"] + 1)
        assert purge_expired_revocations(clock()) == 1


def test_revocation_errors(app, client, tokens):
    client_id, secret, body = tokens
    assert client.post("/revoke", data={"token": "unknown"}, headers=basic(client_id, secret)).status_code == 200
    assert client.post("/revoke", data={}, headers=basic(client_id, secret)).json["error"] == "invalid_request"
    assert client.post("/revoke", data={"token": "x", "token_type_hint": "bogus"},
                       headers=basic(client_id, secret)).json["error"] == "unsupported_token_type"
    assert client.post("/revoke", data={"token": body["access_token"]}).status_code == 401
    other_id, other_secret = make_client(app)
    stolen = client.post("/revoke", data={"token": body["refresh_token"]}, headers=basic(other_id, other_secret))
    assert stolen.status_code == 400
    assert client.post("/introspect", data={"token": body["refresh_token"]},
                       headers=basic(client_id, secret)).json["active"] is True


def test_access_token_forged_with_our_format_is_refused(app, client, tokens):
    from joserfc import jwk
    claims = decode(app, tokens[2]["access_token"]).claims
    forged = jwt.encode({"alg": "ES256", "typ": "at+jwt"}, claims, jwk.ECKey.generate_key("P-256"))
    assert client.get("/userinfo", headers={"Authorization": "Bearer " + forged}).status_code == 401
