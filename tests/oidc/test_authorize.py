"""Authorization endpoint: errors in the spec's shape, prompt, max_age, hints, consent, response modes."""
from __future__ import annotations

import json
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.conftest import CSRF_RE, login
from tests.oidc.helpers import REDIRECT, auth_params, authorize, callback, code_for, hidden_fields, decode, exchange, make_client


@pytest.fixture
def rp(app, accounts):
    accounts(email="hoa@example.vn")
    return make_client(app)


def get(client, **params):
    return client.get("/authorize?" + urlencode(params))


def test_unknown_client_is_an_error_page_not_a_redirect(client, rp):
    response = get(client, **auth_params("nope"))
    assert response.status_code == 400 and "Location" not in response.headers
    assert "invalid_request" in response.get_data(as_text=True)


@pytest.mark.parametrize("uri", ["https://evil.example/cb", REDIRECT + "/", REDIRECT + "?x=1", "", None])
def test_unregistered_redirect_uri_is_never_followed(client, rp, uri):
    client_id, _ = rp
    response = get(client, **auth_params(client_id, redirect_uri=uri))
    assert response.status_code == 400 and "Location" not in response.headers


def test_missing_response_type(client, rp):
    client_id, _ = rp
    result = callback(get(client, **auth_params(client_id, response_type=None)))
    assert result["error"] == "unsupported_response_type" and result["iss"] == "http://localhost"


@pytest.mark.parametrize("response_type", ["token", "id_token", "code id_token", "bogus"])
def test_unsupported_response_type(client, rp, response_type):
    client_id, _ = rp
    params = auth_params(client_id, response_type=response_type)
    result = callback(get(client, **params))
    assert result["error"] in ("unsupported_response_type", "unauthorized_client")
    assert result["state"] == params["state"]


def test_invalid_scope(client, rp):
    client_id, _ = rp
    result = callback(get(client, **auth_params(client_id, scope="openid wizard")))
    assert result["error"] == "invalid_scope"


def test_scope_without_openid(client, rp):
    client_id, _ = rp
    result = callback(get(client, **auth_params(client_id, scope="profile")))
    assert result["error"] == "invalid_request"


def test_repeated_parameter(client, rp):
    client_id, _ = rp
    query = urlencode(auth_params(client_id)) + "&state=second"
    response = client.get("/authorize?" + query)
    assert callback(response)["error"] == "invalid_request"


def test_unknown_parameters_are_ignored(app, client, rp):
    client_id, _ = rp
    code, _ = code_for(app, client, client_id, frobnicate="1", display="touch", acr_values="urn:motid:loa:1")
    assert code


