"""What the API reads from a request, each checked before a rule module sees it: a JSON body against
the OpenAPI schema, a CSV or certificate file, query parameters, a page, ``If-Match``. What does not
pass is refused (and the refusal recorded) with the parameter or field named."""
from __future__ import annotations

import json
import re
from datetime import date

import jsonschema_rs
from flask import request
from flask_babel import gettext as _

from ..authz import refuse
from ..search import MAX_PAGE
from .authentication import actor
from .schemas import body_schema

_validators: dict[str, object] = {}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
NUMBER = re.compile(r"^[0-9]{1,9}\Z")


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


def parse_date(value: str | None, field: str) -> date | None:
    """A body's date, already shaped ``YYYY-MM-DD`` by the schema; a day that does not exist (2024-13-01:
    the validator does not check ``format``) is refused like any other invalid field, not a server error."""
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        raise refuse(actor(), f"api.{request.endpoint}", "invalid_input", _("The body does not match the schema."),
                     status=422, fields={field: "field.invalid"}) from None
