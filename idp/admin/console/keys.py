"""Console page for signing keys: their state, a rotation, a retirement."""
from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ...clock import now
from .. import keys
from ..forms import ActionForm, KeyRotateForm
from .blueprint import bp
from .common import actor


@bp.route("/keys", methods=["GET", "POST"])
def keys_page():
    g.back = url_for("admin.keys_page")
    form = KeyRotateForm()
    if request.method == "POST" and form.validate_on_submit():
        row = keys.rotate(actor(), form.alg.data, form.delay.data)
        flash(_("A new %(alg)s key was published; it signs from %(when)s.", alg=row.alg,
                when=row.activates_at.strftime("%Y-%m-%d %H:%M UTC")))
        return redirect(g.back)
    return render_template("admin/keys.html", rows=keys.listing(actor()), moment=now(), form=form,
                           action_form=ActionForm())


@bp.route("/keys/<kid>/retire", methods=["POST"])
def retire_key(kid):
    g.back = url_for("admin.keys_page")
    if not ActionForm().validate_on_submit():
        abort(400)
    keys.retire(actor(), kid)
    flash(_("The key no longer signs; it stays published until the tokens it signed have expired."))
    return redirect(g.back)
