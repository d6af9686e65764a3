"""TOTP (RFC 6238), recovery codes, remembered browsers, forced enrolment, assurance and step-up."""
from __future__ import annotations

import re

import pyotp
import pytest

from idp.accounts.models import Account
from idp.db import db
from idp.events import AuditEvent
from tests.conftest import CSRF_RE, PASSWORD, login, post_form
from tests.oidc.helpers import auth_params, callback, decode, exchange, make_client

SECRET_RE = re.compile(r'<code id="totp-secret">([A-Z2-7]+)</code>')


def code_at(secret, clock, offset_steps=0):
    return pyotp.TOTP(secret).at(int(clock.now.timestamp()) + 30 * offset_steps)


def enrol(client, clock):
    page = client.get("/account/security/totp").get_data(as_text=True)
    secret = SECRET_RE.search(page).group(1)
    assert "<svg" in page and "otpauth" not in page.split("<svg", 1)[0][-200:]
    response = post_form(client, "/account/security/totp", {"code": code_at(secret, clock)})
    codes = re.findall(r"<li><code>([0-9a-f-]+)</code></li>", response.get_data(as_text=True))
    assert len(codes) == 10
    return secret, codes


@pytest.fixture
def app(make_app, smtp):
    """Every app in this module sends real mail to the test SMTP server."""
    return make_app(IDP_SMTP_URL=smtp.url)


@pytest.fixture
def enrolled(app, client, accounts, clock):
    accounts(email="hoa@example.vn")
    login(client, "hoa@example.vn")
    secret, codes = enrol(client, clock)
    post_form(client, "/logout", {})
    clock.advance(seconds=90)  # well past the step used at enrolment
    return secret, codes


def post_from(client, page, path, data):
    """POST to a form-less endpoint with the CSRF token of ``page``."""
    token = CSRF_RE.search(client.get(page).get_data(as_text=True)).group(1)
    return client.post(path, data={"csrf_token": token, **data})


def tags(app):
    with app.app_context():
        return [e.tag for e in db.session.query(AuditEvent)]


def test_enrolment_saves_the_secret_only_after_a_valid_code(app, client, accounts, clock):
    accounts()
    login(client, "096301001234")
    page = client.get("/account/security/totp").get_data(as_text=True)
    secret = SECRET_RE.search(page).group(1)
    wrong = post_form(client, "/account/security/totp", {"code": "000000" if code_at(secret, clock) != "000000"
                                                          else "111111"})
    assert "không đúng" in wrong.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(Account).one().totp_secret is None
    # The same secret is kept across reloads until it is proven.
    assert SECRET_RE.search(client.get("/account/security/totp").get_data(as_text=True)).group(1) == secret
    post_form(client, "/account/security/totp", {"code": code_at(secret, clock)})
    with app.app_context():
        stored = db.session.query(Account).one().totp_secret
        assert stored and secret not in stored  # encrypted


def test_login_asks_for_the_code_and_gives_level_2(app, client, enrolled, clock):
    secret, _ = enrolled
    response = login(client, "hoa@example.vn")
    assert response.headers["Location"] == "/login/second-factor"
    assert client.get_cookie("motid_sso") is None  # no session before the second factor
    assert client.get("/account").status_code == 302
    done = post_form(client, "/login/second-factor", {"code": code_at(secret, clock)})
    assert done.status_code == 302 and client.get("/account").status_code == 200
    with app.app_context():
        from idp.accounts.models import SsoSession
        session = db.session.query(SsoSession).filter(SsoSession.ended_at.is_(None)).one()
        assert session.acr == "urn:motid:loa:2" and session.amr == ["pwd", "otp", "mfa"]


@pytest.mark.parametrize("offset, accepted", [(-2, False), (-1, True), (0, True), (1, True), (2, False)])
def test_clock_drift_of_one_step(client, enrolled, clock, offset, accepted):
    secret, _ = enrolled
    login(client, "hoa@example.vn")
    response = post_form(client, "/login/second-factor", {"code": code_at(secret, clock, offset)})
    assert (response.status_code == 302) is accepted


def test_replayed_code_is_refused(app, client, enrolled, clock):
    secret, _ = enrolled
    code = code_at(secret, clock)
    login(client, "hoa@example.vn")
    assert post_form(client, "/login/second-factor", {"code": code}).status_code == 302
    other = app.test_client()
    login(other, "hoa@example.vn")
    again = post_form(other, "/login/second-factor", {"code": code})
    assert again.status_code == 200 and "đã được dùng" in again.get_data(as_text=True)
    # Even the previous step is now refused: it is at or before the last accepted one.
    assert post_form(other, "/login/second-factor", {"code": code_at(secret, clock, -1)}).status_code == 200
    assert "account:totp:failure" in tags(app)


@pytest.mark.parametrize("value", ["12345", "1234567", "abcdef", "", "12 34 5"])
def test_malformed_codes(client, enrolled, value):
    login(client, "hoa@example.vn")
    assert post_form(client, "/login/second-factor", {"code": value}).status_code == 200


