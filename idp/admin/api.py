"""The administration REST API under ``/admin/api/v1/`` (OpenAPI 3.1: :mod:`idp.admin.openapi`).

Authorised by MotID access tokens (RFC 6750 header only): an administrator's own token (its
session at assurance level 2; the actor's roles still apply) or an application's
client-credentials token. The token's ``admin:*`` scopes bound what either may do. Errors are
RFC 9457 problem details; updates need ``If-Match`` (RFC 9110 §13.1.1) with the current ETag.
"""
from __future__ import annotations

import hashlib
import json
import re
from datetime import date

import jsonschema_rs
from flask import Blueprint, Response, current_app, g, request, url_for
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from ..accounts import assurance
from ..clock import now
from ..oidc.lookup import live_access_token
from ..oidc.mtls import holder_matches
from .authz import ADMIN_SCOPES, Actor, Refused, refuse
from .messages import message
from .openapi import body_schema, document
from .search import MAX_PAGE

bp = Blueprint("admin_api", __name__, url_prefix="/admin/api/v1")
PROBLEM_TYPE = "https://motid.example/problems/"
MAX_TOKEN = 4096
_validators: dict[str, object] = {}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
NUMBER = re.compile(r"^[0-9]{1,9}\Z")


# -- responses -------------------------------------------------------------------------------------------
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


# -- authentication ------------------------------------------------------------------------------------
CERTIFICATE_NOT_PRESENTED = "The access token is bound to a client certificate that was not presented (RFC 8705)."


def _unauthorized(description: str) -> Response:
    return problem(401, "invalid_token", description,
                   headers={"WWW-Authenticate": f'Bearer realm="MotID", error="invalid_token", '
                                                f'error_description="{description}"'})


@bp.before_request
def authenticate():
    if request.endpoint == "admin_api.openapi":
        return None
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else ""
    if not token or len(token) > MAX_TOKEN:
        return problem(401, "invalid_token", _("An access token is required."),
                       headers={"WWW-Authenticate": 'Bearer realm="MotID"'})
    app = current_app
    found = live_access_token(token, app.extensions["idp.keys"], app.config["IDP_ISSUER"], now(), with_account=True)
    if found is None:
        return _unauthorized("The access token is invalid, expired or revoked.")
    scopes = set(found.scope.split()) & set(ADMIN_SCOPES)
    account = found.account
    if account is not None and account.status != "active":
        return _unauthorized("The account behind this token is not active.")
    actor = (Actor.for_account(account, scopes=scopes, client_id=found.client_id) if account is not None
             else Actor.for_client(found.client_id, scopes))
    g.admin_actor = actor
    action = f"api.{request.endpoint}"
    if not holder_matches(found.cnf_x5t):
        # RFC 8705 §3: a certificate-bound token is only good with its certificate, as at /userinfo. A
        # genuine token without it may have been stolen: recorded, like every refusal of a known actor.
        raise refuse(actor, action, "invalid_token", CERTIFICATE_NOT_PRESENTED, status=401,
                     extra={"cause": "certificate_not_presented"})
    if not scopes:
        raise refuse(actor, action, "insufficient_scope", _("The access token has no admin scope."))
    if account is not None and not assurance.satisfies(found.acr, assurance.LOA2):
        raise refuse(actor, action, "insufficient_user_authentication",
                     _("Administration needs a login with a second factor (assurance level 2)."), status=401)
    if account is not None and not actor.roles:
        raise refuse(actor, action, "forbidden", _("This account is not an administrator."))
    return None


def actor() -> Actor:
    return g.admin_actor


# -- input ----------------------------------------------------------------------------------------------
def body(schema: str) -> dict:
    """The JSON body, checked against the OpenAPI schema; a refusal (recorded) otherwise."""
    action = f"api.{request.endpoint}"
    if request.mimetype != "application/json":
        raise refuse(actor(), action, "unsupported_media_type", _("Send application/json."), status=415)
    try:
        value = json.loads(request.get_data(cache=False).decode("utf-8"), parse_constant=_reject)
    except (ValueError, RecursionError):
        raise refuse(actor(), action, "invalid_json", _("The body is not valid JSON."), status=400) from None
    validator = _validators.get(schema)
    if validator is None:
        validator = _validators[schema] = jsonschema_rs.validator_for(body_schema(schema))
    errors = {}
    for error in validator.iter_errors(value):
        field = ".".join(str(p) for p in error.instance_path) or "body"
        errors.setdefault(field, "field.invalid")
        if len(errors) >= 20:
            break
    if errors or not isinstance(value, dict):
        raise refuse(actor(), action, "invalid_input", _("The body does not match the schema."), status=422,
                     fields=errors or {"body": "field.invalid"})
    return value


