"""The second factor in the browser: the login step after the password, step-up of a live
session, enrolment (forced for officers and administrators), recovery codes and remembered browsers.

A login is "pending" between the password and the second factor: only a signed note in the UI
cookie (account id and time, five minutes), never an SSO session.
"""
from __future__ import annotations

import time
from datetime import timedelta

from flask import current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from .. import events
from ..clock import now
from ..db import db
from ..security import digest, new_token
from . import assurance, mails
from .forms import ConfirmPasswordForm, DisableTotpForm, EnrolTotpForm, SecondFactorForm
from .models import Account, RememberedBrowser
from .totp import normalize_code, provisioning_uri, qr_svg
from .views import bp, current_account, deliver, login_required, password_confirmed, safe_next, sessions

PENDING = "pending_login"
PENDING_SECONDS = 300
REMEMBER_COOKIE = "motid_rb"
REMEMBER_DAYS = 30


def totp():
    return current_app.extensions["idp.totp"]


# -- the pending login ----------------------------------------------------------------------------
def start_pending(account: Account, next_url: str | None, *, enrol: bool = False) -> None:
    session[PENDING] = {"account": account.id, "at": int(time.time()), "next": next_url, "enrol": enrol}


def pending_account() -> Account | None:
    note = session.get(PENDING)
    if not isinstance(note, dict) or time.time() - note.get("at", 0) > PENDING_SECONDS:
        session.pop(PENDING, None)
        return None
    return db.session.get(Account, note.get("account"))


def finish_login(account: Account, amr: list[str], next_url: str | None):
    session.pop(PENDING, None)
    if account.status != "active":
        return redirect(url_for("accounts.login"))
    sessions().login(account, amr=amr, acr=assurance.LOA2 if "mfa" in amr else assurance.LOA1, now=now())
    return redirect(safe_next(next_url))


def after_password(account: Account, next_url: str | None):
    """What follows a correct password: the second factor, enrolment, or the session."""
    has_factor, must_have_factor = account.second_factor_state()
    if has_factor:
        if remembered(account):
            return finish_login(account, assurance.PASSWORD_AND_REMEMBERED_BROWSER, next_url)
        start_pending(account, next_url)
        return redirect(url_for("accounts.second_factor"))
    if must_have_factor:
        start_pending(account, next_url, enrol=True)
        flash(_("Your account needs a second factor. Set up an authenticator app to continue."))
        return redirect(url_for("accounts.enrol_totp"))
    return finish_login(account, assurance.PASSWORD, next_url)


# -- remembered browsers --------------------------------------------------------------------------
def remembered(account: Account) -> bool:
    token = request.cookies.get(REMEMBER_COOKIE)
    if not token or len(token) > 100:
        return False
    row = db.session.get(RememberedBrowser, digest(token))
    return (row is not None and row.account_id == account.id and row.revoked_at is None
            and row.expires_at > now())


def remember_browser(account: Account) -> None:
    token = new_token()
    moment = now()
    db.session.add(RememberedBrowser(digest=digest(token), account_id=account.id, created_at=moment,
                                     expires_at=moment + timedelta(days=REMEMBER_DAYS),
                                     user_agent=(request.user_agent.string or "")[:300] or None))
    events.record("account:browser:remember", subject=account, actor=account, now=moment)
    db.session.commit()
    g.set_remember_cookie = token


def forget_browsers(account: Account, *, moment) -> None:
    db.session.query(RememberedBrowser).filter_by(account_id=account.id, revoked_at=None).update(
        {"revoked_at": moment})
    db.session.commit()


@bp.after_app_request
def write_remember_cookie(response):
    token = g.get("set_remember_cookie")
    if token:
        response.set_cookie(REMEMBER_COOKIE, token, max_age=REMEMBER_DAYS * 86400, httponly=True, samesite="Lax",
                            secure=current_app.config["IDP_ISSUER"].startswith("https://"))
    return response


# -- the second-factor step -----------------------------------------------------------------------
@bp.route("/login/second-factor", methods=["GET", "POST"])
def second_factor():
    """Completes a pending login, or raises a live session's level (step-up)."""
    account = pending_account()
    live = sessions().current(now()) if account is None else None
    step_up = live is not None
    if step_up:
        account = live.account
    if account is None:
        flash(_("Please log in again."))
        return redirect(url_for("accounts.login"))
    if not account.has_second_factor:
        return redirect(url_for("accounts.enrol_totp", next=request.args.get("next")))
    form = SecondFactorForm()
    if account.totp_secret is None:
        del form.code  # passkeys only: the page offers the passkey button
    if form.validate_on_submit():
        amr = check_code(account, form.code.data)
        if amr is None:
            events.record("account:totp:failure", subject=account, actor=account, now=now())
            db.session.commit()
            form.code.errors = [_("This code is not correct, or it was already used.")]
            return render_template("accounts/second_factor.html", form=form, step_up=step_up,
                                   has_passkey=bool(account.passkeys))
        if form.remember.data:
            remember_browser(account)
        if step_up:
            sessions().step_up(live, amr=amr, acr=assurance.LOA2, now=now())
            return redirect(safe_next(request.args.get("next")))
        return finish_login(account, amr, (session.get(PENDING) or {}).get("next"))
    return render_template("accounts/second_factor.html", form=form, step_up=step_up,
                           has_passkey=bool(account.passkeys))


