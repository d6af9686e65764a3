"""Passkey pages and the JSON calls the browser's WebAuthn script makes (static/passkeys.js)."""
from __future__ import annotations

from flask import Response, flash, jsonify, redirect, request, url_for
from flask_babel import gettext as _

from ..clock import now
from . import passkeys
from .navigation import bp, current_account, login_flow, login_required, password_confirmed

MESSAGES = {
    "passkey.expired": lambda: _("The passkey request expired. Please try again."),
    "passkey.invalid": lambda: _("This passkey could not be verified."),
    "passkey.duplicate": lambda: _("This passkey is already registered."),
    "passkey.too_many": lambda: _("You have registered the maximum number of passkeys."),
    "passkey.not_allowed": lambda: _("This account does not allow logging in with a passkey alone."),
}


def json_options(body: str) -> Response:
    return Response(body, mimetype="application/json", headers={"Cache-Control": "no-store"})


def failure(code: str, status: int = 400):
    return jsonify(error=code, message=MESSAGES[code]()), status


def credential_from_request():
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict) or not isinstance(payload.get("credential"), dict):
        return None, payload
    return payload["credential"], payload


@bp.route("/account/security/passkeys/options", methods=["POST"])
@login_required
def passkey_registration_options():
    return json_options(passkeys.registration_options(current_account(), now=now()))


@bp.route("/account/security/passkeys", methods=["POST"])
@login_required
def register_passkey():
    credential, payload = credential_from_request()
    if credential is None:
        return failure("passkey.invalid")
    try:
        passkeys.register(current_account(), credential, str(payload.get("name") or ""), now=now())
    except passkeys.PasskeyError as exc:
        return failure(str(exc))
    return jsonify(ok=True, redirect=url_for("accounts.security"))


@bp.route("/account/security/passkeys/<int:passkey_id>/rename", methods=["POST"])
@login_required
def rename_passkey(passkey_id):
    passkeys.rename(current_account(), passkey_id, request.form.get("name", ""))
    return redirect(url_for("accounts.security"))


@bp.route("/account/security/passkeys/<int:passkey_id>/remove", methods=["POST"])
@login_required
def remove_passkey(passkey_id):
    account = current_account()
    if not password_confirmed(account, request.form.get("password", "")):
        flash(_("The password is not correct. Nothing was changed."))
    elif account.must_have_second_factor and account.totp_secret is None and len(account.passkeys) == 1:
        flash(_("Officers and administrators must keep a second factor."))
    elif passkeys.remove(account, passkey_id, now=now()):
        flash(_("The passkey has been removed."))
    return redirect(url_for("accounts.security"))


@bp.route("/account/security/passkeys/login-alone", methods=["POST"])
@login_required
def toggle_passkey_login():
    passkeys.allow_login_alone(current_account(), request.form.get("enabled") == "1", now=now())
    return redirect(url_for("accounts.security"))


@bp.route("/login/passkey/options", methods=["POST"])
def passkey_login_options():
    """For the pending login or the live session (second factor, step-up); otherwise passkey alone."""
    return json_options(login_flow().passkey_options(step_up=bool(request.args.get("step_up"))))


@bp.route("/login/passkey", methods=["POST"])
def passkey_login():
    credential, _payload = credential_from_request()
    if credential is None:
        return failure("passkey.invalid")
    step = login_flow().passkey_passed(credential, step_up=bool(request.args.get("step_up")),
                                       next_url=request.args.get("next"))
    if step.problem is not None:
        return failure(step.problem, 403 if step.problem == "passkey.not_allowed" else 400)
    return jsonify(ok=True, redirect=step.location)
