"""Passkey pages and the JSON calls the browser's WebAuthn script makes (static/passkeys.js)."""
from __future__ import annotations

from flask import Response, flash, jsonify, redirect, request, session, url_for
from flask_babel import gettext as _

from .. import events
from ..clock import now
from ..db import db
from . import assurance, passkeys
from .second_factor import finish_login, pending_account
from .views import bp, current_account, login_required, password_confirmed, safe_next, sessions

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
    account = current_account()
    account.passkey_login = request.form.get("enabled") == "1" and bool(account.passkeys)
    events.record("account:passkey:login_alone", subject=account, actor=account,
                  details={"enabled": account.passkey_login}, now=now())
    db.session.commit()
    return redirect(url_for("accounts.security"))


@bp.route("/login/passkey/options", methods=["POST"])
def passkey_login_options():
    """For the pending login or the live session (second factor, step-up); otherwise passkey alone."""
    account = pending_account()
    if account is None:
        live = sessions().current(now())
        account = live.account if live is not None and request.args.get("step_up") else None
    return json_options(passkeys.authentication_options(account, now=now()))


@bp.route("/login/passkey", methods=["POST"])
def passkey_login():
    credential, _payload = credential_from_request()
    if credential is None:
        return failure("passkey.invalid")
    pending = pending_account()
    live = sessions().current(now()) if pending is None else None
    step_up = live is not None and request.args.get("step_up")
    expected = pending or (live.account if step_up else None)
    try:
        account, user_verified = passkeys.authenticate(credential, now=now(), account=expected)
    except passkeys.PasskeyError as exc:
        return failure(str(exc))
    next_url = request.args.get("next")
    if step_up:
        sessions().step_up(live, amr=["hwk", "mfa"], acr=assurance.LOA2, now=now())
        return jsonify(ok=True, redirect=safe_next(next_url))
    if pending is not None:
        note = session.get("pending_login") or {}
        finish_login(account, ["pwd", "hwk", "mfa"], note.get("next"))
        return jsonify(ok=True, redirect=safe_next(note.get("next")))
    if not account.passkey_login or not user_verified or account.status != "active":
        return failure("passkey.not_allowed", 403)
    sessions().login(account, amr=["hwk", "mfa"], acr=assurance.LOA2, now=now())
    return jsonify(ok=True, redirect=safe_next(next_url))


