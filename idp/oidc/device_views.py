"""Routes of the Device Authorization Grant (RFC 8628): the device authorization endpoint (§3.1) and the
verification page where a logged-in person enters the code a kiosk shows and approves or denies (§3.3).

The page needs a MotID login (the normal login page, whatever proofs it offers, with ``next`` back
here) at the level the client requires (a step-up as at the authorization endpoint), shows which
application asks for what, and takes the decision by a CSRF-protected form. Every
submitted user code counts against a limit per address and a global one (:data:`LIMITS`), and every
wrong, expired or already used code gets the same answer, so guessing learns nothing.
"""
from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

from ..accounts import assurance
from ..accounts.navigation import current_account, login_required, sessions
from ..accounts.upstream import step_up as upstream_step_up
from ..clock import now
from ..db import db
from ..limits import setting
from . import consent, device, role_assurance

bp = Blueprint("device", __name__)

# endpoint → [(limit, key function or None for the client address)], applied to POST (idp.limits.apply).
LIMITS = {
    "device.verify": [(setting("IDP_DEVICE_CODE_LIMIT_PER_IP"), None),
                      (setting("IDP_DEVICE_CODE_LIMIT_GLOBAL"), lambda: "device:user_code:all")],
    # Each request stores a row: without a limit anyone could fill the table.
    "device.authorize": [(setting("IDP_LOGIN_LIMIT_PER_IP"), None)],
}


@bp.route("/device/authorize", methods=["POST"])
def authorize():
    return current_app.extensions["idp.oauth"].create_endpoint_response("device_authorization")


@bp.route("/device", methods=["GET", "POST"])
@login_required
def verify():
    if request.method == "GET":
        return render_template("oidc/device.html", user_code=request.args.get("user_code", "")[:40])
    user_code = request.form.get("user_code", "")
    decision = request.form.get("decision")
    row = device.pending(user_code)
    client = current_app.extensions["idp.clients"].cached(row.client_id) if row is not None else None
    if client is None:
        return wrong_code(user_code)
    user_code = device.normalise_user_code(user_code)
    detour = step_up(client, device.consented_scopes(row, client), user_code)
    if detour is not None:
        return detour
    if decision is None:
        scopes = [s for s in consent.SCOPE_TEXT if s in device.consented_scopes(row, client)]
        return render_template("oidc/device_confirm.html", client=client, scopes=scopes, texts=consent.SCOPE_TEXT,
                               user_code=user_code, account=current_account())
    if decision not in ("allow", "deny"):
        abort(400)
    row = device.decide(user_code, sessions().current(now()), decision == "allow")
    if row is None:
        return wrong_code(user_code)
    if decision == "allow":
        consent.give(current_account(), client.client_id, device.consented_scopes(row, client), now=now())  # commits
    else:
        db.session.commit()
    return render_template("oidc/device_done.html", allowed=decision == "allow")


def step_up(client, scopes: set, user_code: str):
    """The detour that raises the session to the level the client requires (``default_acr_values``,
    raised by the roles an ``officer`` scope would release), coming back here; None when it is met."""
    session = sessions().current(now())
    wanted = assurance.strongest_supported(client.meta.get("default_acr_values") or [])
    if "officer" in scopes:
        wanted = role_assurance.required_level(session.account, client.client_id, wanted, session.acr, now=now())
    if wanted is None or assurance.satisfies(session.acr, wanted):
        return None
    back = url_for("device.verify", user_code=user_code)
    upstream = upstream_step_up.route(session, wanted)
    if upstream is not None:  # back to the national e-ID the session came from, asking for the level
        return redirect(url_for("upstream.start", name=upstream, acr=wanted, next=back))
    if wanted == assurance.LOA3:
        return redirect(url_for("certificates.login", next=back))
    return redirect(url_for("accounts.second_factor", next=back))


def wrong_code(user_code: str):
    return render_template("oidc/device.html", user_code=user_code[:40], wrong=True), 400
