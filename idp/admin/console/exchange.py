"""Console actions on an application's table of services it may obtain tokens for (RFC 8693 token
exchange, RFC 8707 resource indicators), shown on the application's page: allow one, remove one."""
from __future__ import annotations

from flask import abort, flash, g, redirect, request, url_for
from flask_babel import gettext as _

from ..authz import Refused
from ..forms import ActionForm, ExchangeRuleForm
from ..messages import message
from .. import clients, exchange
from .blueprint import bp
from .common import actor


@bp.route("/clients/<client_id>/token-exchange", methods=["POST"])
def exchange_allow(client_id):
    g.back = url_for("admin.client", client_id=client_id)
    form = ExchangeRuleForm(prefix="rule")
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        for name, errors in form.errors.items():
            flash(f"{getattr(form, name).label.text}: {' '.join(map(str, errors))}", "error")
        return redirect(g.back)
    target = clients.get(actor(), client_id, write=True)
    try:
        exchange.allow(actor(), target, form.audience.data.strip(), form.scope.data)
    except Refused as exc:
        if exc.status != 422:
            raise
        for name, code in (exc.fields or {}).items():
            flash(f"{getattr(form, name).label.text}: {message(code)}", "error")
        return redirect(g.back)
    flash(_("The service was allowed."))
    return redirect(g.back)


@bp.route("/clients/<client_id>/token-exchange/remove", methods=["POST"])
def exchange_deny(client_id):
    g.back = url_for("admin.client", client_id=client_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    exchange.deny(actor(), clients.get(actor(), client_id, write=True), request.form.get("audience", ""))
    flash(_("The service was removed."))
    return redirect(g.back)
