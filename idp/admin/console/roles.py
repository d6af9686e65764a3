"""Console pages for roles: the list with a form for a new one, and one role's settings."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from .. import roles
from ..authz import Refused
from ..clients import listing as client_listing
from ..forms import RoleEditForm, RoleForm, options
from .blueprint import bp
from .common import actor, field_errors


@bp.route("/roles", methods=["GET", "POST"])
def roles_page():
    form = RoleForm()
    apps = client_listing(actor()) if actor().can("clients.read") else []
    form.client_id.choices = options([("", _("(all applications: a global role)"))] + [
        (c.client_id, c.meta.get("client_name") or c.client_id) for c in apps])
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                role = roles.create(actor(), {"code": form.code.data, "name": form.name.data,
                                              "description": form.description.data or "",
                                              "client_id": form.client_id.data or None,
                                              "min_acr": form.min_acr.data or None})
                flash(_("The role %(code)s was created.", code=role.code))
                return redirect(url_for("admin.roles_page"))
            except Refused as exc:
                field_errors(form, exc)
        status = 422
    names = {c.client_id: c.meta.get("client_name") or c.client_id for c in apps}
    rows = roles.listing(actor())
    editable = {role.code for role, _ in rows if roles.editable(actor(), role)}
    return render_template("admin/roles.html", rows=rows, form=form, names=names, editable=editable), status


@bp.route("/roles/<code>", methods=["GET", "POST"])
def role(code):
    target = roles.get(actor(), code)
    roles.check_editable(actor(), target)
    form = RoleEditForm(obj=target)
    if request.method == "GET":
        form.min_acr.data = target.min_acr or ""
    elif form.validate_on_submit():
        try:
            roles.update(actor(), target, {"name": form.name.data, "description": form.description.data or "",
                                           "min_acr": form.min_acr.data or None})
            flash(_("Saved."))
            return redirect(url_for("admin.roles_page"))
        except Refused as exc:
            if exc.status != 422:
                raise
            field_errors(form, exc)
    status = 200 if request.method == "GET" or not (form.errors or form.form_errors) else 422
    return render_template("admin/role.html", role=target, form=form), status
