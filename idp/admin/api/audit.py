"""The API's audit log: filtered pages of events and the CSV export."""
from __future__ import annotations

from datetime import datetime

from flask import Response, request, stream_with_context
from flask_babel import gettext as _

from .. import audit
from ..audit import AuditQuery
from ..authz import refuse
from .authentication import actor
from .blueprint import bp
from .inputs import arg, page
from .responses import paged


def _audit_query(limit=50, cursor=None) -> AuditQuery:
    stamps = {}
    for name in ("since", "until"):
        raw = arg(name, 40, empty_ok=False)
        try:
            stamps[name] = datetime.fromisoformat(raw.replace("Z", "+00:00")) if raw else None
        except ValueError:
            stamps[name] = "invalid"
        if stamps[name] == "invalid" or (stamps[name] is not None and stamps[name].tzinfo is None):
            raise refuse(actor(), f"api.{request.endpoint}", "invalid_parameter",
                         _("Times need a date, a time and a zone, e.g. 2026-01-31T08:00:00+07:00."), status=400,
                         fields={name: "field.invalid"})
    return AuditQuery(tag=arg("tag", 80), account=arg("account", 64), client_id=arg("client_id", 64),
                      ip=arg("ip", 45), since=stamps["since"], until=stamps["until"], limit=limit, after=cursor)


@bp.route("/audit/events", methods=["GET"])
def audit_events():
    limit, cursor = page()
    rows, next_cursor = audit.search(actor(), _audit_query(limit, cursor))
    subs = audit.subs_of(rows)
    return paged([audit.represent(e, subs) for e in rows], next_cursor, "admin_api.audit_events",
                 **{k: v for k, v in request.args.items() if k != "cursor"})


@bp.route("/audit/events.csv", methods=["GET"])
def audit_export():
    chunks = audit.export_csv(actor(), _audit_query())
    response = Response(stream_with_context(chunks), mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="motid-audit.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response
