"""Console pages for the unit tree: listing and creation, one unit with its history, move and merge."""
from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from .. import units
from ..authz import Refused
from ..forms import ImportForm, UnitEditForm, UnitForm, UnitMergeForm, UnitMoveForm, options
from .blueprint import bp
from .common import actor, field_errors


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