def check_code(account: Account, value: str) -> list[str] | None:
    """The amr values earned by ``value``: a TOTP code or a recovery code; None when it fails."""
    moment = now()
    if normalize_code(value):
        return assurance.PASSWORD_AND_OTP if totp().verify(account, value, now=moment) else None
    if totp().use_recovery_code(account, value, now=moment):
        if account.email:
            deliver(account.email, *mails.recovery_code_used(account, totp().remaining_recovery_codes(account)))
        return assurance.PASSWORD_AND_OTP
    return None


# -- enrolment and management ---------------------------------------------------------------------
ENROL_SECRET = "totp_enrolment"


@bp.route("/account/security/totp", methods=["GET", "POST"])
def enrol_totp():
    """Show a new secret (QR and text); save it only when the person proves a code."""
    account = current_account() or pending_account()
    if account is None:
        return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))
    if account.has_second_factor:
        return redirect(url_for("accounts.security"))
    master = current_app.extensions["idp.master_key"]
    sealed = session.get(ENROL_SECRET)
    secret = None
    if isinstance(sealed, dict) and sealed.get("account") == account.id:
        try:
            secret = master.decrypt(sealed["secret"]).decode()
        except Exception:  # a stale or foreign value: start over with a new secret
            secret = None
    if secret is None:
        secret = totp().new_secret()
        session[ENROL_SECRET] = {"account": account.id, "secret": master.encrypt(secret.encode())}
    form = EnrolTotpForm()
    if form.validate_on_submit():
        codes = totp().enable(account, secret, form.code.data, now=now())
        if codes is None:
            form.code.errors = [_("This code is not correct. Check the time on your phone and try again.")]
        else:
            db.session.commit()
            session.pop(ENROL_SECRET, None)
            note = session.get(PENDING)
            if isinstance(note, dict) and note.get("enrol") and current_account() is None:
                finish_login(account, assurance.PASSWORD_AND_OTP, note.get("next"))
            elif current_account() is not None and g.sso_session is not None:
                sessions().step_up(g.sso_session, amr=assurance.PASSWORD_AND_OTP, acr=assurance.LOA2, now=now())
            return render_template("accounts/recovery_codes.html", codes=codes,
                                   next=safe_next((note or {}).get("next") if isinstance(note, dict)
                                                  else request.args.get("next")))
    uri = provisioning_uri(secret, account)
    return render_template("accounts/enrol_totp.html", form=form, secret=secret, qr=qr_svg(uri))


@bp.route("/account/security")
@login_required
def security():
    account = current_account()
    browsers = db.session.query(RememberedBrowser).filter_by(account_id=account.id, revoked_at=None).filter(
        RememberedBrowser.expires_at > now()).all()
    return render_template("accounts/security.html", account=account, browsers=browsers,
                           remaining=totp().remaining_recovery_codes(account), disable_form=DisableTotpForm(),
                           codes_form=ConfirmPasswordForm())


@bp.route("/account/security/totp/disable", methods=["POST"])
@login_required
def disable_totp():
    account = current_account()
    form = DisableTotpForm()
    if form.validate_on_submit() and password_confirmed(account, form.password.data) \
            and totp().verify(account, form.code.data, now=now()):
        if account.must_have_second_factor:
            flash(_("Officers and administrators must keep a second factor."))
            return redirect(url_for("accounts.security"))
        totp().disable(account, now=now())
        forget_browsers(account, moment=now())
        flash(_("The second factor has been turned off."))
        return redirect(url_for("accounts.security"))
    events.record("account:totp:disable_failure", subject=account, actor=account, now=now())
    db.session.commit()
    flash(_("The password or the code is not correct. Nothing was changed."))
    return redirect(url_for("accounts.security"))


@bp.route("/account/security/recovery-codes", methods=["POST"])
@login_required
def regenerate_recovery_codes():
    account = current_account()
    form = ConfirmPasswordForm()
    if not (account.has_second_factor and form.validate_on_submit()
            and password_confirmed(account, form.password.data)):
        flash(_("The password is not correct. Nothing was changed."))
        return redirect(url_for("accounts.security"))
    codes = totp().new_recovery_codes(account, now=now())
    db.session.commit()
    return render_template("accounts/recovery_codes.html", codes=codes, next=url_for("accounts.security"))


@bp.route("/account/security/browsers/forget", methods=["POST"])
@login_required
def forget_remembered_browsers():
    forget_browsers(current_account(), moment=now())
    flash(_("Remembered browsers have been forgotten; they will ask for the second factor again."))
    return redirect(url_for("accounts.security"))
