"""Console pages for the organisation: the unit tree (with history, import, move, merge) and roles."""
from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from . import importing, roles, units
from .authz import Refused
from .forms import ImportForm, RoleEditForm, RoleForm, UnitEditForm, UnitForm, UnitMergeForm, UnitMoveForm, options
from .views import actor, bp, field_errors


def parent_choices(exclude=None):
    current = [u for u in units.listing(actor()) if exclude is None or u.id not in exclude]
    return [(0, _("(none: top level)"))] + [(u.id, f"{u.code} — {u.name}") for u in current]


def unit_options(exclude=None, top=True):
    pairs = parent_choices(exclude)
    return options(pairs if top else pairs[1:])


@bp.route("/units", methods=["GET", "POST"])
def units_page():
    include_closed = request.args.get("closed") == "1"
    form = UnitForm()
    form.parent_id.choices = unit_options()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                unit = units.create(actor(), {"code": form.code.data, "code_list": form.code_list.data,
                                              "name": form.name.data, "kind": form.kind.data,
                                              "parent_id": form.parent_id.data or None,
                                              "valid_from": form.valid_from.data})
                flash(_("The unit was created."))
                return redirect(url_for("admin.unit", unit_id=unit.id))
            except Refused as exc:
                field_errors(form, exc)
        status = 422
    rows = units.tree(units.listing(actor(), include_closed=include_closed))
    return render_template("admin/units.html", rows=rows, form=form, include_closed=include_closed,
                           import_form=ImportForm()), status


@bp.route("/units/<int:unit_id>", methods=["GET", "POST"])
def unit(unit_id):
    target = units.get(actor(), min(unit_id, 2**31 - 1))
    edit_form = UnitEditForm(obj=target)
    g.back = url_for("admin.unit", unit_id=target.id)
    if request.method == "POST" and edit_form.validate_on_submit():
        units.update_unit(actor(), target, {"code": edit_form.code.data, "code_list": edit_form.code_list.data,
                                            "name": edit_form.name.data, "kind": edit_form.kind.data})
        flash(_("Saved."))
        return redirect(g.back)
    move_form, merge_form = UnitMoveForm(), UnitMergeForm()
    below = units.subtree({target.id})
    move_form.parent_id.choices = unit_options(exclude=below)
    move_form.parent_id.data = target.parent_id or 0
    merge_form.target_id.choices = unit_options(exclude=below, top=False)
    parent = units.get(actor(), target.parent_id) if target.parent_id else None
    successor = units.get(actor(), target.successor_id) if target.successor_id else None
    return render_template("admin/unit.html", unit=target, parent=parent, successor=successor,
                           history=units.history(target), edit_form=edit_form, move_form=move_form,
                           merge_form=merge_form, current=units.is_current(target))


@bp.route("/units/<int:unit_id>/move", methods=["POST"])
def move_unit(unit_id):
    g.back = url_for("admin.unit", unit_id=min(unit_id, 2**31 - 1))
    target = units.get(actor(), min(unit_id, 2**31 - 1), action="unit.move")
    form = UnitMoveForm()
    form.parent_id.choices = unit_options()
    if not form.validate_on_submit():
        abort(400)
    units.move(actor(), target, form.parent_id.data or None, form.effective_on.data)
    flash(_("The unit was moved."))
    return redirect(g.back)


@bp.route("/units/<int:unit_id>/merge", methods=["POST"])
def merge_unit(unit_id):
    g.back = url_for("admin.unit", unit_id=min(unit_id, 2**31 - 1))
    target = units.get(actor(), min(unit_id, 2**31 - 1), action="unit.merge")
    form = UnitMergeForm()
    form.target_id.choices = unit_options(top=False)
    if not form.validate_on_submit():
        abort(400)
    merged_into = units.merge(actor(), [target.id], form.target_id.data, form.effective_on.data)
    flash(_("The unit was merged; its people and roles now belong to %(name)s.", name=merged_into.name))
    return redirect(url_for("admin.unit", unit_id=merged_into.id))


@bp.route("/units/import", methods=["POST"])
def import_units():
    form = ImportForm()
    report, refusal = None, None
    if form.validate_on_submit():
        try:
            report = importing.import_units(actor(), form.file.data.read(), dry_run=form.dry_run.data).as_dict()
        except Refused as exc:
            refusal = exc
            report = exc.fields.get("report")
    status = 422 if refusal or not form.file.data else 200
    return render_template("admin/import.html", form=form, report=report, refusal=refusal, what="units"), status


@bp.route("/roles", methods=["GET", "POST"])
def roles_page():
    from .clients import listing as client_listing
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
