"""Password login, lockout, rate limits and the SSO session, through the HTTP interface."""
from __future__ import annotations

import uuid

import pytest

from idp.accounts.models import Account, SsoSession
from idp.db import db
from idp.events import AuditEvent
from tests.conftest import PASSWORD, csrf_token, login

GENERIC = "Thông tin đăng nhập không đúng"


def sessions(app):
    with app.app_context():
        return db.session.query(SsoSession).order_by(SsoSession.created_at).all()


def tags(app):
    with app.app_context():
        return [e.tag for e in db.session.query(AuditEvent).order_by(AuditEvent.id)]


@pytest.mark.parametrize("identifier", ["096301001234", "hoa@example.vn", "HOA@example.vn", "0912345678",
                                        "+84912345678", "84 912 345 678"])
def test_login_with_any_identifier_starts_a_session(app, client, accounts, identifier):
    accounts(email="hoa@example.vn", phone="0912345678")
    response = login(client, identifier)
    assert response.status_code == 302
    assert response.headers["Location"] == "/account"
    cookie = client.get_cookie("motid_sso")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    [row] = sessions(app)
    assert row.amr == ["pwd"] and row.acr == "urn:motid:loa:1"
    assert row.id != cookie.value  # only the digest is stored
    page = client.get("/account")
    assert page.status_code == 200 and "Nguyễn Thị Hoa" in page.get_data(as_text=True)


def test_business_logs_in_with_tax_code(client, accounts):
    accounts(kind="business", tax_code="0100109106", business_name="Công ty Năm Căn", full_name="Trần Bình")
    assert login(client, "0100109106").status_code == 302


def test_wrong_password_and_unknown_account_get_the_same_answer(app, client, accounts):
    accounts()
    wrong = login(client, "096301001234", "not-the-password-1")
    unknown = login(client, "096301009999", "not-the-password-1")
    malformed = login(client, "hello", "not-the-password-1")
    for response in (wrong, unknown, malformed):
        assert response.status_code == 200
        assert GENERIC in response.get_data(as_text=True)
    assert client.get_cookie("motid_sso") is None
    assert tags(app).count("account:login:failure") == 3


def test_unknown_account_costs_one_password_verification(app, client, accounts):
    """Same work either way, so response time does not reveal whether an account exists."""
    accounts()
    passwords = app.extensions["idp.passwords"]
    calls = []

    class Counting:
        def __init__(self, inner):
            self.inner = inner

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def verify(self, stored, password):
            calls.append(stored)
            return self.inner.verify(stored, password)

    passwords.hasher = Counting(passwords.hasher)
    login(client, "096301001234", "not-the-password-1")
    login(client, "096301009999", "not-the-password-1")
    assert len(calls) == 2 and all(stored.startswith("$argon2id$") for stored in calls)


def test_lockout_after_repeated_failures_then_expiry(app, client, accounts, clock):
    accounts()
    for _ in range(5):
        login(client, "096301001234", "wrong-password-123")
    assert "account:account:lockout" in tags(app)
    # Even the right password is refused while locked, with the same generic message.
    response = login(client, "096301001234")
    assert response.status_code == 200 and GENERIC in response.get_data(as_text=True)
    clock.advance(minutes=16)
    assert login(client, "096301001234").status_code == 302
    with app.app_context():
        account = db.session.query(Account).one()
        assert account.status == "active" and account.failed_logins == 0


def test_disabled_account_cannot_log_in(app, client, accounts, runner):
    accounts()
    assert runner.invoke(args=["accounts", "disable", "096301001234"]).exit_code == 0
    response = login(client, "096301001234")
    assert GENERIC in response.get_data(as_text=True)


def test_unverified_email_is_asked_to_confirm(client, accounts):
    accounts(email="hoa@example.vn", email_verified=False)
    response = login(client, "096301001234")
    assert response.status_code == 200
    assert "Xác nhận email" in response.get_data(as_text=True) or "xác nhận" in response.get_data(as_text=True)
    assert client.get_cookie("motid_sso") is None


def test_login_rotates_the_session(app, client, accounts):
    accounts()
    login(client, "096301001234")
    first = client.get_cookie("motid_sso").value
    login(client, "096301001234")
    second = client.get_cookie("motid_sso").value
    assert first != second
    rows = sessions(app)
    assert len(rows) == 2 and rows[0].ended_at is not None and rows[0].end_reason == "replaced"
    assert rows[1].ended_at is None


def test_logout_ends_the_session(app, client, accounts):
    accounts()
    login(client, "096301001234")
    token = csrf_token(client, "/logout")
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 200
    assert client.get_cookie("motid_sso") is None
    [row] = sessions(app)
    assert row.ended_at is not None and row.end_reason == "logout"
    assert client.get("/account").status_code == 302


