"""Console pages for the audit log: filtered pages and the CSV export."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

from flask import Response, abort, render_template, request, stream_with_context

from .. import audit
from ..authz import require
from ..forms import AuditFilterForm
from .blueprint import bp
from .common import actor


def audit_query(form: AuditFilterForm, limit: int = 50, after=None) -> audit.AuditQuery:
    def moment(day, extra):
        return datetime.combine(day, time.min, tzinfo=timezone.utc) + extra if day else None
    return audit.AuditQuery(tag=form.tag.data or None, account=form.account.data or None,
                            client_id=form.client_id.data or None, ip=form.ip.data or None,
                            since=moment(form.since.data, timedelta(0)), until=moment(form.until.data, timedelta(days=1)),
                            limit=limit, after=after)


@bp.route("/audit")
def audit_page():
    form = AuditFilterForm(request.args)
    cursor = request.args.get("cursor", "")
    rows, next_cursor, subs = [], None, {}
    require(actor(), "audit.read", "audit.read")
    if form.validate():
        rows, next_cursor = audit.search(actor(), audit_query(
            form, after=int(cursor) if cursor.isdigit() and len(cursor) < 10 else None))
        subs = audit.subs_of(rows)
    args = {k: v for k, v in request.args.items() if k != "cursor"}
    return render_template("admin/audit.html", form=form, rows=rows, subs=subs, next_cursor=next_cursor, args=args)


@bp.route("/audit/export.csv")
def audit_export():
    form = AuditFilterForm(request.args)
    if not form.validate():
        abort(400)
    response = Response(stream_with_context(audit.export_csv(actor(), audit_query(form))), mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="motid-audit.csv"'
    return response
