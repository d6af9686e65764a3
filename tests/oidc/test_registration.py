"""Dynamic client registration (RFC 7591), client configuration (RFC 7592), OIDC Registration 1.0,
all through the HTTP interface."""
from __future__ import annotations

import io
import json
import secrets
import time
from datetime import timedelta

import pytest
from joserfc import jwk, jwt

from idp.db import db
from idp.events import AuditEvent
from idp.oidc.models import Client, Grant, InitialAccessToken
from idp.security import digest, new_token
from tests.oidc.helpers import REDIRECT, code_for, decode, exchange, make_client

ISSUER = "http://localhost"
REGISTER = "/connect/register"  # /register is the citizens' sign-up page


@pytest.fixture
def iat(runner):
    """An initial access token, issued the way an administrator does."""
    result = runner.invoke(args=["clients", "registration-token"])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def bearer(token):
    return {"Authorization": "Bearer " + token}


def register(client, token, meta):
    return client.post(REGISTER, json=meta, headers=bearer(token))


def web_meta(**extra):
    meta = {"client_name": "Cổng dịch vụ công Cà Mau", "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"]}
    meta.update(extra)
    return meta


def assert_error(response, status, error):
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:500])
    assert response.is_json, response.get_data(as_text=True)[:500]
    assert response.json["error"] == error, response.json
    assert isinstance(response.json.get("error_description"), str)
    assert response.headers["Cache-Control"] == "no-store"


def assert_invalid_token(response):
    assert_error(response, 401, "invalid_token")
    assert response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')


def client_count(app):
    with app.app_context():
        return db.session.query(Client).count()


def stored(app, client_id):
    with app.app_context():
        row = db.session.query(Client).filter_by(client_id=client_id).one_or_none()
        if row is not None:
            db.session.expunge(row)
        return row


def audit_tags(app, client_id):
    with app.app_context():
        return [e.tag for e in db.session.query(AuditEvent).order_by(AuditEvent.id)
                if (e.details or {}).get("client_id") == client_id]


def rsa_key():
    return jwk.RSAKey.generate_key(2048, auto_kid=True)


# -- successful registrations -----------------------------------------------------------------

def test_register_web_client(app, client, iat):
    response = register(client, iat, web_meta(contacts=["cntt@camau.gov.vn"],
                                              policy_uri="https://rp.example.vn/privacy"))
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    client_id = body["client_id"]
    assert body["client_name"] == "Cổng dịch vụ công Cà Mau"
    assert body["redirect_uris"] == [REDIRECT]
    assert body["grant_types"] == ["authorization_code", "refresh_token"]
    assert body["response_types"] == ["code"]
    assert body["application_type"] == "web"
    assert body["token_endpoint_auth_method"] == "client_secret_basic"
    assert body["id_token_signed_response_alg"] == "RS256"  # OIDC Registration §2 default
    assert body["contacts"] == ["cntt@camau.gov.vn"] and body["policy_uri"] == "https://rp.example.vn/privacy"
    assert set(body["scope"].split()) == {"openid", "profile", "email", "phone", "address", "offline_access"}
    assert isinstance(body["client_secret"], str) and len(body["client_secret"]) >= 32
    assert body["client_secret_expires_at"] == 0
    assert isinstance(body["client_id_issued_at"], int) and body["client_id_issued_at"] > 0
    assert body["registration_client_uri"] == f"{ISSUER}{REGISTER}/{client_id}"
    token = body["registration_access_token"]
    assert isinstance(token, str) and len(token) >= 40

    row = stored(app, client_id)
    assert row.dynamic and not row.first_party
    assert row.registration_token == digest(token)  # only the digest is kept
    assert row.secret and body["client_secret"] not in row.secret  # encrypted at rest
    assert row.meta["id_token_signed_response_alg"] == "RS256"
    assert audit_tags(app, client_id) == ["oidc:client:register"]


def test_register_native_client_with_loopback_and_custom_scheme(app, client, iat):
    meta = {"application_type": "native", "client_name": "Cà Mau App",
            "redirect_uris": ["http://127.0.0.1:8400/cb", "vn.gov.camau.app:/cb"],
            "token_endpoint_auth_method": "none"}
    response = register(client, iat, meta)
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.json
    assert body["application_type"] == "native"
    assert body["redirect_uris"] == ["http://127.0.0.1:8400/cb", "vn.gov.camau.app:/cb"]
    assert body["token_endpoint_auth_method"] == "none"
    assert "client_secret" not in body and "client_secret_expires_at" not in body
    assert stored(app, body["client_id"]).secret is None