def test_without_session_the_person_is_sent_to_login_with_hints(client, rp):
    client_id, _ = rp
    response = get(client, **auth_params(client_id, login_hint="hoa@example.vn", ui_locales="en-US vi"))
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    query = parse_qs(location.query)
    assert query["login_hint"] == ["hoa@example.vn"] and query["ui_locales"] == ["en-US vi"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'value="hoa@example.vn"' in page and '<html lang="en">' in page
    # After login the request resumes where it was.
    token = CSRF_RE.search(page).group(1)
    back = client.post(response.headers["Location"], data={"csrf_token": token, "identifier": "hoa@example.vn",
                                                          "password": "Mật-khẩu-rất-an-toàn-42"})
    assert back.headers["Location"].startswith("/authorize?")
    consent_page = client.get(back.headers["Location"])
    assert consent_page.status_code == 200 and "_motid_consent" in consent_page.get_data(as_text=True)


def test_prompt_none_without_session(client, rp):
    client_id, _ = rp
    params = auth_params(client_id, prompt="none")
    result = callback(get(client, **params))
    assert result == {"error": "login_required", "state": params["state"], "iss": "http://localhost",
                      "error_description": result.get("error_description")} or result["error"] == "login_required"


def test_prompt_none_needs_consent(client, rp):
    client_id, _ = rp
    login(client, "hoa@example.vn")
    result = callback(get(client, **auth_params(client_id, prompt="none")))
    assert result["error"] == "consent_required"


def test_prompt_none_with_session_and_consent_succeeds_silently(app, client, rp):
    client_id, _ = rp
    code_for(app, client, client_id)  # consents once
    result = callback(get(client, **auth_params(client_id, prompt="none")))
    assert "code" in result


def test_prompt_none_combined_is_invalid(client, rp):
    client_id, _ = rp
    assert callback(get(client, **auth_params(client_id, prompt="none login")))["error"] == "invalid_request"


def test_prompt_login_forces_fresh_authentication(app, client, rp, clock):
    client_id, secret = rp
    code, _ = code_for(app, client, client_id)
    first = decode(app, exchange(client, client_id, secret, code).json["id_token"]).claims
    clock.advance(minutes=5)
    params = auth_params(client_id, prompt="login")
    response = get(client, **params)
    assert urlsplit(response.headers["Location"]).path == "/login"
    resume = parse_qs(urlsplit(response.headers["Location"]).query)["next"][0]
    login(client, "hoa@example.vn")
    result = callback(authorize_resume(client, resume))
    second = decode(app, exchange(client, client_id, secret, result["code"]).json["id_token"]).claims
    assert second["auth_time"] > first["auth_time"]


def authorize_resume(client, path):
    response = client.get(path)
    if response.status_code == 200:
        form = {**hidden_fields(response.get_data(as_text=True)), "_motid_consent": "allow"}
        response = client.post("/authorize", data=form)
    return response


def test_max_age(app, client, rp, clock):
    client_id, _ = rp
    code_for(app, client, client_id)
    clock.advance(minutes=10)
    assert "code" in callback(get(client, **auth_params(client_id, max_age="900")))
    assert get(client, **auth_params(client_id, max_age="300")).headers["Location"].startswith("/login")
    assert callback(get(client, **auth_params(client_id, max_age="300", prompt="none")))["error"] == "login_required"
    assert callback(get(client, **auth_params(client_id, max_age="soon")))["error"] == "invalid_request"


def test_id_token_hint(app, client, rp, accounts):
    client_id, secret = rp
    code, _ = code_for(app, client, client_id)
    id_token = exchange(client, client_id, secret, code).json["id_token"]
    assert "code" in callback(get(client, **auth_params(client_id, prompt="none", id_token_hint=id_token)))
    tampered = id_token[:-4] + ("AAAA" if not id_token.endswith("AAAA") else "BBBB")
    result = callback(get(client, **auth_params(client_id, prompt="none", id_token_hint=tampered)))
    assert result["error"] == "invalid_request"


def test_consent_is_remembered_and_can_be_denied(app, client, rp):
    client_id, _ = rp
    login(client, "hoa@example.vn")
    params = auth_params(client_id)
    page = authorize(client, params, consent=False)
    text = page.get_data(as_text=True)
    assert "Cổng dịch vụ công" in text and "Họ tên" in text or "họ tên" in text
    form = hidden_fields(text)
    denied = client.post("/authorize", data={**form, "_motid_consent": "deny"})
    assert callback(denied)["error"] == "access_denied"
    allowed = client.post("/authorize", data={**form, "_motid_consent": "allow"})
    assert "code" in callback(allowed)
    assert "code" in callback(get(client, **auth_params(client_id)))  # remembered
    # A wider request asks again.
    assert get(client, **auth_params(client_id, scope="openid profile email phone")).status_code == 200
    # prompt=consent always asks.
    assert get(client, **auth_params(client_id, prompt="consent")).status_code == 200


def test_consent_decision_needs_csrf(client, rp):
    client_id, _ = rp
    login(client, "hoa@example.vn")
    params = auth_params(client_id)
    response = client.post("/authorize", data={**params, "_motid_consent": "allow"})
    assert response.status_code == 400 and "Location" not in response.headers


def test_first_party_skips_consent(app, client, accounts):
    accounts()
    client_id, _ = make_client(app, first_party=True)
    login(client, "096301001234")
    assert "code" in callback(get(client, **auth_params(client_id)))


def test_withdrawn_consent_is_asked_again_and_ends_tokens(app, client, rp):
    client_id, secret = rp
    code, _ = code_for(app, client, client_id)
    tokens = exchange(client, client_id, secret, code).json
    page = client.get("/account/consents").get_data(as_text=True)
    assert "Cổng dịch vụ công" in page
    token = CSRF_RE.search(page).group(1)
    assert client.post(f"/account/consents/{client_id}/withdraw", data={"csrf_token": token}).status_code == 302
    assert client.get("/userinfo", headers={"Authorization": "Bearer " + tokens["access_token"]}).status_code == 401
    assert get(client, **auth_params(client_id)).status_code == 200  # consent page again


def test_form_post_response_mode(app, client, rp):
    client_id, _ = rp
    code_for(app, client, client_id)
    params = auth_params(client_id, response_mode="form_post")
    response = get(client, **params)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert f'action="{REDIRECT}"' in page and 'name="code"' in page and f'value="{params["state"]}"' in page
    assert 'name="iss" value="http://localhost"' in page and "form_post.js" in page
    assert "form-action https://rp.example.vn" in response.headers["Content-Security-Policy"]


def test_unsupported_response_mode(client, rp):
    client_id, _ = rp
    assert callback(get(client, **auth_params(client_id, response_mode="fragment")))["error"] == "invalid_request"


def test_post_to_authorize(app, client, rp):
    client_id, _ = rp
    code_for(app, client, client_id)
    assert "code" in callback(client.post("/authorize", data=auth_params(client_id)))


def test_claims_parameter(app, client, accounts):
    accounts(email="hoa@example.vn", phone="0912345678")
    client_id, secret = make_client(app, scope="openid profile email phone citizen_id")
    claims = {"id_token": {"email": {"essential": True}}, "userinfo": {"phone_number": None, "citizen_id": None}}
    code, _ = code_for(app, client, client_id, scope="openid", claims=json.dumps(claims))
    tokens = exchange(client, client_id, secret, code).json
    id_claims = decode(app, tokens["id_token"]).claims
    assert id_claims["email"] == "hoa@example.vn" and "name" not in id_claims
    info = client.get("/userinfo", headers={"Authorization": "Bearer " + tokens["access_token"]}).json
    assert info["phone_number"] == "+84912345678" and info["citizen_id"] == "096301001234"
    assert "email" not in info


def test_malformed_claims_parameter(client, rp):
    client_id, _ = rp
    login(client, "hoa@example.vn")
    for bad in ("{not json", "[1,2]", json.dumps({"userinfo": []})):
        assert callback(get(client, **auth_params(client_id, claims=bad)))["error"] == "invalid_request"


def test_restricted_scope_needs_the_administrators_permission(app, client, rp):
    client_id, secret = rp  # not allowed citizen_id
    code, _ = code_for(app, client, client_id, scope="openid citizen_id")
    tokens = exchange(client, client_id, secret, code).json
    assert tokens["scope"] == "openid"
    info = client.get("/userinfo", headers={"Authorization": "Bearer " + tokens["access_token"]}).json
    assert "citizen_id" not in info


def test_state_is_echoed_on_success(app, client, rp):
    client_id, _ = rp
    code, params = code_for(app, client, client_id, state="a b&c=d")
    assert code