def test_code_with_spaces_is_accepted(client, enrolled, clock):
    secret, _ = enrolled
    login(client, "hoa@example.vn")
    code = code_at(secret, clock)
    assert post_form(client, "/login/second-factor", {"code": code[:3] + " " + code[3:]}).status_code == 302


def test_code_for_another_account(app, client, enrolled, accounts, clock):
    accounts(citizen_id="096301009999", email="lan@example.vn")
    other_secret = pyotp.random_base32()
    login(client, "hoa@example.vn")
    assert post_form(client, "/login/second-factor", {"code": code_at(other_secret, clock)}).status_code == 200


def test_recovery_code_works_once_and_warns_by_email(app, client, enrolled, smtp, clock):
    _, codes = enrolled
    login(client, "hoa@example.vn")
    assert post_form(client, "/login/second-factor", {"code": codes[0].upper()}).status_code == 302
    assert "recovery" in smtp.messages[-1]["Subject"].lower() or "khôi phục" in smtp.messages[-1]["Subject"]
    other = app.test_client()
    login(other, "hoa@example.vn")
    assert post_form(other, "/login/second-factor", {"code": codes[0]}).status_code == 200
    assert post_form(other, "/login/second-factor", {"code": codes[1]}).status_code == 302


def test_regenerated_recovery_codes_replace_the_old(app, client, enrolled, clock):
    secret, codes = enrolled
    login(client, "hoa@example.vn")
    post_form(client, "/login/second-factor", {"code": code_at(secret, clock)})
    page = post_from(client, "/account/security", "/account/security/recovery-codes",
                     {"password": PASSWORD}).get_data(as_text=True)
    fresh = re.findall(r"<li><code>([0-9a-f-]+)</code></li>", page)
    assert len(fresh) == 10 and not set(fresh) & set(codes)
    other = app.test_client()
    login(other, "hoa@example.vn")
    assert post_form(other, "/login/second-factor", {"code": codes[2]}).status_code == 200
    assert post_form(other, "/login/second-factor", {"code": fresh[0]}).status_code == 302


def test_pending_login_expires(client, enrolled, clock):
    secret, _ = enrolled
    login(client, "hoa@example.vn")
    token = CSRF_RE.search(client.get("/login/second-factor").get_data(as_text=True)).group(1)
    clock.advance(seconds=301)
    response = client.post("/login/second-factor", data={"csrf_token": token, "code": code_at(secret, clock)})
    assert response.headers["Location"] == "/login"


def test_remember_this_browser(app, client, enrolled, clock):
    secret, _ = enrolled
    login(client, "hoa@example.vn")
    post_form(client, "/login/second-factor", {"code": code_at(secret, clock), "remember": "y"})
    post_form(client, "/logout", {})
    assert login(client, "hoa@example.vn").headers["Location"] == "/account"  # no second factor asked
    # A different browser is still asked.
    assert login(app.test_client(), "hoa@example.vn").headers["Location"] == "/login/second-factor"
    # A password change ends it.
    post_form(client, "/account/password", {"current_password": PASSWORD, "password": "Một-mật-khẩu-mới-2026",
                                            "confirm": "Một-mật-khẩu-mới-2026"})
    post_form(client, "/logout", {})
    assert login(client, "hoa@example.vn", "Một-mật-khẩu-mới-2026").headers["Location"] == "/login/second-factor"


def test_turning_off_needs_password_and_code(app, client, enrolled, clock):
    secret, _ = enrolled
    login(client, "hoa@example.vn")
    post_form(client, "/login/second-factor", {"code": code_at(secret, clock)})
    clock.advance(seconds=30)
    post_from(client, "/account/security", "/account/security/totp/disable",
              {"password": "wrong-password-x", "code": code_at(secret, clock)})
    with app.app_context():
        assert db.session.query(Account).one().totp_secret is not None
    post_from(client, "/account/security", "/account/security/totp/disable",
              {"password": PASSWORD, "code": code_at(secret, clock)})
    with app.app_context():
        assert db.session.query(Account).one().totp_secret is None


def test_officers_must_enrol_at_login(app, client, accounts, clock):
    accounts(kind="officer", citizen_id="096190000456", email="chau@camau.gov.vn")
    response = login(client, "chau@camau.gov.vn")
    assert response.headers["Location"] == "/account/security/totp"
    assert client.get("/account").status_code == 302  # not logged in yet
    secret, _ = enrol(client, clock)
    assert client.get("/account").status_code == 200


def test_administrator_reset(app, client, enrolled, runner, smtp):
    result = runner.invoke(args=["accounts", "reset-second-factor", "hoa@example.vn"])
    assert result.exit_code == 0, result.output
    assert "account:totp:admin_reset" in tags(app)
    assert login(client, "hoa@example.vn").headers["Location"] == "/account"
    assert runner.invoke(args=["accounts", "reset-second-factor", "hoa@example.vn"]).exit_code != 0