def test_register_private_key_jwt_with_inline_jwks_and_authenticate(app, client, iat):
    key = rsa_key()
    public = {"keys": [key.as_dict(private=False)]}
    response = register(client, iat, {"token_endpoint_auth_method": "private_key_jwt", "jwks": public,
                                      "grant_types": ["client_credentials"], "scope": "email"})
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.json
    assert "client_secret" not in body
    assert body["jwks"] == public and body["redirect_uris"] == [] and body["response_types"] == []
    # The registered key really authenticates the client at the token endpoint.
    claims = {"iss": body["client_id"], "sub": body["client_id"], "aud": f"{ISSUER}/token",
              "exp": int(time.time()) + 120, "iat": int(time.time()), "jti": secrets.token_hex(16)}
    assertion = jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)
    token = client.post("/token", data={
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion})
    assert token.status_code == 200, token.get_data(as_text=True)
    assert decode(app, token.json["access_token"]).claims["sub"] == body["client_id"]


def test_initial_access_token_is_reusable_until_it_expires(app, client, iat):
    first = register(client, iat, web_meta())
    second = register(client, iat, web_meta())
    assert first.status_code == second.status_code == 201
    assert first.json["client_id"] != second.json["client_id"]
    assert first.json["registration_access_token"] != second.json["registration_access_token"]


def test_registered_client_completes_code_flow_with_rs256_id_token(app, client, iat, accounts):
    account = accounts()
    body = register(client, iat, web_meta()).json
    code, params = code_for(app, client, body["client_id"])
    response = exchange(client, body["client_id"], body["client_secret"], code)
    assert response.status_code == 200, response.get_data(as_text=True)
    id_token = decode(app, response.json["id_token"])
    assert id_token.header["alg"] == "RS256"
    assert id_token.claims["aud"] == body["client_id"] and id_token.claims["sub"] == account["sub"]
    assert id_token.claims["nonce"] == params["nonce"]


def test_explicit_id_token_alg_is_kept(app, client, iat, accounts):
    accounts()
    body = register(client, iat, web_meta(id_token_signed_response_alg="ES256")).json
    assert body["id_token_signed_response_alg"] == "ES256"
    code, _ = code_for(app, client, body["client_id"])
    response = exchange(client, body["client_id"], body["client_secret"], code)
    assert decode(app, response.json["id_token"]).header["alg"] == "ES256"


def test_unknown_and_admin_only_fields_are_ignored(app, client, iat):
    response = register(client, iat, web_meta(introspection_allowed=True, client_id="chosen-id",
                                              client_secret="chosen-secret", software_statement="x.y.z",
                                              registration_access_token="mine", x_custom={"a": [1]}))
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.json
    assert body["client_id"] != "chosen-id" and body["client_secret"] != "chosen-secret"
    assert body["registration_access_token"] != "mine"
    for field in ("introspection_allowed", "software_statement", "x_custom"):
        assert field not in body
    assert "introspection_allowed" not in stored(app, body["client_id"]).meta


def test_null_fields_mean_absent(client, iat):
    response = register(client, iat, web_meta(logo_uri=None, scope=None, jwks=None))
    assert response.status_code == 201, response.get_data(as_text=True)
    assert "logo_uri" not in response.json and "jwks" not in response.json
    assert "openid" in response.json["scope"].split()


# -- metadata rejected (RFC 7591 §3.2.2) ---------------------------------------------------------

def _private_jwks():
    return {"keys": [rsa_key().as_dict(private=True)]}


