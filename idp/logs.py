"""Logging: plain text by default; with ``IDP_LOG_FORMAT=json``, one JSON object a line and a line per request.

A request line has the request id (the proxy's ``X-Request-ID`` when it is a plain token, else a new
one, echoed in the response), the client id when the request names one, the endpoint, method, status
and duration. It never has a query string, a form, a header value or a body. Every JSON line, from MotID
or from a library, is redacted as it is formatted: anything shaped like a JWT, a long random token or a
12-digit personal number is replaced before it is written.
"""
from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import datetime, timezone

from flask import g, request

REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
SECRETS = [
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*\.?[A-Za-z0-9_-]*"), "[jwt]"),  # JWS/JWE compact
    (re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])"), "[personal-number]"),
    (re.compile(r"\b[A-Za-z0-9_-]{32,}\b"), "[token]"),  # our tokens: 32+ url-safe characters
]
log = logging.getLogger("idp.requests")


def redact(text: str) -> str:
    for pattern, replacement in SECRETS:
        text = pattern.sub(replacement, text)
    return text


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
                 "level": record.levelname.lower(), "logger": record.name, "message": redact(record.getMessage())}
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["error"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(app) -> None:
    """With ``IDP_LOG_FORMAT=json``: a JSON handler on the root logger (once per process) and the request
    lines. Text, the default, leaves logging as the server (granian, gunicorn) sets it up."""
    if app.config.get("IDP_LOG_FORMAT") != "json":
        return
    root = logging.getLogger()
    if not any(getattr(handler, "_motid", False) for handler in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler._motid = True
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
        if root.level == logging.WARNING:  # the default: let MotID's own INFO lines through
            root.setLevel(logging.INFO)
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request(_request_line)


def _start():
    g.log_started = time.perf_counter()
    given = request.headers.get("X-Request-ID", "")
    g.request_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


def _client_id() -> str | None:
    client_id = request.args.get("client_id") or (request.form.get("client_id") if request.mimetype ==
                                                  "application/x-www-form-urlencoded" else None)
    if not client_id and request.authorization and request.authorization.type == "basic":
        client_id = request.authorization.username
    return client_id[:64] if isinstance(client_id, str) and client_id else None


def _request_line(response):
    started = g.get("log_started")
    if started is None:
        return response
    response.headers["X-Request-ID"] = g.request_id
    fields = {"request_id": g.request_id, "endpoint": request.endpoint or "none", "method": request.method,
              "status": response.status_code, "duration_ms": round((time.perf_counter() - started) * 1000, 2)}
    client_id = _client_id()
    if client_id:
        fields["client_id"] = redact(client_id)
    log.info("%s %s %s", request.method, request.endpoint or "none", response.status_code, extra={"fields": fields})
    return response
