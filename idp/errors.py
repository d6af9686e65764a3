"""Error responses: a page in the user's language, or JSON on API paths. Never a stack trace."""
from __future__ import annotations

import logging

from flask import jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable

from .db import db

log = logging.getLogger(__name__)

TITLES = {
    400: _l("The request could not be understood"),
    403: _l("You do not have access to this page"),
    404: _l("Page not found"),
    405: _l("This action is not allowed here"),
    413: _l("The submitted data is too large"),
    429: _l("Too many attempts"),
    500: _l("Something went wrong on our side"),
    503: _l("The service is temporarily unavailable"),
}
TEXTS = {
    400: _l("Please go back and try again."),
    403: _l("If you think this is a mistake, contact the administrator of your unit."),
    404: _l("Check the address, or return to the home page."),
    405: _l("Please go back and try again."),
    413: _l("Please shorten what you entered and try again."),
    429: _l("Please wait a few minutes before trying again."),
    500: _l("The error has been recorded. Please try again in a moment."),
    503: _l("Please try again in a few minutes."),
}
API_PREFIXES = ("/api/", "/admin/api/", "/healthz", "/readyz")


def wants_json() -> bool:
    return request.path.startswith(API_PREFIXES)


def render_error(code: int, text=None):
    if wants_json():
        return jsonify(error=str(TITLES.get(code, TITLES[400])), status=code), code
    return render_template("errors/error.html", code=code, title=TITLES.get(code, TITLES[400]),
                           text=text or TEXTS.get(code, TEXTS[400])), code


def init_app(app) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return render_error(400, _l("This form has expired or was not sent from MotID. "
                                    "Please reload the page and try again."))

    @app.errorhandler(HTTPException)
    def http_error(exc):
        response = render_error(exc.code or 500)
        if exc.code == 429:
            body, code = response
            return body, code, {"Retry-After": "60"}
        return response

    @app.errorhandler(OperationalError)
    @app.errorhandler(DBAPIError)
    def database_error(exc):
        log.error("database error: %s", exc.__class__.__name__)
        db.session.rollback()
        return render_error(ServiceUnavailable.code)

    @app.errorhandler(Exception)
    def unexpected(exc):
        log.exception("unhandled error")
        db.session.rollback()
        return render_error(InternalServerError.code)