REJECTED = [
    ("fragment", web_meta(redirect_uris=["https://rp.example.vn/cb#x"]), "invalid_redirect_uri"),
    ("http-web", web_meta(redirect_uris=["http://rp.example.vn/cb"]), "invalid_redirect_uri"),
    ("relative", web_meta(redirect_uris=["/cb"]), "invalid_redirect_uri"),
    ("missing-redirects", {"client_name": "x"}, "invalid_redirect_uri"),
    ("empty-redirects", web_meta(redirect_uris=[]), "invalid_redirect_uri"),
    ("malformed-uri", web_meta(redirect_uris=["https://[::1/cb"]), "invalid_redirect_uri"),
    ("javascript-native", {"application_type": "native", "token_endpoint_auth_method": "none",
                           "redirect_uris": ["javascript:alert(1)"]}, "invalid_redirect_uri"),
    ("data-native", {"application_type": "native", "token_endpoint_auth_method": "none",
                     "redirect_uris": ["data:text/html,hi"]}, "invalid_redirect_uri"),
    ("scheme-without-domain", {"application_type": "native", "token_endpoint_auth_method": "none",
                               "redirect_uris": ["myapp:/cb"]}, "invalid_redirect_uri"),
    ("http-native", {"application_type": "native", "redirect_uris": ["http://rp.example.vn/cb"]},
     "invalid_redirect_uri"),
    ("grant-password", web_meta(grant_types=["password"]), "invalid_client_metadata"),
    ("grant-implicit", web_meta(grant_types=["implicit"], response_types=["token"]), "invalid_client_metadata"),
    ("response-token", web_meta(response_types=["code", "id_token"]), "invalid_client_metadata"),
    ("auth-method", web_meta(token_endpoint_auth_method="tls_client_auth"), "invalid_client_metadata"),
    ("application-type", web_meta(application_type="desktop"), "invalid_client_metadata"),
    ("private-jwk", {"token_endpoint_auth_method": "private_key_jwt", "grant_types": ["client_credentials"],
                     "jwks": "PRIVATE"}, "invalid_client_metadata"),
    ("jwks-and-uri", {"token_endpoint_auth_method": "private_key_jwt", "grant_types": ["client_credentials"],
                      "jwks": "PUBLIC", "jwks_uri": "https://rp.example.vn/jwks"}, "invalid_client_metadata"),
    ("pkjwt-without-keys", {"token_endpoint_auth_method": "private_key_jwt",
                            "grant_types": ["client_credentials"]}, "invalid_client_metadata"),
    ("empty-jwks", {"token_endpoint_auth_method": "private_key_jwt", "grant_types": ["client_credentials"],
                    "jwks": {"keys": []}}, "invalid_client_metadata"),
    ("junk-jwks", {"token_endpoint_auth_method": "private_key_jwt", "grant_types": ["client_credentials"],
                   "jwks": {"keys": [{"kty": "RSA", "n": "!!"}]}}, "invalid_client_metadata"),
    # A loopback jwks_uri is accepted while the issuer is loopback: tests/security/test_registration_rules.py
    ("jwks-uri-metadata", {"token_endpoint_auth_method": "private_key_jwt", "grant_types": ["client_credentials"],
                           "jwks_uri": "http://169.254.169.254/latest/meta-data/"}, "invalid_client_metadata"),
    ("jwks-uri-private", {"token_endpoint_auth_method": "private_key_jwt", "grant_types": ["client_credentials"],
                          "jwks_uri": "https://10.0.0.5/jwks"}, "invalid_client_metadata"),
    ("logo-http", web_meta(logo_uri="http://rp.example.vn/logo.png"), "invalid_client_metadata"),
    ("policy-http", web_meta(policy_uri="http://rp.example.vn/privacy"), "invalid_client_metadata"),
    ("tos-http", web_meta(tos_uri="http://rp.example.vn/tos"), "invalid_client_metadata"),
    ("initiate-login-http", web_meta(initiate_login_uri="http://rp.example.vn/login"), "invalid_client_metadata"),
    ("logo-javascript", web_meta(logo_uri="javascript:alert(1)"), "invalid_client_metadata"),
    ("unknown-scope", web_meta(scope="openid admin"), "invalid_client_metadata"),
    ("restricted-scope", web_meta(scope="openid citizen_id"), "invalid_client_metadata"),
    ("public-client-credentials", {"token_endpoint_auth_method": "none", "grant_types": ["client_credentials"]},
     "invalid_client_metadata"),
    ("id-token-alg", web_meta(id_token_signed_response_alg="HS256"), "invalid_client_metadata"),
    ("id-token-alg-none", web_meta(id_token_signed_response_alg="none"), "invalid_client_metadata"),
    ("userinfo-alg", web_meta(userinfo_signed_response_alg="PS256"), "invalid_client_metadata"),
    ("request-alg", web_meta(request_object_signing_alg="HS256"), "invalid_client_metadata"),
    ("encryption", web_meta(id_token_encrypted_response_alg="RSA-OAEP"), "invalid_client_metadata"),
    ("subject-type", web_meta(subject_type="ephemeral"), "invalid_client_metadata"),
    ("pairwise-two-hosts", web_meta(subject_type="pairwise", redirect_uris=[REDIRECT, "https://app.example.vn/cb"]),
     "invalid_client_metadata"),
    ("sector-http", web_meta(subject_type="pairwise", sector_identifier_uri="http://rp.example.vn/sector.json"),
     "invalid_client_metadata"),
    ("tls-no-subject", web_meta(token_endpoint_auth_method="tls_client_auth"), "invalid_client_metadata"),
    ("tls-two-subjects", web_meta(token_endpoint_auth_method="tls_client_auth", tls_client_auth_san_dns="rp.example.vn",
                                  tls_client_auth_subject_dn="CN=rp.example.vn"), "invalid_client_metadata"),
    ("tls-bad-dn", web_meta(token_endpoint_auth_method="tls_client_auth", tls_client_auth_subject_dn="rp.example.vn"),
     "invalid_client_metadata"),
    ("tls-bad-ip", web_meta(token_endpoint_auth_method="tls_client_auth", tls_client_auth_san_ip="10.0.0.300"),
     "invalid_client_metadata"),
    ("tls-subject-other-method", web_meta(tls_client_auth_san_dns="rp.example.vn"), "invalid_client_metadata"),
    ("self-signed-no-keys", web_meta(token_endpoint_auth_method="self_signed_tls_client_auth"),
     "invalid_client_metadata"),
    ("negative-max-age", web_meta(default_max_age=-1), "invalid_client_metadata"),
    ("huge-max-age", web_meta(default_max_age=10 ** 30), "invalid_client_metadata"),
    ("too-many-redirects", web_meta(redirect_uris=[f"https://rp.example.vn/{i}" for i in range(21)]),
     "invalid_redirect_uri"),
    ("long-name", web_meta(client_name="x" * 201), "invalid_client_metadata"),
]


