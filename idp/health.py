"""Liveness and readiness probes for the load balancer."""
from __future__ import annotations

from flask import Blueprint, jsonify

from .db import ping

bp = Blueprint("health", __name__)


@bp.route("/healthz")
def healthz():
    """The process is alive and answering."""
    return jsonify(status="ok")


@bp.route("/readyz")
def readyz():
    """The process can serve: its database answers. 503 otherwise, so the balancer skips this node."""
    if ping():
        return jsonify(status="ready", database="ok")
    return jsonify(status="unavailable", database="unreachable"), 503
