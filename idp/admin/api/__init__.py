"""The administration REST API under ``/admin/api/v1/`` (OpenAPI 3.1: :mod:`.openapi`), one module
per resource.

Authorised by MotID access tokens (:mod:`.authentication`). Each route parses its input
(:mod:`.inputs`), calls one rule module, and answers JSON (:mod:`.responses`). Errors are RFC 9457
problem details; updates need ``If-Match`` (RFC 9110 §13.1.1) with the current ETag. Every module
adds its routes to the one blueprint (:mod:`.blueprint`, imported by all of them, importing none);
importing them here is what registers the routes.
"""
from __future__ import annotations

from flask import request
from werkzeug.exceptions import HTTPException

from ...errors import render_error
from ...extensions import csrf
from . import (accounts, audit, authentication, clients, exchange, importing, keys, openapi, responses, roles, trust,
               units, upstreams)
from .blueprint import bp
from .responses import problem

# Imported for the routes and handlers they add to bp; listed so that no import looks unused.
RESOURCES = (responses, authentication, openapi, accounts, importing, units, roles, clients, exchange, keys, trust,
             upstreams,
             audit)


def init_app(app) -> None:
    app.register_blueprint(bp)

    # Unrouted requests under the API (no such path or method) also answer in problem details.
    def unrouted(exc: HTTPException):
        if request.path.startswith(bp.url_prefix + "/"):
            return problem(exc.code, "http_error")
        return render_error(exc.code)

    app.register_error_handler(404, unrouted)
    app.register_error_handler(405, unrouted)
    csrf.exempt(bp)
