"""Routes of the OpenID Provider; each hands over to the module of its specification."""
from __future__ import annotations


from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from .. import metrics
from ..accounts.navigation import current_account, login_required
from ..clock import now
from . import authorize as authorize_module
from . import consent, discovery, end_session as end_session_module, par as par_module, published
from . import userinfo as userinfo_module

bp = Blueprint("oidc", __name__)


def server():
    return current_app.extensions["idp.oauth"]


def cacheable_json(document: dict) -> Response:
    """JSON with an ETag and Cache-Control; answers 304 to a matching If-None-Match. GET and HEAD without a
    query string are answered before Flask, identically (:mod:`.published`)."""
    return published.response_for(document).make_conditional(request)


@bp.route("/.well-known/openid-configuration")
def configuration():
    return cacheable_json(discovery.metadata())


@bp.route("/.well-known/oauth-authorization-server")
def oauth_metadata():
    return cacheable_json(discovery.metadata())


@bp.route("/jwks.json")
def jwks():
    return cacheable_json(current_app.extensions["idp.keys"].jwks(now()))


@bp.route("/authorize", methods=["GET", "POST"])
def authorize():
    return authorize_module.handle()


@bp.route("/par", methods=["POST"])
def par():
    return par_module.push()


@bp.route("/token", methods=["POST"])
def token():
    response = server().create_token_response()
    if response.status_code == 200:
        metrics.count_token(request.form.get("grant_type"))
    return response


@bp.route("/userinfo", methods=["GET", "POST"])
def userinfo():
    return userinfo_module.userinfo()


@bp.route("/introspect", methods=["POST"])
def introspect():
    return server().create_endpoint_response("introspection")


@bp.route("/revoke", methods=["POST"])
def revoke():
    return server().create_endpoint_response("revocation")


@bp.route("/connect/logout", methods=["GET", "POST"])
def end_session():
    return end_session_module.handle()


@bp.route("/account/sessions")
@login_required
def sessions_page():
    from .logout import clients_of
    account = current_account()
    moment = now()
    current = sessions_service().current(moment)
    rows = [(row, clients_of(row.sid)) for row in sessions_service().live_sessions(account.id, moment)]
    return render_template("oidc/sessions.html", rows=rows, current=current)


@bp.route("/account/sessions/end", methods=["POST"])
@login_required
def end_sessions():
    account = current_account()
    moment = now()
    current = sessions_service().current(moment)
    which = request.form.get("which", "")
    if which == "others":
        sessions_service().end_all(account, "ended_by_user", now=moment, keep=current, actor=account)
    elif which == "all":
        sessions_service().end_all(account, "ended_by_user", now=moment, actor=account)
        sessions_service().logout(moment)
        return redirect(url_for("accounts.login"))
    elif sessions_service().end_by_sid(account.id, which[:64], "ended_by_user", now=moment, actor=account):
        if current is not None and which == current.sid:
            sessions_service().logout(moment)
            return redirect(url_for("accounts.login"))
    flash(_("The selected sessions have been ended."))
    return redirect(url_for("oidc.sessions_page"))


def sessions_service():
    return current_app.extensions["idp.sessions"]


@bp.route("/account/consents")
@login_required
def consents():
    account = current_account()
    clients = current_app.extensions["idp.clients"]
    rows = [(row, clients.get(row.client_id)) for row in consent.of_account(account.id)]
    return render_template("oidc/consents.html", rows=rows, texts=consent.SCOPE_TEXT)


@bp.route("/account/consents/<client_id>/withdraw", methods=["POST"])
@login_required
def withdraw_consent(client_id):
    if consent.withdraw(current_account(), client_id, now=now()):
        flash(_("Consent withdrawn. The application can no longer use your data through MotID."))
    return redirect(url_for("oidc.consents"))
