"""The login-flow service (idp.accounts.login_flow): what each proof yields (amr/acr on the session,
events written), the pending login and its expiry on the app's clock, step-up, and re-confirmation
with its lockout and rate limit. Each test is one browser request, so the UI cookie and the SSO
session carry from one call to the next as they would across pages."""
from __future__ import annotations

import pyotp
import pytest

from idp.accounts import assurance
from idp.accounts.login_flow import PENDING, Step
from idp.accounts.models import Account, SsoSession
from idp.accounts.password_checks import LoginFailed
from idp.db import db
from idp.events import AuditEvent
from tests.conftest import PASSWORD

LOA1, LOA2, LOA3 = assurance.LOA1, assurance.LOA2, assurance.LOA3


@pytest.fixture
def flow(app):
    return app.extensions["idp.login_flow"]


def tags():
    return [event.tag for event in db.session.query(AuditEvent).order_by(AuditEvent.id)]


def live_sessions():
    return db.session.query(SsoSession).filter(SsoSession.ended_at.is_(None)).all()


def with_totp(app, account_id, clock) -> str:
    """Give the account an authenticator app; returns its secret."""
    account = db.session.get(Account, account_id)
    secret = pyotp.random_base32()
    app.extensions["idp.totp"].enable(account, secret, pyotp.TOTP(secret).at(clock.now), now=clock.now)
    db.session.commit()
    clock.advance(seconds=60)  # past the step used to enable it
    return secret


def test_password_alone_is_level_1(app, flow, accounts):
    accounts(email="hoa@example.vn")
    with app.test_request_context("/login?next=/authorize?x=1"):
        step = flow.password_login("hoa@example.vn", PASSWORD, "/authorize?x=1")
        assert step.location == "/authorize?x=1" and step.problem is None
        assert (step.session.amr, step.session.acr) == (["pwd"], LOA1)
        assert tags()[-1] == "account:login:success"
        assert db.session.query(AuditEvent).order_by(AuditEvent.id.desc()).first().details["amr"] == ["pwd"]


def test_wrong_password_and_unverified_email(app, flow, accounts):
    accounts(email="hoa@example.vn", email_verified=False)
    with app.test_request_context("/login"):
        assert flow.password_login("hoa@example.vn", "not-the-password", None) == Step(problem="login_failed")
        step = flow.password_login("hoa@example.vn", PASSWORD, None)
        assert step.problem == "email_unverified" and step.account.email == "hoa@example.vn"
        assert live_sessions() == []


def test_next_never_leaves_the_site(app, flow, accounts):
    accounts(email="hoa@example.vn")
    with app.test_request_context("/login"):
        assert flow.password_login("hoa@example.vn", PASSWORD, "https://evil.example/").location == "/account"


def test_second_factor_is_pending_then_level_2(app, flow, accounts, clock):
    created = accounts(email="hoa@example.vn")
    with app.test_request_context("/login"):
        secret = with_totp(app, created["id"], clock)
        step = flow.password_login("hoa@example.vn", PASSWORD, "/authorize?x=1")
        assert step.location == "/login/second-factor" and step.session is None
        assert live_sessions() == []  # nothing but the note until the second factor
        due = flow.second_factor_due(None)
        assert due.location is None and due.account.id == created["id"] and due.session is None
        wrong = flow.code_entered(due, "000000" if pyotp.TOTP(secret).at(clock.now) != "000000" else "111111",
                                  remember=False, next_url=None)
        assert wrong.problem == "code_wrong" and "account:totp:failure" in tags()
        done = flow.code_entered(due, pyotp.TOTP(secret).at(clock.now), remember=False, next_url="/ignored")
        assert done.location == "/authorize?x=1"  # where the pending login was going
        assert (done.session.amr, done.session.acr) == (["pwd", "otp", "mfa"], LOA2)
        assert flow.pending_account() is None


def test_pending_login_lasts_five_minutes_on_the_app_clock(app, flow, accounts, clock):
    created = accounts(email="hoa@example.vn")
    with app.test_request_context("/login"):
        with_totp(app, created["id"], clock)
        flow.password_login("hoa@example.vn", PASSWORD, None)
        clock.advance(seconds=300)
        assert flow.pending_account().id == created["id"]
        clock.advance(seconds=1)
        assert flow.pending_account() is None
        due = flow.second_factor_due(None)
        assert due.location == "/login" and due.notice


def test_officer_without_second_factor_must_enrol(app, flow, accounts, clock):
    created = accounts(kind="officer", citizen_id="096190000456", email="chau@camau.gov.vn")
    with app.test_request_context("/login"):
        step = flow.password_login("chau@camau.gov.vn", PASSWORD, "/account/password")
        assert step.location == "/account/security/totp" and step.notice
        from flask import session
        assert session[PENDING]["enrol"] is True
        account = flow.enrolling_account()
        secret = app.extensions["idp.totp"].enrolment_secret(account, session)
        done = flow.enrol_totp(account, secret, pyotp.TOTP(secret).at(clock.now), None)
        assert done.location == "/account/password" and len(done.codes) == 10
        [sso] = live_sessions()
        assert (sso.account_id, sso.amr, sso.acr) == (created["id"], ["pwd", "otp", "mfa"], LOA2)


