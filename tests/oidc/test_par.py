"""Pushed authorization requests (RFC 9126): the /par endpoint, the request_uri at /authorize, the
per-client and server-wide requirement, and the housekeeping purge."""
from __future__ import annotations

import time
import uuid
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from joserfc import jwk, jwt
from werkzeug.datastructures import MultiDict

from idp.oidc.clients import InvalidClientMetadata, validate_metadata
from idp.worker import HOUSEKEEPING_JOBS
from tests.conftest import login
from tests.oidc.helpers import (REDIRECT, auth_params, basic, callback, decode, exchange, hidden_fields, make_client,
                                pkce_pair)

URN = "urn:ietf:params:oauth:request_uri:"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@pytest.fixture
def person(accounts):
    return accounts(email="hoa@example.vn")


@pytest.fixture
def rp(app):
    """A confidential client (client_secret_basic) that is not first-party: the consent page is shown."""
    return make_client(app)


def push(client, client_id, secret=None, /, **params):
    """POST /par with HTTP Basic (or as a public client without a secret); ``None`` values are left out."""
    body = {"client_id": client_id, **params}
    body = {k: v for k, v in body.items() if v is not None}
    return client.post("/par", data=body, headers=basic(client_id, secret) if secret else {})


def pushed_params(client_id, **extra):
    verifier, challenge = pkce_pair()
    params = auth_params(client_id, code_challenge=challenge, code_challenge_method="S256", **extra)
    return verifier, params


def follow(browser, response, clock=None):
    """Follow the browser through login (if asked) and consent to the client's redirect URI."""
    if response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login":
        target = parse_qs(urlsplit(response.headers["Location"]).query)["next"][0]
        assert login(browser, "096301001234").status_code == 302
        response = browser.get(target)
    page = response.get_data(as_text=True)
    if response.status_code == 200 and "_motid_consent" in page:
        response = browser.post("/authorize", data={**hidden_fields(page), "_motid_consent": "allow"})
    return response


def error_of(response):
    assert response.status_code in (400, 401), (response.status_code, response.get_data(as_text=True)[:300])
    assert response.headers["Cache-Control"] == "no-store" and response.mimetype == "application/json"
    return response.status_code, response.json["error"]


# -- discovery and metadata ------------------------------------------------------------------------------

def test_discovery_advertises_par(make_app):
    meta = make_app().test_client().get("/.well-known/openid-configuration").json
    assert meta["pushed_authorization_request_endpoint"] == "http://localhost/par"
    assert meta["require_pushed_authorization_requests"] is False
    required = make_app(IDP_REQUIRE_PAR=True).test_client().get("/.well-known/openid-configuration").json
    assert required["require_pushed_authorization_requests"] is True


def test_client_metadata_flag_must_be_a_boolean():
    meta = {"redirect_uris": [REDIRECT], "require_pushed_authorization_requests": True}
    assert validate_metadata(meta)["require_pushed_authorization_requests"] is True
    with pytest.raises(InvalidClientMetadata, match="require_pushed_authorization_requests"):
        validate_metadata({**meta, "require_pushed_authorization_requests": "yes"})


def test_dynamic_registration_accepts_the_flag(app, client, runner):
    token = runner.invoke(args=["clients", "registration-token"]).output.strip().splitlines()[-1]
    response = client.post("/connect/register", json={"redirect_uris": [REDIRECT],
                                                      "require_pushed_authorization_requests": True},
                           headers={"Authorization": "Bearer " + token})
    assert response.status_code == 201, response.json
    assert response.json["require_pushed_authorization_requests"] is True


# -- the happy path ------------------------------------------------------------------------------------

def test_push_then_authorize_through_login_and_consent_then_token(app, client, person, rp):
    client_id, secret = rp
    verifier, params = pushed_params(client_id, state="pushed-state", nonce="pushed-nonce")
    pushed = push(client, client_id, secret, **params)
    assert pushed.status_code == 201, pushed.json
    assert pushed.headers["Cache-Control"] == "no-store"
    assert pushed.json["request_uri"].startswith(URN) and 60 <= pushed.json["expires_in"] <= 90
    browser = app.test_client()
    # RFC 9126 §4: only client_id and request_uri count; whatever else is in the query is ignored.
    first = browser.get("/authorize?" + urlencode({"client_id": client_id, "request_uri": pushed.json["request_uri"],
                                                   "state": "outer", "scope": "openid phone"}))
    assert first.status_code == 302 and urlsplit(first.headers["Location"]).path == "/login"
    assert "pushed-state" not in first.headers["Location"]  # the pushed parameters stay on the server
    consent = follow(browser, first)
    result = callback(consent)
    assert result["state"] == "pushed-state" and result["iss"] == "http://localhost"
    tokens = exchange(client, client_id, secret, result["code"], code_verifier=verifier)
    assert tokens.status_code == 200, tokens.json
    id_token = decode(app, tokens.json["id_token"]).claims
    assert id_token["nonce"] == "pushed-nonce" and id_token["aud"] == client_id
    assert set(tokens.json["scope"].split()) == {"openid", "profile", "email"}  # not the outer phone


