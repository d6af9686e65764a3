"""Prometheus metrics at ``/metrics`` (prometheus-client), off unless an operator allows a reader.

``IDP_METRICS_ALLOW`` (addresses or networks) and/or ``IDP_METRICS_TOKEN`` (a bearer token) turn it on;
anyone else gets 404, as if it did not exist. Off, nothing is counted and no request pays for it.

Several processes: ``idp serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at a folder of its own before the
application is loaded (prometheus-client chooses its multi-process storage when it is first imported), so
every web worker and the ``idp worker`` beside them write there and a scrape of any worker sums them all.
A server started otherwise counts per process unless that variable is set.

The wings report through :func:`count` (a name of :data:`COUNTERS` and its labels) and
:func:`gauge_source` (a value read at scrape time, e.g. the back-channel outbox depth from the
database); audit events are counted by :func:`count_event`, which also derives logins by method and
result from the login events, so the wings need no second call for those.
"""
from __future__ import annotations

import hmac
import ipaddress
import os
import time

from flask import Blueprint, Response, abort, current_app, request

bp = Blueprint("metrics", __name__)

# name -> (help, labels)
COUNTERS = {
    "audit_events": ("Audit events recorded, by tag.", ("tag",)),
    "logins": ("Login attempts by method and result (from the audit events).", ("method", "result")),
    "tokens_issued": ("Successful token endpoint responses, by grant type.", ("grant_type",)),
    "refresh_token_reuse": ("Refresh tokens presented again after rotation (the grant was revoked).", ()),
    "code_replays": ("Authorization codes presented twice (the grant was revoked).", ()),
    "certificate_checks": ("Client certificate validations, by result.", ("result",)),
    "backchannel_deliveries": ("Back-channel logout delivery attempts, by result.", ("result",)),
}
# Failure tags of each way to log in; a success is ``account:login:success`` with the session's ``amr``.
LOGIN_FAILURES = {
    "account:login:failure": "pwd",
    "account:totp:failure": "otp",
    "account:passkey:failure": "hwk",
    "account:certificate:login_failure": "cert",
    "account:upstream:reject": "fed",
}
LOGIN_METHODS = ("fed", "pwd", "hwk", "swk", "otp", "mfa", "cert")
GRANT_TYPES_COUNTED = 12  # distinct grant_type labels kept; more become "other" (the value is the client's)
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

_metrics: "_Metrics | None" = None  # this process's, once an app with metrics on was created
_sources: dict = {}  # gauge name -> (help, function(app) -> number)


class _Metrics:
    def __init__(self):
        from prometheus_client import Counter, Gauge, Histogram

        self.requests = Histogram("idp_http_request_duration_seconds",
                                  "Time to answer a request, by endpoint, method and status.",
                                  ("endpoint", "method", "status"), buckets=BUCKETS)
        self.counters = {name: Counter(f"idp_{name}", text, labels) for name, (text, labels) in COUNTERS.items()}
        self.pool_in_use = Gauge("idp_db_pool_connections_in_use",
                                 "Database connections checked out of this process's pool (summed over live "
                                 "processes).", multiprocess_mode="livesum")
        self.grant_types: set[str] = set()


def enabled(config) -> bool:
    return bool(config.get("IDP_METRICS_ALLOW") or config.get("IDP_METRICS_TOKEN"))


def init_app(app) -> None:
    """Count requests and serve ``/metrics`` when the configuration allows a reader."""
    global _metrics
    if not enabled(app.config):
        return
    if _metrics is None:
        _metrics = _Metrics()
    app.extensions["idp.metrics_allow"] = _networks(app.config.get("IDP_METRICS_ALLOW") or "")
    app.register_blueprint(bp)
    app.before_request_funcs.setdefault(None, []).insert(0, _name_endpoint)
    app.wsgi_app = _Timing(app.wsgi_app, app)


def _networks(text: str) -> list:
    networks = []
    for item in (part.strip() for part in text.split(",")):
        if item:
            networks.append(ipaddress.ip_network(item, strict=False))  # validated by idp.config
    return networks


def count(name: str, **labels) -> None:
    """Add one to a counter of :data:`COUNTERS` (nothing when metrics are off)."""
    if _metrics is None:
        return
    counter = _metrics.counters[name]
    (counter.labels(**labels) if labels else counter).inc()


def count_event(tag: str, details: dict) -> None:
    """Called for every audit event: counts it by tag, and logins by method and result."""
    if _metrics is None:
        return
    count("audit_events", tag=tag)
    if tag == "account:login:success":
        amr = details.get("amr") if isinstance(details.get("amr"), list) else []
        method = "+".join(m for m in LOGIN_METHODS if m in amr) or "other"
        count("logins", method=method, result="success")
    elif tag in LOGIN_FAILURES:
        count("logins", method=LOGIN_FAILURES[tag], result="failure")


def count_token(grant_type: str | None) -> None:
    """A successful token response; ``grant_type`` comes from the client, so its labels are bounded."""
    if _metrics is None:
        return
    label = grant_type if isinstance(grant_type, str) and len(grant_type) <= 100 else "other"
    if label not in _metrics.grant_types:
        if len(_metrics.grant_types) >= GRANT_TYPES_COUNTED:
            label = "other"
        else:
            _metrics.grant_types.add(label)
    count("tokens_issued", grant_type=label)


def gauge_source(name: str, text: str, read) -> None:
    """A gauge read at scrape time: ``read(app)`` returns its value (a wing registers its own)."""
    _sources[name] = (text, read)


def _name_endpoint():
    request.environ["idp.endpoint"] = request.endpoint or "none"


class _Timing:
    """WSGI middleware: the duration and status of every request, and the pool's use after it."""

    def __init__(self, wsgi_app, app):
        self.wsgi_app = wsgi_app
        self.app = app
        self.engine = None

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        status = ["500"]

        def start(status_line, headers, exc_info=None):
            status[0] = status_line[:3]
            return start_response(status_line, headers, exc_info)

        try:
            return self.wsgi_app(environ, start)
        finally:
            endpoint = environ.get("idp.endpoint") or environ.get("idp.published") or "none"
            method = environ.get("REQUEST_METHOD", "")
            method = method if method in ("GET", "POST", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS") else "other"
            _metrics.requests.labels(endpoint, method, status[0]).observe(time.perf_counter() - started)
            self._pool_gauge()

    def _pool_gauge(self):
        if self.engine is None:
            from .db import db
            with self.app.app_context():
                self.engine = db.engine
        checked_out = getattr(self.engine.pool, "checkedout", None)
        if checked_out is not None:
            _metrics.pool_in_use.set(checked_out())


@bp.route("/metrics")
def scrape():
    if not _allowed():
        abort(404)
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
    from prometheus_client.core import GaugeMetricFamily

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    app = current_app._get_current_object()

    class Sources:
        def collect(self):
            for name, (text, read) in _sources.items():
                yield GaugeMetricFamily(f"idp_{name}", text, value=read(app))

    scraped = CollectorRegistry()
    scraped.register(Sources())
    body = generate_latest(registry) + generate_latest(scraped)
    return Response(body, content_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


def _allowed() -> bool:
    token = current_app.config.get("IDP_METRICS_TOKEN") or ""
    presented = request.headers.get("Authorization", "")
    if token and presented.startswith("Bearer ") and hmac.compare_digest(presented[7:].encode(), token.encode()):
        return True
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(address in network for network in current_app.extensions["idp.metrics_allow"])