def _resolve(meta):
    meta = json.loads(json.dumps(meta))
    if meta.get("jwks") == "PRIVATE":
        meta["jwks"] = _private_jwks()
    elif meta.get("jwks") == "PUBLIC":
        meta["jwks"] = {"keys": [rsa_key().as_dict(private=False)]}
    return meta


@pytest.mark.parametrize("meta,error", [(m, e) for _, m, e in REJECTED], ids=[name for name, _, _ in REJECTED])
def test_invalid_metadata_is_rejected(app, client, iat, meta, error):
    response = register(client, iat, _resolve(meta))
    assert_error(response, 400, error)
    assert client_count(app) == 0


WRONG_TYPES = [
    ("redirect_uris", REDIRECT, "invalid_redirect_uri"),
    ("redirect_uris", [1], "invalid_redirect_uri"),
    ("redirect_uris", [{"uri": REDIRECT}], "invalid_redirect_uri"),
    ("grant_types", "authorization_code", "invalid_client_metadata"),
    ("grant_types", [{}], "invalid_client_metadata"),
    ("grant_types", [["authorization_code"]], "invalid_client_metadata"),
    ("response_types", "code", "invalid_client_metadata"),
    ("response_types", [1], "invalid_client_metadata"),
    ("application_type", ["web"], "invalid_client_metadata"),
    ("token_endpoint_auth_method", {"m": "none"}, "invalid_client_metadata"),
    ("client_name", 5, "invalid_client_metadata"),
    ("client_name", ["x"], "invalid_client_metadata"),
    ("contacts", "cntt@camau.gov.vn", "invalid_client_metadata"),
    ("contacts", [5], "invalid_client_metadata"),
    ("scope", ["openid"], "invalid_client_metadata"),
    ("scope", 1, "invalid_client_metadata"),
    ("jwks", "keys", "invalid_client_metadata"),
    ("jwks", {"keys": "x"}, "invalid_client_metadata"),
    ("jwks", {"keys": [1]}, "invalid_client_metadata"),
    ("jwks_uri", {}, "invalid_client_metadata"),
    ("logo_uri", 5, "invalid_client_metadata"),
    ("client_uri", [], "invalid_client_metadata"),
    ("post_logout_redirect_uris", 5, "invalid_client_metadata"),
    ("post_logout_redirect_uris", "https://rp.example.vn/bye", "invalid_client_metadata"),
    ("default_max_age", "60", "invalid_client_metadata"),
    ("default_max_age", True, "invalid_client_metadata"),
    ("default_max_age", 1.5, "invalid_client_metadata"),
    ("require_auth_time", "yes", "invalid_client_metadata"),
    ("id_token_signed_response_alg", 256, "invalid_client_metadata"),
    ("id_token_signed_response_alg", ["RS256"], "invalid_client_metadata"),
    ("userinfo_signed_response_alg", {}, "invalid_client_metadata"),
    ("request_object_signing_alg", [], "invalid_client_metadata"),
    ("subject_type", 1, "invalid_client_metadata"),
    ("software_id", 1, "invalid_client_metadata"),
]


