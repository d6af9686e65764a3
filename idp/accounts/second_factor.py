"""The second factor in the browser: the login step after the password, step-up of a live session,
enrolment (forced for officers and administrators), recovery codes and remembered browsers. The
decisions are the login flow's (:mod:`.login_flow`); these views parse, call it once, and render.
"""
from __future__ import annotations

from flask import current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from ..clock import now
from . import browsers
from .forms import ConfirmPasswordForm, DisableTotpForm, EnrolTotpForm, SecondFactorForm
from .navigation import bp, current_account, follow, login_flow, login_required
from .totp import provisioning_uri, qr_svg
from .upstream import accounts as upstream_accounts
from .upstream.buttons import linkable

REMEMBER_COOKIE = browsers.COOKIE
REMEMBER_DAYS = browsers.DAYS


def totp():
    return current_app.extensions["idp.totp"]


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
    due = login_flow().second_factor_due(request.args.get("next"))
    if due.location is not None:
        return follow(due)
    form = SecondFactorForm()
    if due.account.totp_secret is None:
        del form.code  # passkeys only: the page offers the passkey button
    if form.validate_on_submit():
        step = login_flow().code_entered(due, form.code.data, remember=form.remember.data,
                                         next_url=request.args.get("next"))
        if step.problem is None:
            return follow(step)
        form.code.errors = [_("This code is not correct, or it was already used.")]
    return render_template("accounts/second_factor.html", form=form, step_up=due.session is not None,
                           has_passkey=bool(due.account.passkeys))


# -- enrolment and management ---------------------------------------------------------------------
@bp.route("/account/security/totp", methods=["GET", "POST"])
def enrol_totp():
    """Show a new secret (QR and text); save it only when the person proves a code."""
    account = login_flow().enrolling_account()
    if account is None:
        return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))
    if account.has_second_factor:
        return redirect(url_for("accounts.security"))
    secret = totp().enrolment_secret(account, session)
    form = EnrolTotpForm()
    if form.validate_on_submit():
        step = login_flow().enrol_totp(account, secret, form.code.data, request.args.get("next"))
        if step.problem is None:
            return render_template("accounts/recovery_codes.html", codes=step.codes, next=step.location)
        form.code.errors = [_("This code is not correct. Check the time on your phone and try again.")]
    uri = provisioning_uri(secret, account)
    return render_template("accounts/enrol_totp.html", form=form, secret=secret, qr=qr_svg(uri))


@bp.route("/account/security")
@login_required
def security():
    account = current_account()
    links = upstream_accounts.links_of(account)
    return render_template("accounts/security.html", account=account, browsers=browsers.live(account, now=now()),
                           remaining=totp().remaining_recovery_codes(account), disable_form=DisableTotpForm(),
                           codes_form=ConfirmPasswordForm(), upstream_links=links,
                           linkable=linkable({link.provider for link in links}))


@bp.route("/account/security/totp/disable", methods=["POST"])
@login_required
def disable_totp():
    form = DisableTotpForm()
    answers = (form.password.data, form.code.data) if form.validate_on_submit() else None
    return follow(login_flow().turn_off_totp(current_account(), answers))


@bp.route("/account/security/recovery-codes", methods=["POST"])
@login_required
def regenerate_recovery_codes():
    form = ConfirmPasswordForm()
    account = current_account()
    password = form.password.data if account.has_second_factor and form.validate_on_submit() else None
    step = login_flow().new_recovery_codes(account, password)
    if step.codes is None:
        return follow(step)
    return render_template("accounts/recovery_codes.html", codes=step.codes, next=step.location)


@bp.route("/account/security/browsers/forget", methods=["POST"])
@login_required
def forget_remembered_browsers():
    browsers.forget_all(current_account(), now=now())
    flash(_("Remembered browsers have been forgotten; they will ask for the second factor again."))
    return redirect(url_for("accounts.security"))