def test_public_client_pushes_with_client_id_and_pkce(app, client, person):
    client_id, _ = make_client(app, first_party=True, token_endpoint_auth_method="none")
    verifier, params = pushed_params(client_id)
    pushed = push(client, client_id, **params)
    assert pushed.status_code == 201, pushed.json
    login(client, "096301001234")
    result = callback(client.get("/authorize?" + urlencode({"client_id": client_id,
                                                             "request_uri": pushed.json["request_uri"]})))
    assert exchange(client, client_id, None, result["code"], code_verifier=verifier).status_code == 200
    without_pkce = push(client, client_id, **auth_params(client_id))
    assert error_of(without_pkce) == (400, "invalid_request")


def test_private_key_jwt_with_the_par_endpoint_as_audience(app, client, person):
    key = jwk.ECKey.generate_key("P-256", auto_kid=True)
    client_id, _ = make_client(app, first_party=True, token_endpoint_auth_method="private_key_jwt",
                               jwks={"keys": [key.as_dict(private=False)]})
    now = int(time.time())
    for aud in ("http://localhost/par", "http://localhost"):
        signed = jwt.encode({"alg": "ES256", "kid": key.kid}, {"iss": client_id, "sub": client_id, "aud": aud,
                            "jti": uuid.uuid4().hex, "iat": now, "exp": now + 60}, key, algorithms=["ES256"])
        response = client.post("/par", data={**pushed_params(client_id)[1], "client_assertion_type": ASSERTION_TYPE,
                                             "client_assertion": signed})
        assert response.status_code == 201, response.json
        assert "client_assertion" not in str(_stored_params(app, response.json["request_uri"]))


def _stored_params(app, request_uri):
    from idp.oidc.models import PushedRequest
    from idp.security import digest
    with app.app_context():
        from idp.db import db
        return db.session.get(PushedRequest, digest(request_uri)).params


# -- the request_uri at the authorization endpoint --------------------------------------------------------

def test_replayed_request_uri_is_refused(app, client, person, rp):
    client_id, secret = rp
    request_uri = push(client, client_id, secret, **pushed_params(client_id)[1]).json["request_uri"]
    login(client, "096301001234")
    query = {"client_id": client_id, "request_uri": request_uri}
    assert client.get("/authorize?" + urlencode(query)).status_code == 200  # the consent page
    again = client.get("/authorize?" + urlencode(query))
    assert again.status_code == 400 and "invalid_request_uri" in again.get_data(as_text=True)  # no redirect known
    redirected = callback(client.get("/authorize?" + urlencode({**query, "redirect_uri": REDIRECT, "state": "s"})))
    assert redirected["error"] == "invalid_request_uri" and redirected["state"] == "s"


def test_expired_request_uri_is_refused(app, client, person, rp, clock):
    client_id, secret = rp
    request_uri = push(client, client_id, secret, **pushed_params(client_id)[1]).json["request_uri"]
    clock.advance(seconds=91)
    response = client.get("/authorize?" + urlencode({"client_id": client_id, "request_uri": request_uri,
                                                     "redirect_uri": REDIRECT}))
    assert callback(response)["error"] == "invalid_request_uri"


def test_request_uri_of_another_client_is_refused_and_not_spent(app, client, person, rp):
    client_id, secret = rp
    other_id, _ = make_client(app, first_party=True)
    request_uri = push(client, client_id, secret, **pushed_params(client_id)[1]).json["request_uri"]
    login(client, "096301001234")
    foreign = client.get("/authorize?" + urlencode({"client_id": other_id, "request_uri": request_uri,
                                                    "redirect_uri": REDIRECT}))
    assert callback(foreign)["error"] == "invalid_request_uri"
    own = client.get("/authorize?" + urlencode({"client_id": client_id, "request_uri": request_uri}))
    assert own.status_code == 200 and "_motid_consent" in own.get_data(as_text=True)


def test_unknown_request_uri_with_unregistered_redirect_shows_an_error_page(app, client, rp):
    client_id, _ = rp
    response = client.get("/authorize?" + urlencode({"client_id": client_id, "request_uri": URN + "nope",
                                                     "redirect_uri": "https://evil.example/cb"}))
    assert response.status_code == 400 and "invalid_request_uri" in response.get_data(as_text=True)


