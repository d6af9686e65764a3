"""A Zalo-shaped OAuth 2 server on loopback (Zalo Login v4 as vietnam-context.md §4 describes it):

- ``GET /v4/permission?app_id&redirect_uri&code_challenge&state``: the person (``ZaloServer.user``) agrees
  at once; redirects back with ``code`` and ``state``;
- ``POST /v4/access_token``: form ``app_id``, ``code``, ``grant_type=authorization_code``, ``code_verifier``
  (S256 against the challenge), the app secret in the ``secret_key`` header; errors as Zalo sends them
  (HTTP 200, a negative ``error`` number);
- ``GET /v2.0/me?fields=id,name,picture``: the access token in the ``access_token`` header.
"""
from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from urllib.parse import urlencode

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

APP_ID = "4143902110000000000"
SECRET_KEY = "zalo-app-secret-key"


class _ZaloHeaders(WSGIRequestHandler):
    """Zalo's headers have underscores (``secret_key``, ``access_token``), which werkzeug's server drops
    from the WSGI environment; this one keeps those two."""

    def make_environ(self):
        environ = super().make_environ()
        for name in ("secret_key", "access_token"):
            if name in self.headers:
                environ["HTTP_" + name.upper()] = self.headers[name]
        return environ


class ZaloServer:
    def __init__(self, port: int):
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.user = {"id": "8123456789012345678", "name": "Nguyễn Thị Hoa",
                     "picture": {"data": {"url": "https://s120-ava-talk.zadn.vn/a/b/c.jpg"}}}
        self.codes: dict[str, tuple[str, str]] = {}  # code -> (challenge, redirect_uri)
        self.tokens: set[str] = set()
        self._server = make_server("127.0.0.1", port, self._app, threaded=True, request_handler=_ZaloHeaders)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()

    @Request.application
    def _app(self, request: Request) -> Response:
        if request.path == "/v4/permission":
            return self._permission(request)
        if request.path == "/v4/access_token" and request.method == "POST":
            return self._access_token(request)
        if request.path == "/v2.0/me":
            if request.headers.get("access_token") not in self.tokens:
                return _json({"error": -501, "message": "Access token is invalid"})
            return _json({**self.user, "error": 0, "message": "Success"})
        return Response("not found", 404)

    def _permission(self, request: Request) -> Response:
        args = request.args
        if args.get("app_id") != APP_ID or not args.get("code_challenge"):
            return Response("invalid app_id or no code_challenge", 400)
        code = secrets.token_urlsafe(16)
        self.codes[code] = (args["code_challenge"], args["redirect_uri"])
        target = args["redirect_uri"] + "?" + urlencode({"code": code, "state": args.get("state", "")})
        return Response(status=302, headers={"Location": target})

    def _access_token(self, request: Request) -> Response:
        form = request.form
        if request.headers.get("secret_key") != SECRET_KEY or form.get("app_id") != APP_ID:
            return _json({"error": -14002, "error_name": "Invalid app id or secret key"})
        stored = self.codes.pop(form.get("code", ""), None)
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if stored is None or stored[0] != challenge or form.get("grant_type") != "authorization_code":
            return _json({"error": -14014, "error_name": "Invalid code verifier or code"})
        token = secrets.token_urlsafe(24)
        self.tokens.add(token)
        return _json({"access_token": token, "refresh_token": secrets.token_urlsafe(24), "expires_in": "3600"})


def _json(body: dict) -> Response:
    import json
    return Response(json.dumps(body, ensure_ascii=False), content_type="application/json")
