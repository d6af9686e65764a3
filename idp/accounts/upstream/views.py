"""Browser pages of upstream logins: ``/login/upstream/NAME`` sends the person to the upstream,
``/login/upstream/NAME/callback`` brings them back (:func:`.flow.finish` →
:meth:`~..login_flow.LoginFlow.upstream_passed`); the security page links and unlinks upstream
identities. Every failure is a page in the person's language, never a trace.
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, url_for

from ..navigation import current_account, follow, login_flow, login_required, safe_next
from ...clock import now
from . import backchannel, flow, step_up
from . import logout as upstream_logout
from .errors import UpstreamError, UpstreamTimedOut, UpstreamUnavailable
from .messages import problem_text

bp = Blueprint("upstream", __name__)


def _problem(code: str, status: int):
    title, text = problem_text(code)
    return render_template("accounts/upstream_problem.html", title=title, text=text, code=code), status


def _error_page(exc: UpstreamError):
    status = 400
    if isinstance(exc, UpstreamUnavailable):  # RFC 9110 §15.6.3, §15.6.5: the upstream failed, or was too slow
        status = 504 if isinstance(exc, UpstreamTimedOut) else 502
    return _problem(exc.code, status)


def _begin(name: str, next_url: str, acr_values: str | None = None):
    try:
        return redirect(flow.begin(name, next_url, acr_values))
    except UpstreamError as exc:
        return _error_page(exc)


@bp.get("/login/upstream/<name>")
def start(name):
    target = request.args.get("next")
    # ?acr=…: a step-up (idp.oidc.authorize) asks the upstream for that level; an unknown one asks nothing more
    acr_values = step_up.acr_values_named(name, request.args.get("acr", "")[:100] or None)
    return _begin(name, safe_next(target if target and len(target) <= 2000 else None), acr_values)


@bp.get("/login/upstream/<name>/callback")
def callback(name):
    try:
        identity = flow.finish(name, request.args)
    except UpstreamError as exc:
        return _error_page(exc)
    step = login_flow().upstream_passed(identity)
    if step.problem is not None:
        return _problem(step.problem, 409 if step.problem.startswith("upstream.") and step.account else 400)
    return follow(step)


@bp.get("/login/upstream/<name>/logged-out")
def logged_out(name):
    """The upstream ended its session (RP-Initiated Logout §3): on to where MotID's logout was going."""
    target = upstream_logout.continue_to(name, request.args.get("state"))
    return redirect(target) if target else current_app.extensions["idp.logged_out_page"]([])


@bp.post("/login/upstream/<name>/backchannel-logout")
def backchannel_logout(name):
    """Back-Channel Logout 1.0 §2.8: 200 when done (or nothing to do), 400 for a token refused."""
    try:
        backchannel.logout(name, request.form.get("logout_token"), now=now())
        response = current_app.response_class(status=200)
    except UpstreamError:
        response = jsonify(error="invalid_request")
        response.status_code = 400
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/account/security/upstream/<name>/link")
@login_required
def link(name):
    login_flow().request_upstream_link(current_account(), name)
    return _begin(name, url_for("accounts.security"))


@bp.post("/account/security/upstream/unlink/<int:link_id>")
@login_required
def unlink(link_id):
    return follow(login_flow().unlink_upstream(current_account(), link_id, request.form.get("password")))