@pytest.mark.parametrize("field,value,error", WRONG_TYPES,
                         ids=[f"{f}={json.dumps(v)[:20]}" for f, v, _ in WRONG_TYPES])
def test_wrong_json_types_are_rejected(app, client, iat, field, value, error):
    response = register(client, iat, web_meta(**{field: value}))
    assert_error(response, 400, error)
    assert client_count(app) == 0


JUNK = [None, True, 0, -1, 1.5, 10 ** 40, "", "x", "https://[", "\u0000", [], {}, [[]], [{}], [None], [1],
        {"keys": None}, ["https://rp.example.vn/cb#"], "vn.gov.camau.app:/cb", "http://localhost/x"]
FIELDS = ["redirect_uris", "post_logout_redirect_uris", "response_types", "grant_types", "application_type",
          "token_endpoint_auth_method", "client_name", "client_uri", "logo_uri", "policy_uri", "tos_uri",
          "initiate_login_uri", "jwks_uri", "jwks", "contacts", "scope", "software_id", "subject_type",
          "id_token_signed_response_alg", "userinfo_signed_response_alg", "request_object_signing_alg",
          "default_max_age", "require_auth_time", "backchannel_logout_uri", "sector_identifier_uri"]


def test_no_field_value_causes_a_server_error(app, client, iat):
    for field in FIELDS:
        for value in JUNK:
            response = register(client, iat, web_meta(**{field: value}))
            assert response.status_code in (201, 400), (field, value, response.status_code)
            if response.status_code == 400:
                assert response.json["error"] in ("invalid_client_metadata", "invalid_redirect_uri"), (field, value)


# -- malformed bodies ---------------------------------------------------------------------------

BAD_BODIES = [
    ("form", b"client_name=x", "application/x-www-form-urlencoded"),
    ("no-content-type", json.dumps(web_meta()).encode(), None),
    ("text-plain", json.dumps(web_meta()).encode(), "text/plain"),
    ("empty", b"", "application/json"),
    ("malformed", b'{"redirect_uris": [', "application/json"),
    ("trailing-junk", b'{"a": 1} x', "application/json"),
    ("array", b"[]", "application/json"),
    ("string", b'"hello"', "application/json"),
    ("number", b"42", "application/json"),
    ("null", b"null", "application/json"),
    ("latin-1", '{"client_name": "Cà Mau", "redirect_uris": ["https://rp.example.vn/cb"]}'.encode("latin-1"),
     "application/json"),
    ("invalid-utf8", b'{"client_name": "\xff\xfe", "redirect_uris": ["https://rp.example.vn/cb"]}',
     "application/json"),
    ("bom", "\ufeff{}".encode("utf-8"), "application/json"),
    ("nan", b'{"default_max_age": NaN, "redirect_uris": ["https://rp.example.vn/cb"]}', "application/json"),
    ("infinity", b'{"x": 1e999, "redirect_uris": ["https://rp.example.vn/cb"]}', "application/json"),
    ("huge-int", b'{"x": ' + b"9" * 5000 + b"}", "application/json"),
    ("lone-surrogate", b'{"client_name": "\\ud800", "redirect_uris": ["https://rp.example.vn/cb"]}',
     "application/json"),
    ("nul", b'{"client_name": "a\\u0000b", "redirect_uris": ["https://rp.example.vn/cb"]}', "application/json"),
    ("deep", b'{"x": ' + b"[" * 30000 + b"]" * 30000 + b"}", "application/json"),
    ("nested", b'{"x": ' + b"[" * 20 + b"]" * 20 + b', "redirect_uris": ["https://rp.example.vn/cb"]}',
     "application/json"),
    ("over-64k", json.dumps(web_meta(padding="x" * 70000)).encode(), "application/json"),
    ("over-app-limit", json.dumps(web_meta(padding="x" * (2 * 1024 * 1024))).encode(), "application/json"),
]


@pytest.mark.parametrize("data,content_type", [(d, c) for _, d, c in BAD_BODIES],
                         ids=[name for name, _, _ in BAD_BODIES])
def test_malformed_bodies_are_invalid_client_metadata(app, client, iat, data, content_type):
    headers = bearer(iat)
    if content_type:
        headers["Content-Type"] = content_type
    response = client.post(REGISTER, data=data, headers=headers)
    assert_error(response, 400, "invalid_client_metadata")
    assert client_count(app) == 0


