"""How the API answers: JSON with ``Cache-Control: no-store``, keyset pages with a ``Link`` to the
next, and every refusal or HTTP error as RFC 9457 problem details."""
from __future__ import annotations

import json

from flask import Response, request, url_for
from werkzeug.exceptions import HTTPException

from ..authz import Refused
from ..messages import message
from .blueprint import bp

PROBLEM_TYPE = "https://motid.example/problems/"


def problem(status: int, reason: str, detail=None, *, errors: dict | None = None, report=None,
            headers: dict | None = None) -> Response:
    """RFC 9457 problem details."""
    body = {"type": PROBLEM_TYPE + reason.replace("_", "-"), "title": _title(status), "status": status,
            "reason": reason, "instance": request.path}
    if detail:
        body["detail"] = str(detail)
    if errors:
        body["errors"] = {field: {"code": str(code), "message": str(message(str(code)))}
                          for field, code in errors.items()}
    if report is not None:
        body["report"] = report
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype="application/problem+json",
                        headers=headers)
    response.headers["Cache-Control"] = "no-store"
    return response


def _title(status: int) -> str:
    from werkzeug.http import HTTP_STATUS_CODES
    return HTTP_STATUS_CODES.get(status, "Error")


def ok(body, status: int = 200, etag: str | None = None, headers: dict | None = None) -> Response:
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype="application/json",
                        headers=headers)
    response.headers["Cache-Control"] = "no-store"
    if etag:
        response.set_etag(etag)
    return response


def paged(items: list, cursor, endpoint: str, **args) -> Response:
    body = {"items": items, "next_cursor": str(cursor) if cursor is not None else None}
    headers = {}
    if cursor is not None:
        headers["Link"] = f'<{url_for(endpoint, cursor=cursor, _external=True, **args)}>; rel="next"'
    return ok(body, headers=headers)


@bp.errorhandler(Refused)
def refused(exc: Refused):
    report = exc.fields.get("report") if isinstance(exc.fields, dict) else None
    errors = {k: v for k, v in exc.fields.items() if k != "report"} if exc.fields else None
    headers = None
    if exc.reason in ("insufficient_scope", "insufficient_user_authentication"):
        headers = {"WWW-Authenticate": f'Bearer realm="MotID", error="{exc.reason}"'}
    elif exc.reason == "invalid_token":  # RFC 6750 §3.1; the description is in the problem's detail
        headers = {"WWW-Authenticate": 'Bearer realm="MotID", error="invalid_token"'}
    return problem(exc.status, exc.reason, exc.detail, errors=errors, report=report, headers=headers)


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException):
    return problem(exc.code or 500, "http_error", exc.description if exc.code == 413 else None)
