"""``prompt=create`` (Initiating User Registration via OpenID Connect 1.0) and ``prompt=select_account``
(OIDC Core §3.1.2.1) at the authorization endpoint."""
from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.conftest import PASSWORD, csrf_token, login
from tests.oidc.helpers import auth_params, callback, decode, exchange, hidden_fields, make_client

NEWCOMER = {"full_name": "Lê Thị Mai", "citizen_id": "096301005678", "email": "mai.le@example.vn",
            "phone": "0987654321", "birthdate": "2001-03-04", "password": PASSWORD, "confirm": PASSWORD}


def location(response) -> tuple[str, dict]:
    assert response.status_code == 302, (response.status_code, response.get_data(as_text=True)[:300])
    parts = urlsplit(response.headers["Location"])
    return parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}


def link(page: str, text: str) -> str:
    match = re.search(r'<a class="button[^"]*" href="([^"]+)">' + re.escape(text) + "</a>", page)
    assert match, page
    return html.unescape(match.group(1))


def allow(browser, response):
    page = response.get_data(as_text=True)
    assert "_motid_consent" in page, page[:500]
    return browser.post("/authorize", data={**hidden_fields(page), "_motid_consent": "allow"})


def test_discovery_lists_the_prompt_values(client):
    meta = client.get("/.well-known/openid-configuration").json
    assert set(meta["prompt_values_supported"]) == {"none", "login", "consent", "select_account", "create"}


def test_prompt_create_signs_up_then_returns_to_the_authorization(mail_app, smtp):
    client_id, secret = make_client(mail_app)
    browser = mail_app.test_client()
    params = auth_params(client_id, prompt="create")
    path, query = location(browser.get("/authorize?" + urlencode(params)))
    assert path == "/register"
    register_page = "/register?" + urlencode({"next": query["next"]})
    registered = browser.post(register_page, data={**NEWCOMER, "csrf_token": csrf_token(browser, register_page)})
    assert registered.status_code == 200
    onward = link(registered.get_data(as_text=True), "Đăng nhập và tiếp tục")
    assert browser.get(smtp.last_link("/verify-email/")).status_code == 200
    path, back = location(browser.post(onward, data={"identifier": NEWCOMER["citizen_id"], "password": PASSWORD,
                                                     "csrf_token": csrf_token(browser, onward)}))
    assert path == "/authorize"  # not the sign-up page again: the detour is done
    result = callback(allow(browser, browser.get("/authorize?" + urlencode(back))))
    assert result["state"] == params["state"]
    tokens = exchange(browser, client_id, secret, result["code"]).json
    userinfo = browser.get("/userinfo", headers={"Authorization": "Bearer " + tokens["access_token"]}).json
    assert userinfo["email"] == NEWCOMER["email"] and userinfo["name"] == NEWCOMER["full_name"]


def test_prompt_create_cannot_go_with_none(app, client):
    client_id, _ = make_client(app)
    assert callback(client.get("/authorize?" + urlencode(auth_params(client_id, prompt="none create"))))[
        "error"] == "invalid_request"


def test_select_account_shows_the_current_account_and_continues(app, client, accounts):
    accounts(email="hoa@example.vn")
    client_id, _ = make_client(app, first_party=True)
    login(client, "096301001234")
    params = auth_params(client_id, prompt="select_account")
    page = client.get("/authorize?" + urlencode(params))
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Chọn tài khoản" in text and "Tiếp tục với tài khoản Nguyễn Thị Hoa" in text
    result = callback(client.get(link(text, "Tiếp tục với tài khoản Nguyễn Thị Hoa")))
    assert result["state"] == params["state"] and "code" in result


def test_select_account_in_english(app, client, accounts):
    accounts(email="hoa@example.vn")
    client_id, _ = make_client(app, first_party=True)
    login(client, "096301001234")
    text = client.get("/authorize?" + urlencode(auth_params(client_id, prompt="select_account", ui_locales="en"))
                      ).get_data(as_text=True)
    assert "Continue as Nguyễn Thị Hoa" in text and "Use another account" in text


def test_select_account_can_switch_to_another_account(app, client, accounts):
    accounts(email="hoa@example.vn")
    other = accounts(citizen_id="096301009999", email="binh@example.vn", full_name="Trần Văn Bình")
    client_id, secret = make_client(app, first_party=True)
    login(client, "096301001234")
    text = client.get("/authorize?" + urlencode(auth_params(client_id, prompt="select_account"))
                      ).get_data(as_text=True)
    another = link(text, "Dùng tài khoản khác")
    assert urlsplit(another).path == "/login"
    path, back = location(client.post(another, data={"identifier": "096301009999", "password": PASSWORD,
                                                     "csrf_token": csrf_token(client, another)}))
    assert path == "/authorize"
    result = callback(client.get("/authorize?" + urlencode(back)))  # no chooser again
    tokens = exchange(client, client_id, secret, result["code"]).json
    assert decode(app, tokens["id_token"]).claims["sub"] == other["sub"]


def test_select_account_without_a_session_is_the_login_page(app, client, accounts):
    accounts(email="hoa@example.vn")
    client_id, _ = make_client(app, first_party=True)
    path, query = location(client.get("/authorize?" + urlencode(auth_params(client_id, prompt="select_account"))))
    assert path == "/login"
    path, back = location(client.post("/login?" + urlencode(query), data={
        "identifier": "096301001234", "password": PASSWORD, "csrf_token": csrf_token(client, "/login")}))
    assert "code" in callback(client.get("/authorize?" + urlencode(back)))


def test_select_account_with_prompt_none(app, client, accounts):
    accounts(email="hoa@example.vn")
    client_id, _ = make_client(app, first_party=True)
    login(client, "096301001234")
    result = callback(client.get("/authorize?" + urlencode(auth_params(client_id, prompt="none select_account"))))
    assert result["error"] == "account_selection_required"
    assert "code" in callback(client.get("/authorize?" + urlencode(auth_params(client_id, prompt="none"))))