# -- assurance in tokens and step-up ------------------------------------------------------------------
def test_step_up_keeps_the_session_and_raises_acr(app, client, accounts, clock):
    accounts(email="hoa@example.vn")
    login(client, "hoa@example.vn")
    secret, _ = enrol(client, clock)  # enrolling from a live session already raises it; start over
    post_form(client, "/logout", {})
    clock.advance(seconds=31)
    client_id, client_secret = make_client(app, first_party=True)
    # A password-only session via a remembered-less login: log in, then use a recovery-less step-up.
    login(client, "hoa@example.vn")
    post_form(client, "/login/second-factor", {"code": code_at(secret, clock)})
    tokens = exchange(client, client_id, client_secret,
                      callback(client.get("/authorize", query_string=auth_params(client_id))).get("code"))
    claims = decode(app, tokens.json["id_token"]).claims
    assert claims["acr"] == "urn:motid:loa:2" and claims["amr"] == ["pwd", "otp", "mfa"]


def test_acr_values_trigger_step_up_for_a_weak_session(app, client, accounts, clock):
    accounts(email="hoa@example.vn")
    client_id, client_secret = make_client(app, first_party=True)
    with app.app_context():
        account = db.session.query(Account).one()
        secret = pyotp.random_base32()
        app.extensions["idp.totp"].enable(account, secret, code_at(secret, clock), now=clock.now)
        db.session.commit()
    clock.advance(seconds=31)
    # A level-1 session (e.g. from before the person enrolled): log in, then drop to level 1.
    login(client, "hoa@example.vn")
    post_form(client, "/login/second-factor", {"code": code_at(secret, clock)})
    with app.app_context():
        from idp.accounts.models import SsoSession
        row = db.session.query(SsoSession).filter(SsoSession.ended_at.is_(None)).one()
        row.acr, row.amr = "urn:motid:loa:1", ["pwd"]
        sid = row.sid
        db.session.commit()
    first = callback(client.get("/authorize", query_string=auth_params(client_id)))
    first_claims = decode(app, exchange(client, client_id, client_secret, first["code"]).json["id_token"]).claims
    assert first_claims["acr"] == "urn:motid:loa:1"
    silent = callback(client.get("/authorize", query_string=auth_params(client_id, acr_values="urn:motid:loa:2",
                                                                        prompt="none")))
    assert silent["error"] == "interaction_required"
    response = client.get("/authorize", query_string=auth_params(client_id, acr_values="urn:motid:loa:2"))
    assert response.headers["Location"].startswith("/login/second-factor?next=")
    clock.advance(seconds=31)
    back = post_form(client, response.headers["Location"], {"code": code_at(secret, clock)})
    result = callback(client.get(back.headers["Location"]))
    claims = decode(app, exchange(client, client_id, client_secret, result["code"]).json["id_token"]).claims
    assert claims["acr"] == "urn:motid:loa:2" and claims["sid"] == sid and claims["auth_time"] > first_claims["auth_time"]


def test_unreachable_level_is_an_error_not_a_weaker_token(app, client, accounts):
    accounts(email="hoa@example.vn")
    client_id, _ = make_client(app, first_party=True)
    login(client, "hoa@example.vn")
    result = callback(client.get("/authorize", query_string=auth_params(client_id, acr_values="urn:motid:loa:2")))
    assert result["error"] == "unmet_authentication_requirements"
    result = callback(client.get("/authorize", query_string=auth_params(client_id, acr_values="urn:motid:loa:3")))
    assert result["error"] == "unmet_authentication_requirements"


def test_essential_acr_claim(app, client, accounts):
    import json
    accounts(email="hoa@example.vn")
    client_id, _ = make_client(app, first_party=True)
    login(client, "hoa@example.vn")
    claims = {"id_token": {"acr": {"essential": True, "values": ["urn:motid:loa:2"]}}}
    result = callback(client.get("/authorize", query_string=auth_params(client_id, claims=json.dumps(claims))))
    assert result["error"] == "unmet_authentication_requirements"


def test_discovery_lists_levels(client):
    assert client.get("/.well-known/openid-configuration").json["acr_values_supported"] == [
        "urn:motid:loa:1", "urn:motid:loa:2", "urn:motid:loa:3"]


def test_code_attempts_are_rate_limited_per_account(make_app, accounts, clock, smtp):
    app = make_app(IDP_SMTP_URL=smtp.url, IDP_SECOND_FACTOR_LIMIT="3/minute")
    accounts(email="hoa@example.vn")
    client = app.test_client()
    login(client, "hoa@example.vn")
    secret, _ = enrol(client, clock)
    post_form(client, "/logout", {})
    clock.advance(seconds=90)
    statuses = []
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"):
        browser = app.test_client()
        login(browser, "hoa@example.vn")
        token = CSRF_RE.search(browser.get("/login/second-factor").get_data(as_text=True)).group(1)
        statuses.append(browser.post("/login/second-factor", data={"csrf_token": token, "code": "000000"},
                                     environ_base={"REMOTE_ADDR": address}).status_code)
    assert statuses == [200, 200, 200, 429]
