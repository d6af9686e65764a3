"""The bare-Flask ceilings of ``bench/oidc_bench.py``: the most any Flask endpoint can do on this stack.

Not MotID. Two tiny WSGI applications, each served by every server ``idp serve`` can use or could
use (gunicorn sync, gunicorn gthread, granian WSGI), under the same wrk load as MotID:

- ``create_constant_app()``: GET / answers a constant small JSON object (Flask serialises the dict on
  each request, as any view returning a dict does). What discovery and JWKS are held to.
- ``create_jwt_app()``: GET / signs one ES256 JWT per request with joserfc (the library MotID signs
  with) and answers it as a token response. The claims are those of a MotID ``client_credentials``
  access token (iss, sub, aud, client_id, scope, jti, iat, exp; header ``typ: at+jwt`` and a kid). The
  key is generated once, when the application is built (once per worker process), never per request.
  What the token endpoint, UserInfo and introspection are held to.

Both also answer GET /healthz (the harness waits on it). Nothing is stored, logged or checked.

    gunicorn --workers 2 --threads 4 --pythonpath bench 'ceiling_apps:create_jwt_app()'
    granian --interface wsgi --workers 2 --factory --working-dir bench ceiling_apps:create_constant_app
"""
from __future__ import annotations

import secrets
import time

from flask import Flask
from joserfc import jwt
from joserfc.jwk import ECKey

ISSUER = "http://127.0.0.1/ceiling"
CLIENT_ID = "ceiling-bench-client"
SCOPE = "profile email"
ACCESS_TTL = 900
CONSTANT = {"status": "ok", "service": "ceiling", "version": 1}


def _healthz(app: Flask) -> None:
    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}


def create_constant_app() -> Flask:
    app = Flask("ceiling_constant")

    @app.get("/")
    def constant():
        return CONSTANT

    _healthz(app)
    return app


def create_jwt_app() -> Flask:
    app = Flask("ceiling_jwt")
    kid = secrets.token_urlsafe(8)
    key = ECKey.generate_key("P-256", parameters={"kid": kid, "alg": "ES256", "use": "sig"}, private=True)
    header = {"alg": "ES256", "kid": kid, "typ": "at+jwt"}

    @app.route("/", methods=["GET", "POST"])
    def token():
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": CLIENT_ID, "aud": ISSUER, "client_id": CLIENT_ID, "scope": SCOPE,
                  "jti": secrets.token_urlsafe(16), "iat": now, "exp": now + ACCESS_TTL}
        return {"access_token": jwt.encode(header, claims, key), "token_type": "Bearer", "expires_in": ACCESS_TTL,
                "scope": SCOPE}

    _healthz(app)
    return app
