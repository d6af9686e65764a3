"""WebAuthn challenge replay (issue 11 item 9), from the attacker's side: someone who captured a
browser's UI cookie (holding a pending challenge) and the assertion or registration response sent
with it replays both. The authenticator reports sign count 0 (many platform passkeys do), so the
counter check cannot catch a replay: only the server-side, single-use challenge can."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from idp.accounts.models import Passkey, SsoSession
from idp.db import db
from tests.accounts.test_passkeys import csrf, post_json
from tests.accounts.webauthn_soft import SoftAuthenticator
from tests.conftest import PASSWORD, login

UI_COOKIE = "motid_ui"


class ZeroCountAuthenticator(SoftAuthenticator):
    """Signs every assertion with sign count 0."""

    def get(self, options, **kwargs):
        self.counter = -1  # get() adds one
        return super().get(options, **kwargs)


def cookie(client):
    return client.get_cookie(UI_COOKIE, domain="localhost").value


def replaying(app, captured_cookie):
    attacker = app.test_client()
    attacker.set_cookie(UI_COOKIE, captured_cookie, domain="localhost")
    return attacker


def live_sessions(app):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(SsoSession).where(SsoSession.ended_at.is_(None)))


@pytest.fixture
def passkey_alone(app, accounts):
    """A citizen who logs in with a passkey alone (sign count always 0)."""
    accounts(email="hoa@example.vn")
    owner = app.test_client()
    login(owner, "hoa@example.vn")
    authenticator = ZeroCountAuthenticator()
    token = csrf(owner)
    options = post_json(owner, "/account/security/passkeys/options", token=token).json
    assert post_json(owner, "/account/security/passkeys", {"credential": authenticator.create(options)},
                     token=token).json["ok"]
    owner.post("/account/security/passkeys/login-alone", data={"csrf_token": token, "enabled": "1"})
    return authenticator


def captured_login(app, authenticator):
    """The victim's browser asks for a challenge; the attacker copies its cookie, CSRF token and
    the assertion it sends."""
    victim = app.test_client()
    token = csrf(victim, "/login")
    options = post_json(victim, "/login/passkey/options", token=token).json
    return victim, cookie(victim), token, {"credential": authenticator.get(options)}


def test_replayed_cookie_and_assertion_do_not_log_in(app, passkey_alone):
    victim, stolen_cookie, token, assertion = captured_login(app, passkey_alone)
    assert post_json(victim, "/login/passkey", assertion, token=token).json["ok"]
    before = live_sessions(app)
    attacker = replaying(app, stolen_cookie)
    replay = post_json(attacker, "/login/passkey", assertion, token=token)
    assert replay.status_code == 400 and replay.json["error"] == "passkey.expired"
    assert attacker.get("/account").status_code == 302 and live_sessions(app) == before


def test_replay_before_the_victim_uses_it_wins_nothing_twice(app, passkey_alone):
    """The challenge is spent by whoever comes first; the second presentation fails either way."""
    victim, stolen_cookie, token, assertion = captured_login(app, passkey_alone)
    assert post_json(replaying(app, stolen_cookie), "/login/passkey", assertion, token=token).json["ok"]
    assert post_json(victim, "/login/passkey", assertion, token=token).status_code == 400


def test_parallel_replays_of_one_challenge_log_in_once(app, passkey_alone):
    _victim, stolen_cookie, token, assertion = captured_login(app, passkey_alone)
    before = live_sessions(app)
    attackers = [replaying(app, stolen_cookie) for _ in range(6)]
    start = threading.Barrier(len(attackers))
    answers = [None] * len(attackers)

    def replay(i):
        start.wait()
        answers[i] = post_json(attackers[i], "/login/passkey", assertion, token=token).status_code

    threads = [threading.Thread(target=replay, args=(i,)) for i in range(len(attackers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(answers) == [200] + [400] * (len(attackers) - 1)
    assert live_sessions(app) == before + 1


def test_replayed_registration_does_not_bring_back_a_removed_passkey(app, accounts):
    accounts(email="hoa@example.vn")
    owner = app.test_client()
    login(owner, "hoa@example.vn")
    token = csrf(owner)
    options = post_json(owner, "/account/security/passkeys/options", token=token).json
    stolen_cookie = cookie(owner)
    response = {"name": "Điện thoại cũ", "credential": ZeroCountAuthenticator().create(options)}
    assert post_json(owner, "/account/security/passkeys", response, token=token).json["ok"]
    with app.app_context():
        passkey_id = db.session.scalars(select(Passkey.id)).one()
    owner.post(f"/account/security/passkeys/{passkey_id}/remove", data={"csrf_token": token, "password": PASSWORD})
    attacker = replaying(app, stolen_cookie)
    attacker.set_cookie("motid_sso", owner.get_cookie("motid_sso", domain="localhost").value, domain="localhost")
    replay = post_json(attacker, "/account/security/passkeys", response, token=token)
    assert replay.status_code == 400 and replay.json["error"] == "passkey.expired"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Passkey)) == 0


def test_an_expired_challenge_is_refused(app, passkey_alone, clock):
    victim, _cookie, token, assertion = captured_login(app, passkey_alone)
    clock.advance(seconds=121)
    response = post_json(victim, "/login/passkey", assertion, token=token)
    assert response.status_code == 400 and response.json["error"] == "passkey.expired"


def test_old_challenges_are_swept(app, passkey_alone, clock):
    from idp.accounts.models import WebAuthnChallenge
    captured_login(app, passkey_alone)
    clock.advance(hours=2)
    captured_login(app, passkey_alone)
    with app.app_context():
        rows = db.session.scalars(select(WebAuthnChallenge)).all()
        assert len(rows) == 1 and rows[0].purpose == "login" and rows[0].used_at is None


def test_challenges_cannot_be_minted_without_limit(make_app):
    """Each /login/passkey/options stores a challenge row: it is limited like a login attempt."""
    app = make_app(IDP_LOGIN_LIMIT_PER_IP="3/minute")
    stranger = app.test_client()
    token = csrf(stranger, "/login")
    answers = [post_json(stranger, "/login/passkey/options", token=token).status_code for _ in range(5)]
    assert answers == [200, 200, 200, 429, 429]
