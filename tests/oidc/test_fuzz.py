"""Malformed input to every protocol endpoint: the answer is always a 4xx in the protocol's shape, never a 500."""
from __future__ import annotations

import base64
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import login
from tests.oidc.helpers import REDIRECT, basic, make_client

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300)
junk_jwt = st.one_of(
    text,
    st.builds(lambda a, b, c: f"{a}.{b}.{c}", text, text, text),
    st.builds(lambda h, p: base64.urlsafe_b64encode(json.dumps(h).encode()).decode().rstrip("=") + "." +
              base64.urlsafe_b64encode(json.dumps(p).encode()).decode().rstrip("=") + ".sig",
              st.dictionaries(st.sampled_from(["alg", "kid", "typ", "crit", "jku"]),
                              st.one_of(text, st.integers(), st.none(), st.lists(st.integers())), max_size=4),
              st.dictionaries(text, st.one_of(text, st.integers(), st.none()), max_size=6)),
)
param_names = st.sampled_from(["client_id", "redirect_uri", "response_type", "scope", "state", "nonce", "prompt",
                               "max_age", "claims", "request", "request_uri", "code_challenge",
                               "code_challenge_method", "response_mode", "id_token_hint", "ui_locales",
                               "login_hint", "acr_values", "display"])


@pytest.fixture
def target(app, accounts):
    accounts()
    client_id, secret = make_client(app)
    return client_id, secret


def assert_not_server_error(response):
    assert response.status_code < 500, response.get_data(as_text=True)[:500]


@FUZZ
@given(params=st.dictionaries(param_names, st.one_of(text, junk_jwt), max_size=8))
def test_authorize_fuzz(app, target, params):
    client_id, _ = target
    base = {"client_id": client_id, "redirect_uri": REDIRECT, "response_type": "code", "scope": "openid"}
    browser = app.test_client()
    login(browser, "096301001234")
    for query in ({**base, **params}, params):
        assert_not_server_error(browser.get("/authorize", query_string=query))
        assert_not_server_error(browser.post("/authorize", data=query))


@FUZZ
@given(data=st.dictionaries(st.sampled_from(["grant_type", "code", "redirect_uri", "refresh_token", "scope",
                                             "code_verifier", "client_id", "client_secret", "client_assertion",
                                             "client_assertion_type"]),
                            st.one_of(text, junk_jwt, st.sampled_from(["authorization_code", "refresh_token",
                                                                        "client_credentials"])), max_size=6),
       auth=st.one_of(st.none(), text))
def test_token_fuzz(app, target, data, auth):
    headers = {"Authorization": "Basic " + base64.b64encode(auth.encode("utf-8", "replace")).decode()} if auth \
        else basic(*target)
    response = app.test_client().post("/token", data=data, headers=headers)
    assert_not_server_error(response)
    assert response.is_json and "error" in response.json or response.status_code == 200


@FUZZ
@given(token=st.one_of(text, junk_jwt), hint=st.one_of(st.none(), text))
def test_introspect_revoke_userinfo_fuzz(app, target, token, hint):
    client = app.test_client()
    data = {"token": token} if hint is None else {"token": token, "token_type_hint": hint}
    for path in ("/introspect", "/revoke"):
        assert_not_server_error(client.post(path, data=data, headers=basic(*target)))
    header = "".join(ch for ch in token if ch not in "\r\n\x00")
    assert_not_server_error(client.get("/userinfo", headers={"Authorization": "Bearer " + header}))
    assert_not_server_error(client.post("/userinfo", data={"access_token": token}))


@pytest.mark.parametrize("body, content_type", [
    (b"\xff\xfe\x00garbage", "application/x-www-form-urlencoded"),
    (b"grant_type=authorization_code&code=%ZZ", "application/x-www-form-urlencoded"),
    (b'{"grant_type": "client_credentials"}', "application/json"),
    (b"a" * 300000, "application/x-www-form-urlencoded"),
])
def test_token_raw_bodies(app, target, body, content_type):
    response = app.test_client().post("/token", data=body, content_type=content_type, headers=basic(*target))
    assert 400 <= response.status_code < 500