def test_carried_request_is_single_use_and_tamper_proof(app, client, person, rp):
    client_id, secret = rp
    request_uri = push(client, client_id, secret, **pushed_params(client_id)[1]).json["request_uri"]
    login(client, "096301001234")
    page = client.get("/authorize?" + urlencode({"client_id": client_id, "request_uri": request_uri}))
    fields = hidden_fields(page.get_data(as_text=True))
    assert "request_uri" not in fields and fields["client_id"] == client_id
    tampered = client.post("/authorize", data={**fields, "_motid_par": fields["_motid_par"][:-2] + "xx",
                                               "_motid_consent": "allow"})
    assert tampered.status_code == 400 and "invalid_request_uri" in tampered.get_data(as_text=True)
    assert "code" in callback(client.post("/authorize", data={**fields, "_motid_consent": "allow"}))
    replay = client.post("/authorize", data={**fields, "_motid_consent": "allow"})  # the request is gone
    assert replay.status_code == 400 and "invalid_request_uri" in replay.get_data(as_text=True)


def test_carried_request_expires_with_the_detour(app, client, person, rp, clock):
    client_id, secret = rp
    request_uri = push(client, client_id, secret, **pushed_params(client_id)[1]).json["request_uri"]
    first = client.get("/authorize?" + urlencode({"client_id": client_id, "request_uri": request_uri}))
    target = parse_qs(urlsplit(first.headers["Location"]).query)["next"][0]
    clock.advance(seconds=3601)
    login(client, "096301001234")
    late = client.get(target)
    assert late.status_code == 400 and "invalid_request_uri" in late.get_data(as_text=True)


def test_carried_request_is_bound_to_its_client(app, client, person, rp):
    client_id, secret = rp
    other_id, _ = make_client(app)
    request_uri = push(client, client_id, secret, **pushed_params(client_id)[1]).json["request_uri"]
    login(client, "096301001234")
    fields = hidden_fields(client.get("/authorize?" + urlencode({"client_id": client_id,
                                                                  "request_uri": request_uri})).get_data(as_text=True))
    moved = client.post("/authorize", data={**fields, "client_id": other_id, "_motid_consent": "allow"})
    assert moved.status_code == 400 and "invalid_request_uri" in moved.get_data(as_text=True)


# -- refused pushes ----------------------------------------------------------------------------------------

def test_client_authentication_is_required(app, client, rp):
    client_id, secret = rp
    _, params = pushed_params(client_id)
    assert error_of(push(client, client_id, **params)) == (401, "invalid_client")  # no credentials
    assert error_of(push(client, client_id, "wrong-secret", **params)) == (401, "invalid_client")
    assert error_of(client.post("/par", data={**params, "client_id": "unknown"})) == (401, "invalid_client")
    post_id, post_secret = make_client(app, token_endpoint_auth_method="client_secret_post")
    _, post_params = pushed_params(post_id)
    assert client.post("/par", data={**post_params, "client_secret": post_secret}).status_code == 201
    assert error_of(client.post("/par", data={**post_params, "client_secret": "nope"})) == (401, "invalid_client")


def test_client_id_must_be_the_authenticated_clients(app, client, rp):
    client_id, secret = rp
    other_id, _ = make_client(app)
    _, params = pushed_params(other_id)
    assert error_of(push(client, client_id, secret, **{**params, "client_id": other_id})) == (400, "invalid_request")
    missing = client.post("/par", data={k: v for k, v in params.items() if k != "client_id"},
                          headers=basic(client_id, secret))
    assert error_of(missing) == (400, "invalid_request")


def test_request_uri_cannot_be_pushed(app, client, rp):
    client_id, secret = rp
    response = push(client, client_id, secret, request_uri=URN + "x", **pushed_params(client_id)[1])
    assert error_of(response) == (400, "invalid_request")


@pytest.mark.parametrize("change, error", [
    ({"redirect_uri": "https://evil.example/cb"}, "invalid_request"),
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"scope": "profile"}, "invalid_request"),
    ({"code_challenge_method": "plain"}, "invalid_request"),
    ({"response_mode": "fragment"}, "invalid_request"),
    ({"prompt": "none login"}, "invalid_request"),
    ({"claims": "{not json"}, "invalid_request"),
])
def test_pushed_parameters_are_validated_like_the_authorization_endpoint(app, client, rp, change, error):
    client_id, secret = rp
    response = push(client, client_id, secret, **{**pushed_params(client_id)[1], **change})
    assert error_of(response) == (400, error)
    assert "Location" not in response.headers and "state" not in response.json


