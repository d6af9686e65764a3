"""The API's CSV imports: officers (with their roles) and units, each checkable as a dry run."""
from __future__ import annotations

from .. import importing
from .authentication import actor
from .blueprint import bp
from .inputs import csv_body, flag
from .responses import ok


@bp.route("/accounts/import", methods=["POST"])
def import_accounts():
    report = importing.import_officers(actor(), csv_body(), dry_run=flag("dry_run"))
    return ok(report.as_dict(), 200 if not report.committed else 201)


@bp.route("/units/import", methods=["POST"])
def import_units():
    report = importing.import_units(actor(), csv_body(), dry_run=flag("dry_run"))
    return ok(report.as_dict(), 200 if not report.committed else 201)