def test_step_up_with_a_code_keeps_the_session(app, flow, accounts, clock):
    created = accounts(email="hoa@example.vn")
    with app.test_request_context("/login"):
        first = flow.password_login("hoa@example.vn", PASSWORD, None).session
        secret = with_totp(app, created["id"], clock)
        due = flow.second_factor_due("/authorize?y=2")
        assert due.session is first
        step = flow.code_entered(due, pyotp.TOTP(secret).at(clock.now), remember=False, next_url="/authorize?y=2")
        assert step.location == "/authorize?y=2" and step.session.sid == first.sid
        assert (step.session.amr, step.session.acr) == (["pwd", "otp", "mfa"], LOA2)
        assert tags()[-1] == "account:login:step_up"


@pytest.mark.parametrize("key", ["hwk", "swk"])
def test_certificate_completes_a_pending_password_login_at_level_3(app, flow, accounts, clock, key):
    created = accounts(email="hoa@example.vn")
    with app.test_request_context("/login"):
        with_totp(app, created["id"], clock)
        flow.password_login("hoa@example.vn", PASSWORD, "/authorize?z=3")
        account = db.session.get(Account, created["id"])
        step = flow.certificate_passed(account, key, None)
        assert step.location == "/authorize?z=3"
        assert (step.session.amr, step.session.acr) == (["pwd", key, "mfa"], LOA3)
        assert flow.pending_account() is None


def test_certificate_raises_a_password_session_and_starts_one_alone(app, flow, accounts):
    accounts(email="hoa@example.vn")
    other = accounts(citizen_id="096301009999", email="lan@example.vn")
    with app.test_request_context("/login"):
        first = flow.password_login("hoa@example.vn", PASSWORD, None).session
        raised = flow.certificate_passed(first.account, "swk", "/account")
        assert raised.session.sid == first.sid
        assert (raised.session.amr, raised.session.acr) == (["pwd", "swk", "mfa"], LOA3)
        # Someone else's certificate in this browser: a new session of their own, the old one replaced.
        alone = flow.certificate_passed(db.session.get(Account, other["id"]), "hwk", None)
        assert alone.session.sid != first.sid and (alone.session.amr, alone.session.acr) == (["hwk"], LOA3)
        assert first.end_reason == "replaced"


def test_what_each_proof_yields():
    proofs = assurance.PROOFS
    assert proofs["password"].alone == ("pwd",) and proofs["password"].acr == LOA1
    assert proofs["remembered_browser"].after_password == ("pwd", "mfa")
    assert proofs["otp"].after_password == proofs["otp"].step_up == ("pwd", "otp", "mfa")
    assert proofs["passkey"].after_password == ("pwd", "hwk", "mfa") and proofs["passkey"].alone == ("hwk", "mfa")
    assert {proofs[name].acr for name in ("remembered_browser", "otp", "passkey")} == {LOA2}
    assert proofs["hwk"].step_up_without_password == ("hwk",) and proofs["swk"].acr == LOA3


# -- re-confirmation ---------------------------------------------------------------------------------------
def test_reconfirmation_records_and_counts_toward_the_lockout(make_app, accounts, clock):
    app = make_app(IDP_LOCKOUT_THRESHOLD=3)
    created = accounts(email="hoa@example.vn")
    flow = app.extensions["idp.login_flow"]
    with app.test_request_context("/account/security"):
        account = db.session.get(Account, created["id"])
        assert flow.reconfirm_password(account, PASSWORD) is True
        assert tags()[-1] == "account:password:confirm"
        assert flow.reconfirm_password(account, "wrong-one-1") is False
        assert flow.reconfirm_password(account, None) is False
        assert flow.reconfirm_password(account, "wrong-one-3") is False
        assert tags().count("account:password:confirm_failure") == 3 and "account:account:lockout" in tags()
        db.session.refresh(account)
        assert account.status == "locked"
        # While locked even the right password is refused, and the login page refuses it too.
        assert flow.reconfirm_password(account, PASSWORD) is False
        assert flow.password_login("hoa@example.vn", PASSWORD, None).problem == "login_failed"


def test_reconfirmation_rate_limit_passes_through(make_app, accounts):
    app = make_app(IDP_LOGIN_LIMIT_PER_ACCOUNT="2/minute")
    created = accounts(email="hoa@example.vn")
    flow = app.extensions["idp.login_flow"]
    with app.test_request_context("/account/security"):
        account = db.session.get(Account, created["id"])
        assert flow.reconfirm_password(account, PASSWORD) and flow.reconfirm_password(account, PASSWORD)
        with pytest.raises(LoginFailed) as refused:
            flow.reconfirm_password(account, PASSWORD)
        assert refused.value.reason == "rate_limited"
        assert flow.turn_off_totp(account, (PASSWORD, "123456")).problem == "rate_limited"


def test_turning_off_the_app_needs_password_and_code(app, flow, accounts, clock):
    created = accounts(email="hoa@example.vn")
    with app.test_request_context("/account/security"):
        secret = with_totp(app, created["id"], clock)
        account = db.session.get(Account, created["id"])
        refused = flow.turn_off_totp(account, (PASSWORD, "000000" if pyotp.TOTP(secret).at(clock.now) != "000000"
                                               else "111111"))
        assert refused.location == "/account/security" and tags()[-1] == "account:totp:disable_failure"
        assert flow.turn_off_totp(account, None).notice == refused.notice
        done = flow.turn_off_totp(account, (PASSWORD, pyotp.TOTP(secret).at(clock.now)))
        assert done.notice != refused.notice and account.totp_secret is None
        assert "account:totp:disable" in tags()
