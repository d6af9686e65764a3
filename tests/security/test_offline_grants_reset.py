"""Offline access after a password reset (issue 11 item 10), from the client's side: the refresh
token an application holds for ``offline_access`` must stop working at /token (``invalid_grant``)
when the password is reset by mail link, by an administrator, or from the command line; a voluntary
change ends it when the person ticks the box (ticked by default) and keeps it when they do not."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from idp.accounts.models import Account
from idp.db import db
from idp.events import AuditEvent
from idp.oidc.models import Grant
from tests.admin.conftest import admin_login, mint_token, world  # noqa: F401  (fixtures)
from tests.conftest import PASSWORD, post_form
from tests.oidc.helpers import auth_params, authorize, basic, callback, code_for, exchange, make_client

NEW = "Một-mật-khẩu-mới-2026"
API = "/admin/api/v1"


@pytest.fixture
def app(make_app, smtp):
    return make_app(IDP_SMTP_URL=smtp.url)


def refresh(client, client_id, secret, token):
    return client.post("/token", data={"grant_type": "refresh_token", "refresh_token": token},
                       headers=basic(client_id, secret))


def assert_dead(client, client_id, secret, tokens):
    answer = refresh(client, client_id, secret, tokens["refresh_token"])
    assert answer.status_code == 400 and answer.json["error"] == "invalid_grant", answer.json
    assert client.get("/userinfo", headers={"Authorization": "Bearer " + tokens["access_token"]}).status_code == 401


@pytest.fixture
def offline(app, accounts):
    """A citizen's browser logged in, and an application holding an offline refresh token for them."""
    accounts(email="hoa@example.vn")
    client_id, secret = make_client(app)
    browser = app.test_client()
    code, _ = code_for(app, browser, client_id, scope="openid offline_access")
    tokens = exchange(app.test_client(), client_id, secret, code).json
    assert "refresh_token" in tokens
    return browser, client_id, secret, tokens


def test_reset_by_mail_link_ends_offline_access(app, smtp, offline):
    _browser, client_id, secret, tokens = offline
    stranger = app.test_client()
    post_form(stranger, "/password/forgot", {"email": "hoa@example.vn"})
    link = smtp.last_link("/password/reset/")
    assert post_form(stranger, link, {"password": NEW, "confirm": NEW}).status_code == 302
    assert_dead(app.test_client(), client_id, secret, tokens)
    with app.app_context():
        assert db.session.scalars(select(Grant.revoke_reason)).all() == ["password_reset"]
        assert db.session.scalars(select(AuditEvent.details).where(
            AuditEvent.tag == "account:applications:revoke")).all() == [{"reason": "password_reset", "grants": 1}]


def test_a_reset_link_refused_for_a_weak_password_ends_nothing(app, smtp, offline):
    _browser, client_id, secret, tokens = offline
    stranger = app.test_client()
    post_form(stranger, "/password/forgot", {"email": "hoa@example.vn"})
    post_form(stranger, smtp.last_link("/password/reset/"), {"password": "123", "confirm": "123"})
    assert refresh(app.test_client(), client_id, secret, tokens["refresh_token"]).status_code == 200


def test_set_password_from_the_command_line_ends_offline_access(app, offline):
    _browser, client_id, secret, tokens = offline
    result = app.test_cli_runner().invoke(args=["accounts", "set-password", "hoa@example.vn"], input=NEW + "\n")
    assert result.exit_code == 0, result.output
    assert_dead(app.test_client(), client_id, secret, tokens)


def change(browser, **extra):
    return post_form(browser, "/account/password", {"current_password": PASSWORD, "password": NEW,
                                                    "confirm": NEW, **extra})


def test_the_box_is_ticked_by_default(offline):
    browser = offline[0]
    page = browser.get("/account/password").get_data(as_text=True)
    [box] = re.findall(r'<input[^>]*name="end_offline_access"[^>]*>', page)
    assert 'type="checkbox"' in box and re.search(r"\schecked[\s>]", box)


def test_voluntary_change_with_the_box_ticked_ends_offline_access(app, offline):
    browser, client_id, secret, tokens = offline
    # A second application the person is using right now, online only: it keeps working.
    online_id, online_secret = make_client(app, client_name="Một cửa")
    online = exchange(app.test_client(), online_id, online_secret,
                      callback(authorize(browser, auth_params(online_id)))["code"]).json
    assert change(browser, end_offline_access="y").status_code == 302
    assert_dead(app.test_client(), client_id, secret, tokens)
    assert app.test_client().get("/userinfo", headers={"Authorization": "Bearer " + online["access_token"]}
                                 ).status_code == 200
    assert browser.get("/account").status_code == 200  # the person stays logged in


def test_voluntary_change_with_the_box_unticked_keeps_offline_access(app, offline):
    browser, client_id, secret, tokens = offline
    assert change(browser).status_code == 302  # an unticked box is not sent at all
    renewed = refresh(app.test_client(), client_id, secret, tokens["refresh_token"])
    assert renewed.status_code == 200 and renewed.json["refresh_token"]


def test_an_administrators_forced_reset_ends_an_administrators_offline_admin_access(app, world, clock):  # noqa: F811
    """A unit administrator's offline refresh token for an admin tool; the province administrator
    forces a reset of that person's password: the token no longer reaches the admin API."""
    tool_id, tool_secret = make_client(app, first_party=True, scope="openid offline_access admin:accounts")
    person = world.people["an_phu_admin"]
    browser = admin_login(app.test_client(), clock, person)
    params = auth_params(tool_id, scope="openid offline_access admin:accounts")
    tokens = exchange(app.test_client(), tool_id, tool_secret, callback(authorize(browser, params))["code"]).json
    bearer = {"Authorization": "Bearer " + tokens["access_token"]}
    officer = world.people["an_phu_officer"]["sub"]
    assert app.test_client().get(f"{API}/accounts/{officer}", headers=bearer).status_code == 200
    province = {"Authorization": "Bearer " + mint_token(app, account_id=world.people["province"]["id"])}
    forced = app.test_client().post(f"{API}/accounts/{person['sub']}/password-reset", headers=province)
    assert forced.status_code == 200, forced.json
    answer = refresh(app.test_client(), tool_id, tool_secret, tokens["refresh_token"])
    assert answer.status_code == 400 and answer.json["error"] == "invalid_grant"
    assert app.test_client().get(f"{API}/accounts/{officer}", headers=bearer).status_code == 401
    with app.app_context():
        grant = db.session.scalars(select(Grant).where(Grant.client_id == tool_id)).one()
        assert grant.revoke_reason == "admin_password_reset"
        assert db.session.get(Account, person["id"]).password_hash is None