def test_chunked_body_over_limit(app, client, iat):
    """No Content-Length: the size limit still applies while reading."""
    def post(body):
        return client.post(REGISTER, input_stream=io.BytesIO(body),
                           headers={**bearer(iat), "Content-Type": "application/json",
                                    "Transfer-Encoding": "chunked"},
                           environ_overrides={"wsgi.input_terminated": True})

    small = post(json.dumps(web_meta()).encode())
    assert small.status_code == 201, small.get_data(as_text=True)  # the stream is really read
    large = post(json.dumps(web_meta(padding="x" * 100000)).encode())
    assert_error(large, 400, "invalid_client_metadata")
    assert "too large" in large.json["error_description"]
    assert client_count(app) == 1


def test_content_type_with_charset_is_accepted(client, iat):
    response = client.post(REGISTER, data=json.dumps(web_meta()).encode(),
                           headers={**bearer(iat), "Content-Type": "application/json; charset=utf-8"})
    assert response.status_code == 201, response.get_data(as_text=True)


# -- the initial access token ---------------------------------------------------------------------

@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer"},
    {"Authorization": "Bearer "},
    {"Authorization": "Bearer not-a-token"},
    {"Authorization": "Bearer " + "a" * 5000},
    {"Authorization": "Bearer a b"},
    {"Authorization": "Bearer \u00e9t\u00e9"},
    {"Authorization": "Basic dXNlcjpwYXNz"},
], ids=["missing", "empty", "blank", "wrong", "huge", "spaces", "latin1", "basic"])
def test_registration_needs_a_valid_initial_access_token(app, client, headers):
    response = client.post(REGISTER, json=web_meta(), headers=headers)
    assert_invalid_token(response)
    assert client_count(app) == 0


def test_wrong_scheme_with_real_token_is_refused(app, client, iat):
    assert_invalid_token(client.post(REGISTER, json=web_meta(), headers={"Authorization": "Token " + iat}))


def test_token_is_checked_before_the_body(client):
    response = client.post(REGISTER, data=b"not json", headers={"Content-Type": "text/plain"})
    assert_invalid_token(response)


def _insert_iat(app, expires_at):
    token = new_token()
    with app.app_context():
        db.session.add(InitialAccessToken(digest=digest(token), created_at=expires_at - timedelta(days=7),
                                          expires_at=expires_at, note="test"))
        db.session.commit()
    return token


def test_expired_initial_access_token_is_refused(app, client, clock):
    token = _insert_iat(app, clock.now - timedelta(seconds=1))
    assert_invalid_token(register(client, token, web_meta()))
    assert client_count(app) == 0


def test_initial_access_token_expiry_follows_the_application_clock(app, client, clock):
    token = _insert_iat(app, clock.now + timedelta(hours=1))
    assert register(client, token, web_meta()).status_code == 201
    clock.advance(hours=1)  # expires_at == now: expired
    assert_invalid_token(register(client, token, web_meta()))
    assert client_count(app) == 1


def test_registration_access_token_is_not_an_initial_access_token(client, iat):
    body = register(client, iat, web_meta()).json
    assert_invalid_token(register(client, body["registration_access_token"], web_meta()))


# -- client configuration (RFC 7592) ------------------------------------------------------------

def configure(client, method, body, token, payload=None):
    path = body["registration_client_uri"].removeprefix(ISSUER)
    return client.open(path, method=method, json=payload, headers=bearer(token))


def test_read_update_delete_lifecycle(app, client, iat):
    body = register(client, iat, web_meta(logo_uri="https://rp.example.vn/logo.png")).json
    token, client_id = body["registration_access_token"], body["client_id"]

    read = configure(client, "GET", body, token)
    assert read.status_code == 200 and read.headers["Cache-Control"] == "no-store"
    assert read.json == body  # same metadata, same secret, same token and URI

    update = {**read.json, "client_name": "Cổng mới", "redirect_uris": [REDIRECT, "https://rp.example.vn/cb2"]}
    del update["logo_uri"]  # omitted fields are removed
    update["scope"] = "openid email"
    update.pop("registration_access_token")  # server-issued fields may be sent back and are ignored
    response = configure(client, "PUT", body, token, update)
    assert response.status_code == 200, response.get_data(as_text=True)
    updated = response.json
    assert updated["client_id"] == client_id and updated["client_name"] == "Cổng mới"
    assert updated["redirect_uris"] == [REDIRECT, "https://rp.example.vn/cb2"]
    assert "logo_uri" not in updated and updated["scope"] == "openid email"
    assert updated["client_secret"] == body["client_secret"]
    assert updated["registration_access_token"] == token
    assert configure(client, "GET", body, token).json == updated
    row = stored(app, client_id)
    assert row.meta["client_name"] == "Cổng mới" and "logo_uri" not in row.meta

    minimal = configure(client, "PUT", body, token, {"client_id": client_id, "redirect_uris": [REDIRECT]})
    assert minimal.status_code == 200, minimal.get_data(as_text=True)
    assert "client_name" not in minimal.json
    assert minimal.json["grant_types"] == ["authorization_code"]
    assert minimal.json["id_token_signed_response_alg"] == "RS256"
    assert "offline_access" in minimal.json["scope"].split()

    deleted = configure(client, "DELETE", body, token)
    assert deleted.status_code == 204 and deleted.get_data() == b""
    assert deleted.headers["Cache-Control"] == "no-store"
    assert stored(app, client_id) is None
    for method in ("GET", "PUT", "DELETE"):
        assert_invalid_token(configure(client, method, body, token, {"client_id": client_id}))
    assert audit_tags(app, client_id) == ["oidc:client:register", "oidc:client:update", "oidc:client:update",
                                          "oidc:client:delete"]


