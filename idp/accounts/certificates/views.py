"""Browser pages for digital-signature certificates: log in (signed challenge or TLS client
certificate), step up to level 3, and bind, list and remove certificates on the security page."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import FileField, PasswordField, StringField, TextAreaField
from wtforms.validators import Optional

from ...clock import now
from ..forms import REQUIRED, printable, too_long
from ..navigation import current_account, login_flow, login_required, password_confirmed
from .messages import reason
from .possession import MAX_RESPONSE_CHARS
from .proxy import forwarded_certificate
from .service import BIND, LOGIN
from .validation import CertificateRejected

bp = Blueprint("certificates", __name__)
LOGIN_CHALLENGE = "cert_login_challenge"
BIND_CHALLENGE = "cert_bind_challenge"


class SignedResponseForm(FlaskForm):
    response = TextAreaField(_l("The signing tool's output"), [Optional(), too_long(MAX_RESPONSE_CHARS), printable])
    response_file = FileField(_l("Or choose the file it wrote"))


class RemoveCertificateForm(FlaskForm):
    password = PasswordField(_l("Password"), [REQUIRED, too_long(1024), printable])
    code = StringField(_l("Code from your authenticator app, or a recovery code"),
                       [Optional(), too_long(40), printable])


class TlsLoginForm(FlaskForm):
    pass


def service():
    return current_app.extensions["idp.certificates"]


def submitted_text(form: SignedResponseForm) -> str:
    upload = request.files.get(form.response_file.name)
    if upload is not None and upload.filename:
        return upload.read(MAX_RESPONSE_CHARS + 1).decode("utf-8", "replace")
    return form.response.data or ""


def method_of(bound) -> str:
    return "hwk" if bound.hardware else "swk"


def finish(account, bound, next_url: str | None):
    """Level 3: a new session, the pending password login completed, or the live session raised."""
    step = login_flow().certificate_passed(account, method_of(bound), next_url)
    return step.session, redirect(step.location)


@bp.route("/login/certificate", methods=["GET", "POST"])
def login():
    """Challenge–signature login, also the step-up to level 3 and a second factor after a password."""
    form = SignedResponseForm()
    if form.validate_on_submit():
        try:
            account, bound = service().login_with_signature(submitted_text(form), now=now(),
                                                            expected=session.pop(LOGIN_CHALLENGE, None))
        except CertificateRejected as exc:
            form.form_errors.append(reason(exc.code))
        else:
            return finish(account, bound, request.args.get("next"))[1]
    challenge = session[LOGIN_CHALLENGE] = service().issue_challenge(LOGIN, now=now())
    status = 200 if not form.form_errors else 400
    return render_template("accounts/login_certificate.html", form=form, challenge=challenge,
                           tls_form=TlsLoginForm(), tls=bool(current_app.config["IDP_CERT_PROXY_ADDRESSES"])), status


@bp.route("/login/certificate/tls", methods=["POST"])
def login_tls():
    """Log in with the certificate the browser presented to nginx (the TLS handshake proved the key)."""
    form = TlsLoginForm()
    if not form.validate_on_submit():
        return redirect(url_for("certificates.login", next=request.args.get("next")))
    try:
        presented = forwarded_certificate()
        if presented is None:
            raise CertificateRejected("no_certificate")
    except CertificateRejected as exc:
        service().record_failure("account:certificate:login_failure", exc, now=now(), extra={"path": "tls"})
        flash(reason(exc.code))
        return redirect(url_for("certificates.login", next=request.args.get("next")))
    try:
        account, bound = service().login_with_tls(*presented, now=now())
    except CertificateRejected as exc:
        flash(reason(exc.code))
        return redirect(url_for("certificates.login", next=request.args.get("next")))
    sso, response = finish(account, bound, request.args.get("next"))
    service().remember_tls_login(sso.sid, bound, now=now())
    return response


@bp.route("/account/security/certificates", methods=["GET", "POST"])
@login_required
def manage():
    account = current_account()
    form = SignedResponseForm()
    if form.validate_on_submit():
        try:
            service().bind(account, submitted_text(form), now=now(), expected=session.pop(BIND_CHALLENGE, None))
        except CertificateRejected as exc:
            form.form_errors.append(reason(exc.code))
        else:
            flash(_("The certificate has been bound to your account. You can now log in with it."))
            return redirect(url_for("certificates.manage"))
    challenge = session[BIND_CHALLENGE] = service().issue_challenge(BIND, now=now(), account=account)
    return render_template("accounts/certificates.html", form=form, challenge=challenge,
                           certificates=service().of_account(account), remove_form=RemoveCertificateForm(),
                           account_has_totp=account.totp_secret is not None,
                           moment=now(), warning_days=current_app.config["IDP_CERT_EXPIRY_WARNING_DAYS"]), \
        200 if not form.form_errors else 400


@bp.route("/account/security/certificates/<int:certificate_id>/remove", methods=["POST"])
@login_required
def remove(certificate_id):
    """Removal needs the password and, when the account has an authenticator app, a code from it."""
    account = current_account()
    form = RemoveCertificateForm()
    confirmed = form.validate_on_submit() and password_confirmed(account, form.password.data)
    if confirmed and account.totp_secret is not None:
        confirmed = login_flow().check_code(account, form.code.data or "")
    if not confirmed:
        service().removal_refused(account, now=now())
        flash(_("The password or the code is not correct. Nothing was changed."))
    elif service().remove(account, certificate_id, now=now()):
        flash(_("The certificate has been removed from your account."))
    return redirect(url_for("certificates.manage"))

