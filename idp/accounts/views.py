"""Browser pages for people: login, logout, registration, email verification, password recovery.

Views are thin: parse the form, call one service, render or redirect.
"""
from __future__ import annotations

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from .. import i18n
from ..clock import now
from ..mail import issuer_link
from . import browsers, mails
from .forms import ChangePasswordForm, EmailForm, LoginForm, LogoutForm, NewPasswordForm, RegisterForm
from .mails import deliver
from .messages import message
from .models import AccountKind
from .navigation import accounts, bp, current_account, follow, login_flow, login_required, safe_next, sessions
from .services import RESET_PASSWORD, VERIFY_EMAIL, AccountError, LoginFailed, NewAccount


def apply_form_errors(form, exc: AccountError) -> None:
    field = getattr(form, exc.field, None)
    if field is not None:
        field.errors = list(field.errors) + [message(exc.code)]
    else:
        form.form_errors.append(message(exc.code))


@bp.route("/")
def index():
    return redirect(url_for("accounts.home"))


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if request.method == "GET" and request.args.get("login_hint"):
        form.identifier.data = request.args["login_hint"][:254]
    if form.validate_on_submit():
        step = login_flow().password_login(form.identifier.data, form.password.data, request.args.get("next"))
        if step.problem == "login_failed":
            form.form_errors.append(_("The login details are not correct. After several failed attempts, "
                                      "logging in is paused for 15 minutes."))
            return render_template("accounts/login.html", form=form), 200
        if step.problem == "email_unverified":
            return render_template("accounts/verify_needed.html", form=EmailForm(email=step.account.email))
        return follow(step)
    return render_template("accounts/login.html", form=form)


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    form = LogoutForm()
    if request.method == "POST" and form.validate_on_submit():
        session = sessions().current(now())
        # Applications that asked for front-channel logout are told through iframes on the next page.
        frames = current_app.extensions["idp.logout_frames"](session.sid) if session else []
        sessions().logout(now())
        # A session an upstream login opened ends there too (RP-initiated), after the iframes if any.
        upstream = current_app.extensions["idp.upstream_logout"](session, None) if session else None
        if upstream and not frames:
            return redirect(upstream)
        return current_app.extensions["idp.logged_out_page"](frames, upstream, upstream=bool(upstream))
    if request.method == "POST":
        abort(400)
    return render_template("accounts/logout.html", form=form, account=current_account())


@bp.route("/register", methods=["GET", "POST"])
def register():
    form = RegisterForm()
    if form.validate_on_submit():
        new = NewAccount(kind=AccountKind.CITIZEN.value, full_name=form.full_name.data,
                         citizen_id=form.citizen_id.data, email=form.email.data, phone=form.phone.data or None,
                         birthdate=form.birthdate.data, password=form.password.data,
                         locale=str(get_locale() or i18n.DEFAULT))
        try:
            account = accounts().create(new, now=now())
        except AccountError as exc:
            apply_form_errors(form, exc)
            return render_template("accounts/register.html", form=form), 200
        sent = send_verification(account)
        # Sent here by an application (prompt=create): back to it through the login page.
        target = safe_next(request.args.get("next")) if request.args.get("next") else None
        return render_template("accounts/registered.html", email=account.email, sent=sent, next=target)
    return render_template("accounts/register.html", form=form)


def send_verification(account) -> bool:
    token = accounts().issue_token(account, VERIFY_EMAIL, now=now(), data={"email": account.email})
    link = issuer_link("accounts.verify_email", token=token)
    return deliver(account.email, *mails.verify_email(account, link))


@bp.route("/verify-email/<token>")
def verify_email(token):
    account = accounts().verify_email(token, now=now())
    if account is None:
        return render_template("accounts/link_invalid.html", resend=True), 400
    return render_template("accounts/email_verified.html", account=account)


@bp.route("/verify-email", methods=["POST"])
def resend_verification():
    form = EmailForm()
    if form.validate_on_submit():
        account = accounts().find_by_login(form.email.data)
        if account is not None and account.email and not account.email_verified:
            send_verification(account)
        return render_template("accounts/check_mail.html")
    return render_template("accounts/verify_needed.html", form=form), 400


@bp.route("/password/forgot", methods=["GET", "POST"])
def forgot_password():
    form = EmailForm()
    if form.validate_on_submit():
        account = accounts().find_by_login(form.email.data)
        # The same answer whether or not the address belongs to an account.
        if account is not None and account.email:
            token = accounts().issue_token(account, RESET_PASSWORD, now=now())
            link = issuer_link("accounts.reset_password", token=token)
            deliver(account.email, *mails.reset_password(account, link))
        return render_template("accounts/check_mail.html")
    return render_template("accounts/forgot.html", form=form)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token):
    if accounts().peek_token(token, RESET_PASSWORD, now=now()) is None:
        return render_template("accounts/link_invalid.html", resend=False), 400
    form = NewPasswordForm()
    if form.validate_on_submit():
        try:
            account = accounts().reset_password(token, form.password.data, now=now())
        except AccountError as exc:
            apply_form_errors(form, exc)
            return render_template("accounts/reset.html", form=form)
        if account is None:
            return render_template("accounts/link_invalid.html", resend=False), 400
        sessions().end_all(account, "password_reset", now=now())
        browsers.forget_all(account, now=now())
        flash(_("Your password has been changed. Please log in with the new password."))
        return redirect(url_for("accounts.login"))
    return render_template("accounts/reset.html", form=form)


@bp.route("/account")
@login_required
def home():
    return render_template("accounts/home.html", account=current_account(), session=g.sso_session)


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        account = current_account()
        try:
            accounts().change_password(account, form.current_password.data, form.password.data, now=now(),
                                       end_offline_access=form.end_offline_access.data,
                                       keep_sid=g.sso_session.sid)
        except LoginFailed:  # only "rate_limited" reaches here; a wrong password is an AccountError
            abort(429)
        except AccountError as exc:
            apply_form_errors(form, exc)
            return render_template("accounts/change_password.html", form=form)
        sessions().end_all(account, "password_change", now=now(), keep=g.sso_session)
        browsers.forget_all(account, now=now())
        flash(_("Your password has been changed. Your other sessions have been logged out."))
        return redirect(url_for("accounts.home"))
    return render_template("accounts/change_password.html", form=form)


@bp.route("/lang/<code>")
def set_language(code):
    if code not in i18n.LANGUAGES:
        abort(404)
    response = redirect(safe_next(request.args.get("next")))
    response.set_cookie(i18n.COOKIE, code, max_age=365 * 86400, samesite="Lax", httponly=True,
                        secure=current_app.config["IDP_ISSUER"].startswith("https://"))
    return response