def test_id_token_alg_omitted_on_update_returns_to_rs256(client, iat):
    body = register(client, iat, web_meta(id_token_signed_response_alg="ES256")).json
    response = configure(client, "PUT", body, body["registration_access_token"],
                         {"client_id": body["client_id"], "redirect_uris": [REDIRECT]})
    assert response.json["id_token_signed_response_alg"] == "RS256"


def test_another_clients_token_is_refused(app, client, iat):
    mine = register(client, iat, web_meta()).json
    theirs = register(client, iat, web_meta()).json
    for method in ("GET", "PUT", "DELETE"):
        response = configure(client, method, mine, theirs["registration_access_token"],
                             {"client_id": mine["client_id"], "redirect_uris": [REDIRECT]})
        assert_invalid_token(response)
    assert stored(app, mine["client_id"]).meta["client_name"] == "Cổng dịch vụ công Cà Mau"


def test_unknown_client_and_bad_tokens_are_401(client, iat):
    body = register(client, iat, web_meta()).json
    token = body["registration_access_token"]
    assert_invalid_token(client.get(REGISTER + "/no-such-client", headers=bearer(token)))
    assert_invalid_token(client.get(REGISTER + "/no-such-client", headers=bearer("x")))
    assert_invalid_token(client.get(REGISTER + "/" + "x" * 500, headers=bearer(token)))
    assert_invalid_token(client.get(body["registration_client_uri"].removeprefix(ISSUER)))
    assert_invalid_token(configure(client, "GET", body, iat))  # the initial token does not manage clients
    assert_invalid_token(configure(client, "GET", body, token + "x"))


def test_admin_created_client_cannot_be_managed(app, client):
    client_id, _ = make_client(app)
    assert_invalid_token(client.get(f"{REGISTER}/{client_id}", headers=bearer("anything")))


UPDATE_ERRORS = [
    ("missing-client-id", lambda b: {"redirect_uris": [REDIRECT]}, "invalid_client_metadata"),
    ("other-client-id", lambda b: {"client_id": "other", "redirect_uris": [REDIRECT]}, "invalid_client_metadata"),
    ("client-id-type", lambda b: {"client_id": [b["client_id"]], "redirect_uris": [REDIRECT]},
     "invalid_client_metadata"),
    ("wrong-secret", lambda b: {"client_id": b["client_id"], "client_secret": "nope", "redirect_uris": [REDIRECT]},
     "invalid_client_metadata"),
    ("secret-type", lambda b: {"client_id": b["client_id"], "client_secret": 1, "redirect_uris": [REDIRECT]},
     "invalid_client_metadata"),
    ("fragment", lambda b: {"client_id": b["client_id"], "redirect_uris": [REDIRECT + "#x"]},
     "invalid_redirect_uri"),
    ("no-redirects", lambda b: {"client_id": b["client_id"]}, "invalid_redirect_uri"),
    ("grant", lambda b: {"client_id": b["client_id"], "redirect_uris": [REDIRECT], "grant_types": ["password"]},
     "invalid_client_metadata"),
    ("restricted-scope", lambda b: {"client_id": b["client_id"], "redirect_uris": [REDIRECT],
                                    "scope": "openid citizen_id"}, "invalid_client_metadata"),
    ("wrong-type", lambda b: {"client_id": b["client_id"], "redirect_uris": [REDIRECT], "contacts": "x"},
     "invalid_client_metadata"),
]