def test_logout_without_csrf_is_refused(client, accounts):
    accounts()
    login(client, "096301001234")
    assert client.post("/logout").status_code == 400
    assert client.get("/account").status_code == 200


def test_idle_timeout_ends_the_session(app, client, accounts, clock):
    accounts()
    login(client, "096301001234")
    clock.advance(minutes=29)
    assert client.get("/account").status_code == 200  # use refreshes last_seen
    clock.advance(minutes=29)
    assert client.get("/account").status_code == 200
    clock.advance(minutes=31)
    assert client.get("/account").status_code == 302
    [row] = sessions(app)
    assert row.end_reason == "expired"


def test_absolute_timeout_ends_an_active_session(client, accounts, clock):
    accounts()
    login(client, "096301001234")
    for _ in range(25):  # 12.5 hours of steady use
        clock.advance(minutes=30)
        client.get("/account")
    assert client.get("/account").status_code == 302


def test_timeouts_are_settings(make_app, accounts, clock):
    app = make_app(IDP_SESSION_IDLE_SECONDS=60)
    client = app.test_client()
    accounts()
    login(client, "096301001234")
    clock.advance(seconds=61)
    assert client.get("/account").status_code == 302


def test_forged_session_cookie_is_no_session(client, accounts):
    client.set_cookie("motid_sso", "x" * 43)
    assert client.get("/account").status_code == 302
    client.set_cookie("motid_sso", "y" * 4000)
    assert client.get("/account").status_code in (302, 400, 431)


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:x"])
def test_next_is_never_an_open_redirect(client, accounts, target):
    accounts()
    token = csrf_token(client, "/login")
    response = client.post("/login", query_string={"next": target},
                           data={"csrf_token": token, "identifier": "096301001234", "password": PASSWORD})
    assert response.headers["Location"] == "/account"


def test_next_keeps_a_local_path(client, accounts):
    accounts()
    token = csrf_token(client, "/login")
    response = client.post("/login?next=/account/password", data={
        "csrf_token": token, "identifier": "096301001234", "password": PASSWORD})
    assert response.headers["Location"] == "/account/password"


def test_login_hint_prefills_the_form(client):
    page = client.get("/login?login_hint=hoa@example.vn").get_data(as_text=True)
    assert 'value="hoa@example.vn"' in page


def test_account_pages_require_login(client):
    response = client.get("/account/password")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")


def test_per_account_limit_applies_across_addresses(make_app, accounts):
    app = make_app(IDP_LOGIN_LIMIT_PER_ACCOUNT="3/minute", IDP_LOCKOUT_THRESHOLD=100)
    accounts()
    client = app.test_client()
    for i in range(3):
        response = login(client, "096301001234", "wrong-password-123",
                         environ_base={"REMOTE_ADDR": f"10.0.0.{i}"})
        assert response.status_code == 200
    response = login(client, "096 301 001 234", environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert response.status_code == 429
    assert "Quá nhiều lần thử" in response.get_data(as_text=True)
    assert response.headers["Retry-After"]


def test_per_ip_limit(make_app, accounts):
    app = make_app(IDP_LOGIN_LIMIT_PER_IP="2/minute")
    client = app.test_client()
    login(client, "096301000001", "wrong-password-123")
    login(client, "096301000002", "wrong-password-123")
    assert login(client, "096301000003", "wrong-password-123").status_code == 429
    other = app.test_client()
    assert login(other, "096301000004", "wrong-password-123",
                 environ_base={"REMOTE_ADDR": "10.1.1.1"}).status_code == 200


def test_redis_shares_limits_between_processes(make_app, accounts):
    """Two app instances (as two gunicorn workers would be) count against one Redis."""
    import redis

    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/0").ping()
    except redis.exceptions.ConnectionError:
        pytest.fail("Redis is not running on 127.0.0.1:6379 (.ci/run starts it)")
    prefix = "motid-test-" + uuid.uuid4().hex
    settings = dict(IDP_REDIS_URL="redis://127.0.0.1:6379/0", RATELIMIT_KEY_PREFIX=prefix,
                    IDP_LOGIN_LIMIT_PER_IP="2/minute")
    first, second = make_app(**settings), make_app(**settings)
    assert login(first.test_client(), "096301000001", "wrong-password-123").status_code == 200
    assert login(second.test_client(), "096301000001", "wrong-password-123").status_code == 200
    assert login(first.test_client(), "096301000001", "wrong-password-123").status_code == 429