def test_repeated_parameter_is_refused(app, client, rp):
    client_id, secret = rp
    body = MultiDict(list(pushed_params(client_id)[1].items()) + [("scope", "openid")])
    response = client.post("/par", data=body, headers=basic(client_id, secret))
    assert error_of(response) == (400, "invalid_request")


def test_get_is_not_allowed(client):
    assert client.get("/par").status_code == 405


# -- a request object inside the push (RFC 9126 §3) -----------------------------------------------------

@pytest.fixture
def signer(app):
    key = jwk.RSAKey.generate_key(2048, auto_kid=True)
    client_id, secret = make_client(app, first_party=True, jwks={"keys": [key.as_dict(private=False)]})
    return client_id, secret, key


def request_object(client_id, key, /, **claims):
    body = {"iss": client_id, "aud": "http://localhost", "exp": int(time.time()) + 60,
            **pushed_params(client_id)[1], **claims}
    return jwt.encode({"alg": "RS256", "kid": key.kid}, body, key, algorithms=["RS256"])


def test_signed_request_object_inside_a_push(app, client, person, signer):
    client_id, secret, key = signer
    obj = request_object(client_id, key, state="from-object", jti="object-1")
    pushed = push(client, client_id, secret, request=obj, state="outer-ignored")
    assert pushed.status_code == 201, pushed.json
    login(client, "096301001234")
    result = callback(client.get("/authorize?" + urlencode({"client_id": client_id,
                                                             "request_uri": pushed.json["request_uri"]})))
    assert result["state"] == "from-object" and "code" in result
    assert error_of(push(client, client_id, secret, request=obj)) == (400, "invalid_request_object")  # jti spent


def test_request_object_with_a_bad_signature_inside_a_push(app, client, signer):
    client_id, secret, _ = signer
    stranger = jwk.RSAKey.generate_key(2048, auto_kid=True)
    response = push(client, client_id, secret, request=request_object(client_id, stranger))
    assert error_of(response) == (400, "invalid_request_object")


def test_request_object_of_another_client_inside_a_push(app, client, signer):
    client_id, secret, key = signer
    other_id, _ = make_client(app)
    response = push(client, client_id, secret, request=request_object(client_id, key, client_id=other_id))
    assert error_of(response) == (400, "invalid_request_object")


# -- requiring PAR ---------------------------------------------------------------------------------------------

def test_client_that_must_push(app, client, person):
    client_id, secret = make_client(app, first_party=True, require_pushed_authorization_requests=True)
    login(client, "096301001234")
    _, params = pushed_params(client_id)
    refused = callback(client.get("/authorize?" + urlencode(params)))
    assert refused["error"] == "invalid_request" and refused["state"] == params["state"]
    request_uri = push(client, client_id, secret, **params).json["request_uri"]
    assert "code" in callback(client.get("/authorize?" + urlencode({"client_id": client_id,
                                                                     "request_uri": request_uri})))
    free_id, _ = make_client(app, first_party=True)
    assert "code" in callback(client.get("/authorize?" + urlencode(pushed_params(free_id)[1])))


def test_server_that_requires_par(make_app, accounts):
    app = make_app(IDP_REQUIRE_PAR=True)
    accounts(email="hoa@example.vn")
    client_id, secret = make_client(app, first_party=True)
    browser = app.test_client()
    login(browser, "096301001234")
    _, params = pushed_params(client_id)
    assert callback(browser.get("/authorize?" + urlencode(params)))["error"] == "invalid_request"
    no_redirect = browser.get("/authorize?" + urlencode({"client_id": client_id}))
    assert no_redirect.status_code == 400 and "invalid_request" in no_redirect.get_data(as_text=True)
    request_uri = push(browser, client_id, secret, **params).json["request_uri"]
    assert "code" in callback(browser.get("/authorize?" + urlencode({"client_id": client_id,
                                                                      "request_uri": request_uri})))


# -- housekeeping --------------------------------------------------------------------------------------------

def test_expired_pushed_requests_are_purged_by_housekeeping(app, client, rp, clock):
    from idp.worker import run_jobs
    client_id, secret = rp
    old = push(client, client_id, secret, **pushed_params(client_id)[1]).json["request_uri"]
    clock.advance(seconds=60)
    fresh = push(client, client_id, secret, **pushed_params(client_id)[1]).json["request_uri"]
    clock.advance(seconds=31)
    with app.app_context():
        run_jobs(app.extensions[HOUSEKEEPING_JOBS], clock)
    from idp.db import db
    from idp.oidc.models import PushedRequest
    from idp.security import digest
    with app.app_context():
        assert db.session.get(PushedRequest, digest(old)) is None
        assert db.session.get(PushedRequest, digest(fresh)) is not None
