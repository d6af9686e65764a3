"""The published documents (discovery, RFC 8414 metadata, JWKS) answered before Flask.

Every relying party and resource server fetches them, often on every token it checks; they change
only with the configuration or the signing keys. This WSGI layer keeps each as ready bytes with its
ETag (JWKS: rebuilt when any node changes a key, :mod:`idp.versions`, or a key's state moves with
time) and answers GET and HEAD without Flask's per-request machinery, with the same headers the Flask
routes in :mod:`.views` give (they still answer everything else: other methods, query strings, and any
request this layer cannot serve, such as an untrusted Host or a database that is down).
"""
from __future__ import annotations

import hashlib
import json
import logging
import threading

from flask import Response
from werkzeug.exceptions import SecurityError
from werkzeug.wsgi import get_host

from ..clock import now
from ..security import apply_security_headers

log = logging.getLogger(__name__)
PATHS = {"/.well-known/openid-configuration": "discovery", "/.well-known/oauth-authorization-server": "discovery",
         "/jwks.json": "jwks"}
CACHEABLE = "public, max-age=300"


def etag_of(document: dict) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:32]


def response_for(document: dict) -> Response:
    """The response both paths give (before the security headers every response gets)."""
    response = Response(json.dumps(document), mimetype="application/json")
    response.set_etag(etag_of(document))
    response.headers["Cache-Control"] = CACHEABLE
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


class PublishedDocuments:
    def __init__(self, app, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app
        self.trusted = app.config["TRUSTED_HOSTS"]
        self.https = app.config["IDP_ISSUER"].startswith("https://")
        self._lock = threading.Lock()
        self._built: dict = {}  # name → (key, body bytes, headers list, quoted etag)

    def __call__(self, environ, start_response):
        name = PATHS.get(environ.get("PATH_INFO", ""))
        if name is None or environ.get("REQUEST_METHOD") not in ("GET", "HEAD") or environ.get("QUERY_STRING"):
            return self.wsgi_app(environ, start_response)
        try:
            get_host(environ, self.trusted)
            body, headers, etag = self._document(name)
        except SecurityError:
            return self.wsgi_app(environ, start_response)  # Flask's plain 400, as for any other path
        except Exception:  # noqa: BLE001 - e.g. the database is down: Flask answers with its error page
            log.warning("published %s: answered by Flask instead", name, exc_info=True)
            return self.wsgi_app(environ, start_response)
        environ["idp.endpoint"] = "published." + name  # the request metrics' label
        if etag in [tag.strip() for tag in environ.get("HTTP_IF_NONE_MATCH", "").split(",")]:
            start_response("304 NOT MODIFIED", [h for h in headers if h[0] not in ("Content-Type", "Content-Length")])
            return []
        start_response("200 OK", headers)
        return [] if environ["REQUEST_METHOD"] == "HEAD" else [body]

    def _document(self, name: str):
        with self.app.app_context():
            if name == "discovery":
                key = "static"  # the configuration does not change while the process runs
                built = self._built.get(name)
                if built is None or built[0] != key:
                    with self.app.test_request_context():
                        from .discovery import metadata
                        built = self._build(name, key, metadata())
            else:
                keys = self.app.extensions["idp.keys"]
                moment = now()
                key = keys.published_state(moment)
                built = self._built.get(name)
                if built is None or built[0] != key:
                    built = self._build(name, key, keys.jwks(moment))
        return built[1:]

    def _build(self, name, key, document: dict):
        response = apply_security_headers(response_for(document), self.https)
        body = response.get_data()
        headers = [(k, v) for k, v in response.headers.items() if k != "Content-Length"]
        headers.append(("Content-Length", str(len(body))))
        built = (key, body, headers, response.headers["ETag"])
        with self._lock:
            self._built[name] = built
        return built