def _reject(name):
    raise ValueError(name)


def csv_body() -> bytes:
    if request.mimetype not in ("text/csv", "application/octet-stream", "text/plain"):
        raise refuse(actor(), f"api.{request.endpoint}", "unsupported_media_type", _("Send text/csv."), status=415)
    return request.get_data(cache=False)


def file_body(media_types: tuple[str, ...], limit: int) -> bytes:
    """A file sent as the whole body (a certificate, a CRL). Up to ``limit`` + 1 bytes are read even
    past the application's request limit (a CRL may be larger), so the store judges the size itself."""
    if request.mimetype not in media_types:
        raise refuse(actor(), f"api.{request.endpoint}", "unsupported_media_type",
                     _("Send the file as %(types)s.", types=", ".join(media_types)), status=415)
    request.max_content_length = limit + 1
    return request.get_data(cache=False)


def arg(name: str, limit: int = 254, *, empty_ok: bool = True) -> str | None:
    value = request.args.get(name)
    if value is None or (value == "" and empty_ok):
        return None
    if len(value) > limit or _CONTROL.search(value) or not value:
        raise refuse(actor(), f"api.{request.endpoint}", "invalid_parameter", _("A query parameter is not valid."),
                     status=400, fields={name: "field.invalid"})
    return value


def page() -> tuple[int, int | None]:
    """``limit`` (1–100; more is refused, not silently cut) and the keyset ``cursor``."""
    raw_limit, raw_cursor = request.args.get("limit", "50"), request.args.get("cursor")
    action = f"api.{request.endpoint}"
    if not NUMBER.match(raw_limit) or int(raw_limit) < 1:
        raise refuse(actor(), action, "invalid_parameter", _("limit must be a whole number from 1 to %(max)d.",
                                                             max=MAX_PAGE), status=400, fields={"limit": "field.invalid"})
    if int(raw_limit) > MAX_PAGE:
        raise refuse(actor(), action, "page_too_large", _("limit must be at most %(max)d.", max=MAX_PAGE), status=400,
                     fields={"limit": "field.invalid"}, extra={"limit": int(raw_limit)})
    cursor = None
    if raw_cursor not in (None, ""):
        if not NUMBER.match(raw_cursor) or int(raw_cursor) > 2**31:
            raise refuse(actor(), action, "invalid_parameter", _("The cursor is not valid."), status=400,
                         fields={"cursor": "field.invalid"})
        cursor = int(raw_cursor)
    return int(raw_limit), cursor


def flag(name: str) -> bool:
    value = request.args.get(name, "false").lower()
    if value not in ("true", "false", "1", "0"):
        raise refuse(actor(), f"api.{request.endpoint}", "invalid_parameter", _("A query parameter is not valid."),
                     status=400, fields={name: "field.invalid"})
    return value in ("true", "1")


def if_match(current: str, target) -> None:
    """Refuse an update that does not name the current version (lost-update protection)."""
    header = request.headers.get("If-Match")
    action = f"api.{request.endpoint}"
    if not header:
        raise refuse(actor(), action, "missing_if_match", _("Send If-Match with the ETag you read."), status=428,
                     target=target)
    if current not in [t.strip().removeprefix("W/").strip('"') for t in header.split(",")] and header.strip() != "*":
        raise refuse(actor(), action, "stale_etag", _("The resource changed since you read it. Read it again."),
                     status=412, target=target)


def etag_of(document_: dict) -> str:
    return hashlib.sha256(json.dumps(document_, sort_keys=True, default=str).encode()).hexdigest()[:32]


def parse_date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


# -- the document -----------------------------------------------------------------------------------------
@bp.route("/openapi.json")
def openapi():
    response = ok(document(current_app.config["IDP_ISSUER"]))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


def init_app(app) -> None:
    from . import api_routes  # noqa: F401  (the resources' routes join the blueprint)
    app.register_blueprint(bp)

    # Unrouted requests under the API (no such path or method) also answer in problem details.
    def unrouted(exc: HTTPException):
        if request.path.startswith(bp.url_prefix + "/"):
            return problem(exc.code, "http_error")
        from ..errors import render_error
        return render_error(exc.code)

    app.register_error_handler(404, unrouted)
    app.register_error_handler(405, unrouted)
    from ..extensions import csrf
    csrf.exempt(bp)
