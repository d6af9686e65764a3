"""Console pages for CSV imports: officers (with their roles) and units, each checkable as a dry run."""
from __future__ import annotations

from flask import render_template

from .. import importing
from ..authz import Refused
from ..forms import ImportForm
from .blueprint import bp
from .common import actor


@bp.route("/accounts/import", methods=["GET", "POST"])
def import_accounts():
    form = ImportForm()
    report, refusal = None, None
    if form.validate_on_submit():
        try:
            report = importing.import_officers(actor(), form.file.data.read(), dry_run=form.dry_run.data).as_dict()
        except Refused as exc:
            refusal = exc
            report = exc.fields.get("report")
    return render_template("admin/import.html", form=form, report=report, refusal=refusal, what="officers",
                           status=422 if refusal else 200), 422 if refusal else 200


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
