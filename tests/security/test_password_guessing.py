"""Password guessing from the attacker's side: a stolen session guessing at the re-confirmation pages
(issue 11 item 5), and parallel wrong passwords racing the failure counter (item 6)."""
from __future__ import annotations

import re
import threading

import pyotp
import pytest
from sqlalchemy import select

from idp.accounts.models import Account
from idp.db import db
from idp.events import AuditEvent
from tests.conftest import CSRF_RE, PASSWORD, csrf_token, login, post_form

SECRET_RE = re.compile(r'<code id="totp-secret">([A-Z2-7]+)</code>')
WRONG = "không-phải-mật-khẩu-1"
GENERIC = "Thông tin đăng nhập không đúng"

# Every page that asks a logged-in person for their password again, and what else it needs.
RECONFIRMATION_PAGES = {
    "recovery codes": ("/account/security/recovery-codes", {}),
    "turn off the authenticator app": ("/account/security/totp/disable", {"code": "123456"}),
    "remove a passkey": ("/account/security/passkeys/1/remove", {}),
    "remove a certificate": ("/account/security/certificates/1/remove", {"code": "123456"}),
    "change the password": ("/account/password", {"password": "Một-mật-khẩu-mới-2026",
                                                  "confirm": "Một-mật-khẩu-mới-2026"}),
}


def events(app, tag):
    with app.app_context():
        return [e.details for e in db.session.scalars(select(AuditEvent).where(AuditEvent.tag == tag)
                                                       .order_by(AuditEvent.id))]


def stored(app) -> Account:
    with app.app_context():
        account = db.session.scalars(select(Account)).one()
        db.session.expunge(account)
        return account


@pytest.fixture
def stolen_session(app, accounts, clock):
    """A browser logged in at level 2 (password and authenticator app), as a thief would find it."""
    accounts(email="hoa@example.vn")
    client = app.test_client()
    login(client, "hoa@example.vn")
    secret = SECRET_RE.search(client.get("/account/security/totp").get_data(as_text=True)).group(1)
    assert post_form(client, "/account/security/totp", {"code": pyotp.TOTP(secret).at(clock.now)}).status_code == 200
    assert client.get("/account/security").status_code == 200
    return client


def guess(client, path, password, extra):
    token = CSRF_RE.search(client.get("/account/security").get_data(as_text=True)).group(1)
    field = "current_password" if path == "/account/password" else "password"
    return client.post(path, data={"csrf_token": token, field: password, **extra})


# -- item 5: re-confirmation follows the login rules ----------------------------------------------------
@pytest.mark.parametrize("page", RECONFIRMATION_PAGES)
def test_guessing_at_a_reconfirmation_page_locks_the_account(app, stolen_session, page):
    path, extra = RECONFIRMATION_PAGES[page]
    for _ in range(5):  # IDP_LOCKOUT_THRESHOLD
        assert guess(stolen_session, path, WRONG, extra).status_code in (200, 302)
    failures = events(app, "account:password:confirm_failure")
    assert [f["consecutive"] for f in failures] == [1, 2, 3, 4, 5]
    assert len(events(app, "account:account:lockout")) == 1
    assert stored(app).status == "locked"
    # Locked: the right password no longer confirms anything here, and the login page refuses it too.
    guess(stolen_session, path, PASSWORD, extra)
    assert events(app, "account:password:confirm_failure")[-1] == {"reason": "locked"}
    assert stored(app).password_hash is not None and stored(app).totp_secret is not None
    refused = login(app.test_client(), "hoa@example.vn")
    assert refused.status_code == 200 and GENERIC in refused.get_data(as_text=True)


def test_guesses_at_the_login_page_and_in_a_session_share_one_lockout(app, stolen_session):
    for _ in range(3):
        login(app.test_client(), "hoa@example.vn", WRONG)
    path, extra = RECONFIRMATION_PAGES["recovery codes"]
    guess(stolen_session, path, WRONG, extra)
    assert stored(app).status == "active"
    guess(stolen_session, path, WRONG, extra)
    assert stored(app).status == "locked"


def test_a_right_reconfirmation_is_recorded_and_resets_the_count(app, stolen_session):
    path, extra = RECONFIRMATION_PAGES["recovery codes"]
    guess(stolen_session, path, WRONG, extra)
    assert stored(app).failed_logins == 1
    assert guess(stolen_session, path, PASSWORD, extra).status_code == 200  # the new codes
    assert stored(app).failed_logins == 0 and len(events(app, "account:password:confirm")) == 1


def test_reconfirmation_is_rate_limited_per_account(make_app, accounts, clock):
    app = make_app(IDP_LOGIN_LIMIT_PER_ACCOUNT="3/minute", IDP_LOCKOUT_THRESHOLD=100)
    accounts(email="hoa@example.vn")
    client = app.test_client()
    login(client, "hoa@example.vn")
    token = csrf_token(client, "/account/password")
    answers = [client.post("/account/security/passkeys/1/remove", data={"csrf_token": token, "password": WRONG})
               .status_code for _ in range(4)]
    assert answers == [302, 302, 302, 429]
    assert events(app, "account:password:confirm_failure")[-1] == {"reason": "rate_limited"}
    # The limit counts the account, not the page or the browser.
    other = app.test_client()
    login(other, "hoa@example.vn")
    blocked = other.post("/account/password", data={"csrf_token": csrf_token(other, "/account/password"),
                                                    "current_password": PASSWORD, "password": "Một-mật-khẩu-mới-2026",
                                                    "confirm": "Một-mật-khẩu-mới-2026"})
    assert blocked.status_code == 429


# -- item 6: the failure counter under parallel guesses -------------------------------------------------
def parallel_wrong_logins(app, n):
    """``n`` browsers send a wrong password at the same moment (real threads, real database)."""
    browsers = [app.test_client() for _ in range(n)]
    tokens = [csrf_token(browser, "/login") for browser in browsers]
    start = threading.Barrier(n)
    answers = [None] * n

    def attempt(i):
        start.wait()
        answers[i] = browsers[i].post("/login", data={"csrf_token": tokens[i], "identifier": "hoa@example.vn",
                                                      "password": WRONG}).status_code

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert answers == [200] * n


def test_parallel_wrong_passwords_are_each_counted(make_app, accounts):
    app = make_app(IDP_LOCKOUT_THRESHOLD=1000)
    accounts(email="hoa@example.vn")
    parallel_wrong_logins(app, 12)
    assert stored(app).failed_logins == 12
    counted = [e["consecutive"] for e in events(app, "account:login:failure") if e.get("reason") == "password"]
    assert sorted(counted) == list(range(1, 13))


def test_parallel_wrong_passwords_lock_at_the_threshold(make_app, accounts):
    app = make_app(IDP_LOCKOUT_THRESHOLD=5)
    accounts(email="hoa@example.vn")
    parallel_wrong_logins(app, 10)
    account = stored(app)
    assert account.status == "locked"
    failures = events(app, "account:login:failure")
    counted = [e["consecutive"] for e in failures if e["reason"] == "password"]
    assert len(failures) == 10 and {e["reason"] for e in failures} <= {"password", "locked"}
    # Every counted guess is in the count: each run of five locked the account once (the lock
    # starts a new run), and what is left over is the counter.
    assert sorted(counted) == sorted(i % 5 + 1 for i in range(len(counted)))
    assert len(events(app, "account:account:lockout")) == len(counted) // 5 >= 1
    assert account.failed_logins == len(counted) % 5
    refused = login(app.test_client(), "hoa@example.vn")
    assert GENERIC in refused.get_data(as_text=True)