@pytest.mark.parametrize("make,error", [(m, e) for _, m, e in UPDATE_ERRORS], ids=[n for n, _, _ in UPDATE_ERRORS])
def test_invalid_update_is_rejected_and_changes_nothing(app, client, iat, make, error):
    body = register(client, iat, web_meta()).json
    before = stored(app, body["client_id"]).meta
    response = configure(client, "PUT", body, body["registration_access_token"], make(body))
    assert_error(response, 400, error)
    assert stored(app, body["client_id"]).meta == before
    assert configure(client, "GET", body, body["registration_access_token"]).json == body


@pytest.mark.parametrize("data,content_type", [(b"[]", "application/json"), (b"{", "application/json"),
                                               (b"client_id=x", "application/x-www-form-urlencoded"),
                                               (b"\xff", "application/json")],
                         ids=["array", "malformed", "form", "non-utf8"])
def test_update_with_malformed_body(client, iat, data, content_type):
    body = register(client, iat, web_meta()).json
    response = client.put(body["registration_client_uri"].removeprefix(ISSUER), data=data,
                          headers={**bearer(body["registration_access_token"]), "Content-Type": content_type})
    assert_error(response, 400, "invalid_client_metadata")


def test_update_with_correct_secret_is_accepted(client, iat):
    body = register(client, iat, web_meta()).json
    response = configure(client, "PUT", body, body["registration_access_token"],
                         {"client_id": body["client_id"], "client_secret": body["client_secret"],
                          "redirect_uris": [REDIRECT], "client_name": "Đổi tên"})
    assert response.status_code == 200 and response.json["client_name"] == "Đổi tên"


def test_update_keeps_restricted_scope_granted_by_administrator(app, client, iat):
    body = register(client, iat, web_meta()).json
    with app.app_context():
        service = app.extensions["idp.clients"]
        row = service.get(body["client_id"])
        service.update(row, {**row.meta, "scope": "openid profile citizen_id"})
    response = configure(client, "PUT", body, body["registration_access_token"],
                         {"client_id": body["client_id"], "redirect_uris": [REDIRECT],
                          "scope": "openid citizen_id"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["scope"] == "openid citizen_id"
    response = configure(client, "PUT", body, body["registration_access_token"],
                         {"client_id": body["client_id"], "redirect_uris": [REDIRECT],
                          "scope": "openid citizen_id business"})
    assert_error(response, 400, "invalid_client_metadata")


def test_switching_auth_methods_drops_and_issues_secrets(app, client, iat, accounts):
    accounts()
    body = register(client, iat, web_meta()).json
    token = body["registration_access_token"]
    public = configure(client, "PUT", body, token, {"client_id": body["client_id"], "redirect_uris": [REDIRECT],
                                                    "token_endpoint_auth_method": "none"})
    assert public.status_code == 200 and "client_secret" not in public.json
    assert stored(app, body["client_id"]).secret is None

    confidential = configure(client, "PUT", body, token, {"client_id": body["client_id"],
                                                          "redirect_uris": [REDIRECT]})
    assert confidential.status_code == 200, confidential.get_data(as_text=True)
    secret = confidential.json["client_secret"]
    assert secret and secret != body["client_secret"] and confidential.json["client_secret_expires_at"] == 0
    assert configure(client, "GET", body, token).json["client_secret"] == secret
    code, _ = code_for(app, client, body["client_id"])
    assert exchange(client, body["client_id"], secret, code).status_code == 200


def test_deleting_a_client_ends_its_tokens(app, client, iat, accounts):
    accounts()
    body = register(client, iat, web_meta()).json
    code, _ = code_for(app, client, body["client_id"])
    tokens = exchange(client, body["client_id"], body["client_secret"], code).json
    assert configure(client, "DELETE", body, body["registration_access_token"]).status_code == 204
    info = client.get("/userinfo", headers=bearer(tokens["access_token"]))
    assert info.status_code == 401
    with app.app_context():
        grants = db.session.query(Grant).filter_by(client_id=body["client_id"]).all()
        assert grants and all(g.revoke_reason == "client_deleted" for g in grants)


# -- plumbing -------------------------------------------------------------------------------------

def test_wrong_methods_are_not_server_errors(client, iat):
    body = register(client, iat, web_meta()).json
    assert client.get(REGISTER, headers=bearer(iat)).status_code == 405
    assert client.patch(body["registration_client_uri"].removeprefix(ISSUER), json={},
                        headers=bearer(body["registration_access_token"])).status_code == 405


def test_discovery_advertises_the_registration_endpoint(client):
    response = client.get("/.well-known/openid-configuration")
    assert response.status_code == 200
    assert response.json["registration_endpoint"] == f"{ISSUER}{REGISTER}"
