"""Passkeys: registration, second factor, passkey-alone login, step-up, and forged responses."""
from __future__ import annotations

import re

import pytest

from idp.accounts.models import Passkey, SsoSession
from idp.db import db
from tests.accounts.webauthn_soft import SoftAuthenticator
from tests.conftest import PASSWORD, login


META_RE = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def csrf(client, page="/account/security"):
    """The CSRF token every page carries for scripts (and forms)."""
    return META_RE.search(client.get(page).get_data(as_text=True)).group(1)


def post_json(client, path, body=None, token=None):
    return client.post(path, json=body or {}, headers={"X-CSRFToken": token} if token else {})


def register(client, authenticator, name="Điện thoại", **kwargs):
    token = csrf(client)
    options = post_json(client, "/account/security/passkeys/options", token=token).json
    assert options["rp"]["id"] == "localhost" and options["authenticatorSelection"]
    return post_json(client, "/account/security/passkeys",
                     {"name": name, "credential": authenticator.create(options, **kwargs)}, token=token)


@pytest.fixture
def with_passkey(app, client, accounts):
    accounts(email="hoa@example.vn")
    login(client, "hoa@example.vn")
    authenticator = SoftAuthenticator()
    response = register(client, authenticator)
    assert response.status_code == 200 and response.json["ok"], response.json
    return authenticator


def live_session(app):
    """The newest live session."""
    with app.app_context():
        return db.session.query(SsoSession).filter(SsoSession.ended_at.is_(None)).order_by(
            SsoSession.created_at.desc(), SsoSession.auth_time.desc()).first()


def passkey_get(client, authenticator, query="", **kwargs):
    token = csrf(client, "/login")
    options = post_json(client, "/login/passkey/options" + query, token=token).json
    return post_json(client, "/login/passkey" + query, {"credential": authenticator.get(options, **kwargs)},
                     token=token)


def test_registered_passkey_is_listed_and_stored(app, client, with_passkey):
    page = client.get("/account/security").get_data(as_text=True)
    assert 'value="Điện thoại"' in page
    with app.app_context():
        stored = db.session.query(Passkey).one()
        assert stored.credential_id and stored.public_key and stored.sign_count == 0


def test_passkey_as_second_factor(app, with_passkey, clock):
    clock.advance(seconds=5)
    client = app.test_client()
    assert login(client, "hoa@example.vn").headers["Location"] == "/login/second-factor"
    response = passkey_get(client, with_passkey)
    assert response.json["ok"], response.json
    session = live_session(app)
    assert session.acr == "urn:motid:loa:2" and session.amr == ["pwd", "hwk", "mfa"]


def test_passkey_alone_only_when_enabled(app, client, with_passkey):
    other = app.test_client()
    refused = passkey_get(other, with_passkey)
    assert refused.status_code == 403 and refused.json["error"] == "passkey.not_allowed"
    client.post("/account/security/passkeys/login-alone", data={"csrf_token": csrf(client), "enabled": "1"})
    allowed = passkey_get(other, with_passkey)
    assert allowed.json["ok"] and other.get("/account").status_code == 200


def test_passkey_alone_needs_user_verification(app, client, with_passkey):
    client.post("/account/security/passkeys/login-alone", data={"csrf_token": csrf(client), "enabled": "1"})
    response = passkey_get(app.test_client(), with_passkey, user_verified=False)
    assert response.status_code == 400


@pytest.mark.parametrize("change", [{"tamper": True}, {"rp_id": "evil.example"}, {"origin": "https://evil.example"}])
def test_forged_or_foreign_assertions_fail(app, with_passkey, change):
    client = app.test_client()
    login(client, "hoa@example.vn")
    response = passkey_get(client, with_passkey, **change)
    assert response.status_code == 400 and response.json["error"] == "passkey.invalid"
    assert client.get("/account").status_code == 302


def test_registration_from_another_origin_fails(app, client, accounts):
    accounts(email="hoa@example.vn")
    login(client, "hoa@example.vn")
    response = register(client, SoftAuthenticator(), origin="https://evil.example")
    assert response.status_code == 400
    with app.app_context():
        assert db.session.query(Passkey).count() == 0


def test_challenge_is_single_use(app, with_passkey):
    client = app.test_client()
    login(client, "hoa@example.vn")
    token = csrf(client, "/login")
    options = post_json(client, "/login/passkey/options", token=token).json
    assertion = with_passkey.get(options)
    assert post_json(client, "/login/passkey", {"credential": assertion}, token=token).json["ok"]
    replay = app.test_client()
    login(replay, "hoa@example.vn")
    token = csrf(replay, "/login")
    post_json(replay, "/login/passkey/options", token=token)
    assert post_json(replay, "/login/passkey", {"credential": assertion}, token=token).status_code == 400


def test_another_accounts_passkey_cannot_complete_my_login(app, with_passkey, accounts):
    accounts(citizen_id="096301009999", email="lan@example.vn")
    lan = app.test_client()
    login(lan, "lan@example.vn")
    lan_key = SoftAuthenticator()
    assert register(lan, lan_key).json["ok"]
    client = app.test_client()
    login(client, "hoa@example.vn")
    assert passkey_get(client, lan_key).status_code == 400


def test_malformed_requests(app, client, with_passkey):
    token = csrf(client)
    for body in (None, {"credential": "x"}, {"credential": {"id": 5}}, {"credential": {"id": "AAAA"}}):
        assert post_json(client, "/login/passkey", body, token=token).status_code == 400
    assert client.post("/login/passkey", data="not json", content_type="application/json",
                       headers={"X-CSRFToken": token}).status_code == 400
    assert post_json(client, "/login/passkey/options").status_code == 400  # no CSRF token


def test_rename_and_remove(app, client, with_passkey):
    with app.app_context():
        passkey_id = db.session.query(Passkey).one().id
    client.post(f"/account/security/passkeys/{passkey_id}/rename", data={"csrf_token": csrf(client), "name": "Máy tính"})
    assert 'value="Máy tính"' in client.get("/account/security").get_data(as_text=True)
    client.post(f"/account/security/passkeys/{passkey_id}/remove", data={"csrf_token": csrf(client), "password": "x"})
    with app.app_context():
        assert db.session.query(Passkey).count() == 1
    client.post(f"/account/security/passkeys/{passkey_id}/remove",
                data={"csrf_token": csrf(client), "password": PASSWORD})
    with app.app_context():
        assert db.session.query(Passkey).count() == 0


def test_step_up_with_a_passkey(app, client, with_passkey):
    with app.app_context():
        row = db.session.query(SsoSession).filter(SsoSession.ended_at.is_(None)).one()
        row.acr, row.amr = "urn:motid:loa:1", ["pwd"]
        sid = row.sid
        db.session.commit()
    response = passkey_get(client, with_passkey, query="?step_up=1")
    assert response.json["ok"]
    session = live_session(app)
    assert session.sid == sid and session.acr == "urn:motid:loa:2" and "hwk" in session.amr
