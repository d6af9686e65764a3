"""A small relying party (RP) for MotID: "Đăng nhập bằng MotID" with Authlib's Flask client, and single
logout in all three standard ways.

- Login: authorization code + PKCE S256 + nonce (Authlib), ``iss`` checked (RFC 9207), UserInfo fetched.
- RP-Initiated Logout 1.0: ``POST /logout`` ends the local session and sends the browser to the
  provider's ``end_session_endpoint`` with ``id_token_hint``, ``client_id``, ``post_logout_redirect_uri``
  (this app's ``/logged-out``) and ``state``.
- Back-Channel Logout 1.0: ``POST /backchannel-logout`` verifies the ``logout_token`` (joserfc, provider
  JWKS) and ends the local sessions of that OP session (``sid``) or person (``sub``).
- Front-Channel Logout 1.0: ``GET /frontchannel-logout?iss=…&sid=…``, loaded by the provider in an iframe.
- Step-up: ``POST /sensitive`` ("Thao tác nhạy cảm") sends a new authorization request with
  ``acr_values=urn:motid:loa:2``; the callback checks the ``acr`` it gets back (acr_values is only a request)
  and the home page shows it. A session at level 1 is asked for the second factor, keeping its ``sid``.

Sessions are SERVER-SIDE (in this process's memory): the cookie holds only a random identifier, so a
logout received from the provider, without the browser, really ends the session. One process only:
run it as it is (one gunicorn worker, several threads); several processes would need a shared store.

Usage (a secret is better passed in the environment than on the command line)::

    RP_CLIENT_SECRET=… python examples/rp_app.py --port 5001 --client-id ID \\
        --title "Cổng dịch vụ công tỉnh Cà Mau" --colour "#0b6e4f"

Every option has an ``RP_*`` environment variable (``--client-id`` ↔ ``RP_CLIENT_ID`` …).
"""
from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from authlib.integrations.flask_client import OAuth, OAuthError
from flask import Flask, abort, jsonify, make_response, redirect, render_template, request, session
from flask.sessions import SessionInterface, SessionMixin
from jinja2 import DictLoader
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from werkzeug.datastructures import CallbackDict

log = logging.getLogger("rp")

HERE = os.path.dirname(os.path.abspath(__file__))
SCOPE = "openid profile email phone"
STRONG_ACR = "urn:motid:loa:2"       # MotID: password and a second factor
STRONG_ENOUGH = (STRONG_ACR, "urn:motid:loa:3")   # loa:3 (certificate) is stronger still
HTTP_TIMEOUT = 10
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
# Logout tokens must be signed with the provider's asymmetric keys; never "none" nor HMAC.
ASYMMETRIC_ALGS = ("ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA")
COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


# --------------------------------------------------------------------------- settings

@dataclass(frozen=True)
class Settings:
    client_id: str
    client_secret: str
    issuer: str = "http://127.0.0.1:5000"
    port: int = 5001
    host: str = "127.0.0.1"
    base_url: str = ""                 # how browsers reach this app; default http://host:port
    name: str = ""                     # short technical name: cookie name, logs
    title: str = "Ứng dụng mẫu MotID"
    title_en: str = "MotID demo application"
    colour: str = "#1f5fa8"
    other_url: str = ""                # the other demo application, linked from the home page
    other_title: str = ""
    session_idle_seconds: int = 30 * 60
    session_max_seconds: int = 8 * 3600
    logout_token_max_age: int = 600    # iat older than this is refused (the provider's tokens live 120 s)
    clock_leeway: int = 60

    @property
    def url(self) -> str:
        return (self.base_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def cookie_name(self) -> str:
        # Browsers do not separate cookies by port: two apps on 127.0.0.1 need different names.
        return re.sub(r"[^A-Za-z0-9_]", "_", self.name or f"rp{self.port}") + "_session"


def settings_from_args(argv=None) -> Settings:
    env = os.environ.get
    parser = argparse.ArgumentParser(description="MotID demo relying party (Authlib Flask client)")
    parser.add_argument("--client-id", default=env("RP_CLIENT_ID"))
    parser.add_argument("--client-secret", default=env("RP_CLIENT_SECRET"),
                        help="prefer the RP_CLIENT_SECRET environment variable")
    parser.add_argument("--issuer", default=env("RP_ISSUER", "http://127.0.0.1:5000"))
    parser.add_argument("--host", default=env("RP_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(env("RP_PORT", "5001")))
    parser.add_argument("--base-url", default=env("RP_BASE_URL", ""))
    parser.add_argument("--name", default=env("RP_NAME", ""))
    parser.add_argument("--title", default=env("RP_TITLE", Settings.title))
    parser.add_argument("--title-en", default=env("RP_TITLE_EN", Settings.title_en))
    parser.add_argument("--colour", "--color", default=env("RP_COLOUR", Settings.colour))
    parser.add_argument("--other-url", default=env("RP_OTHER_URL", ""))
    parser.add_argument("--other-title", default=env("RP_OTHER_TITLE", ""))
    args = parser.parse_args(argv)
    if not args.client_id or not args.client_secret:
        parser.error("--client-id and the client secret (RP_CLIENT_SECRET) are required")
    if not COLOUR.match(args.colour):
        parser.error("--colour must look like #1f5fa8")
    return Settings(client_id=args.client_id, client_secret=args.client_secret, issuer=args.issuer.rstrip("/"),
                    host=args.host, port=args.port, base_url=args.base_url, name=args.name, title=args.title,
                    title_en=args.title_en, colour=args.colour, other_url=args.other_url,
                    other_title=args.other_title)


# --------------------------------------------------------------------------- server-side sessions

class ServerSession(CallbackDict, SessionMixin):
    """The session's data; the cookie carries only ``token``, a random identifier."""

    def __init__(self, initial=None, token: str | None = None):
        def on_update(self):
            self.modified = True

        super().__init__(initial, on_update)
        self.token = token
        self.new = token is None
        self.modified = False
        self.rotate = False

    def regenerate(self) -> None:
        """Issue a new identifier at the next save (after login and logout: no session fixation)."""
        self.rotate = True
        self.modified = True


class SessionStore:
    """Sessions in memory, indexed by a digest of the cookie value; thread-safe."""

    def __init__(self, idle_seconds: int, max_seconds: int):
        self.idle, self.max = idle_seconds, max_seconds
        self._lock = threading.Lock()
        self._records: dict[str, dict] = {}
        self._swept = 0.0

    @staticmethod
    def _key(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def _alive(self, record, now) -> bool:
        return now - record["seen"] < self.idle and now - record["created"] < self.max

    def _sweep(self, now) -> None:
        if now - self._swept > 60:
            self._swept = now
            for key in [k for k, r in self._records.items() if not self._alive(r, now)]:
                del self._records[key]

    def load(self, token: str) -> dict | None:
        now = time.time()
        with self._lock:
            self._sweep(now)
            record = self._records.get(self._key(token))
            if record is None or not self._alive(record, now):
                return None
            record["seen"] = now
            return json.loads(record["data"])  # a private copy for this request

    def create(self, data: dict) -> str:
        token = secrets.token_urlsafe(32)
        now = time.time()
        with self._lock:
            self._records[self._key(token)] = {"data": json.dumps(data), "created": now, "seen": now}
        return token

    def update(self, token: str, data: dict) -> bool:
        """Store new data only if the session still exists: a logout that ended it meanwhile wins."""
        with self._lock:
            record = self._records.get(self._key(token))
            if record is None:
                return False
            record["data"] = json.dumps(data)
            return True

    def delete(self, token: str) -> None:
        with self._lock:
            self._records.pop(self._key(token), None)

    def end_by_provider(self, iss: str, sid: str | None = None, sub: str | None = None) -> int:
        """End the sessions of one OP session (``sid``) or, with ``sub`` only, of one person."""
        ended = 0
        with self._lock:
            for key, record in list(self._records.items()):
                auth = json.loads(record["data"]).get("auth")
                if not auth or auth.get("iss") != iss:
                    continue
                if sid is not None:
                    match = auth.get("sid") == sid and (sub is None or auth.get("sub") == sub)
                else:
                    match = sub is not None and auth.get("sub") == sub
                if match:
                    del self._records[key]
                    ended += 1
        return ended


class ServerSessionInterface(SessionInterface):
    def __init__(self, store: SessionStore, cookie_name: str, secure: bool):
        self.store, self.cookie_name, self.secure = store, cookie_name, secure

    def open_session(self, app, request):
        token = request.cookies.get(self.cookie_name)
        if token and len(token) <= 100:
            data = self.store.load(token)
            if data is not None:
                return ServerSession(data, token)
        return ServerSession()

    def save_session(self, app, session, response):
        response.vary.add("Cookie")
        if not session.modified:
            return
        old = session.token
        if not session:                       # emptied: the session ends
            if old:
                self.store.delete(old)
                response.delete_cookie(self.cookie_name, path="/", httponly=True, samesite="Lax",
                                       secure=self.secure)
            return
        if session.new or session.rotate:
            if old:
                self.store.delete(old)
            token = self.store.create(dict(session))
            response.set_cookie(self.cookie_name, token, path="/", httponly=True, samesite="Lax",
                                secure=self.secure)
        elif not self.store.update(old, dict(session)):
            # Ended meanwhile (back- or front-channel logout): do not bring it back.
            response.delete_cookie(self.cookie_name, path="/", httponly=True, samesite="Lax", secure=self.secure)


# --------------------------------------------------------------------------- the provider and logout tokens

class LogoutTokenError(ValueError):
    pass


class ProviderUnavailable(RuntimeError):
    pass


class Provider:
    """Discovery and the JWKS, cached; the keys are fetched again for an unknown ``kid``."""

    METADATA_SECONDS = 300
    JWKS_SECONDS = 600        # below MotID's key-rotation delay (1 h): new keys are seen before they sign
    REFETCH_MIN_SECONDS = 10  # an unknown kid cannot make us hammer the provider

    def __init__(self, issuer: str):
        self.issuer = issuer
        self._lock = threading.RLock()   # keys() reads the metadata under the same lock
        self._metadata, self._metadata_at = None, 0.0
        self._keys, self._keys_at = None, 0.0

    def _get_json(self, url: str) -> dict:
        try:
            response = requests.get(url, timeout=HTTP_TIMEOUT)
            response.raise_for_status()
            return response.json()
        except (requests.RequestException, ValueError) as exc:
            raise ProviderUnavailable(f"{url}: {exc}") from None

    def metadata(self, refresh: bool = False) -> dict:
        with self._lock:
            if refresh or self._metadata is None or time.time() - self._metadata_at > self.METADATA_SECONDS:
                metadata = self._get_json(self.issuer + "/.well-known/openid-configuration")
                if metadata.get("issuer") != self.issuer:   # OIDC Discovery §4.3
                    raise ProviderUnavailable(f"discovery issuer {metadata.get('issuer')!r} != {self.issuer!r}")
                self._metadata, self._metadata_at = metadata, time.time()
            return self._metadata

    def keys(self, refresh: bool = False) -> KeySet:
        with self._lock:
            age = time.time() - self._keys_at
            if self._keys is None or age > self.JWKS_SECONDS or (refresh and age > self.REFETCH_MIN_SECONDS):
                jwks_uri = self.metadata().get("jwks_uri")
                try:
                    keys = KeySet.import_key_set(self._get_json(jwks_uri))
                except (KeyError, TypeError, ValueError, JoseError) as exc:
                    raise ProviderUnavailable(f"JWKS {jwks_uri}: {exc}") from None
                self._keys, self._keys_at = keys, time.time()
            return self._keys

    def algorithms(self) -> list[str]:
        offered = self.metadata().get("id_token_signing_alg_values_supported") or ["ES256", "RS256"]
        return [alg for alg in offered if alg in ASYMMETRIC_ALGS]


class ReplayCache:
    """``jti`` values already accepted, kept until they could no longer be accepted anyway."""

    def __init__(self):
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str], float] = {}

    def add(self, iss: str, jti: str, until: float) -> bool:
        now = time.time()
        with self._lock:
            for key in [k for k, t in self._seen.items() if t < now]:
                del self._seen[key]
            if (iss, jti) in self._seen:
                return False
            self._seen[(iss, jti)] = until
            return True


def validate_logout_token(token: str, settings: Settings, provider: Provider, replays: ReplayCache) -> dict:
    """Back-Channel Logout 1.0 §2.6; returns the claims or raises :class:`LogoutTokenError`."""
    if not isinstance(token, str) or not token or len(token) > 16384:
        raise LogoutTokenError("logout_token is missing")
    algorithms = provider.algorithms()
    try:
        try:
            decoded = jwt.decode(token, provider.keys(), algorithms=algorithms)
        except InvalidKeyIdError:
            decoded = jwt.decode(token, provider.keys(refresh=True), algorithms=algorithms)
    except (JoseError, ValueError, TypeError) as exc:
        raise LogoutTokenError(f"signature or format: {type(exc).__name__}") from None
    typ = str(decoded.header.get("typ", "logout+jwt")).lower().removeprefix("application/")
    if typ not in ("logout+jwt", "jwt"):
        raise LogoutTokenError("typ is not logout+jwt")
    claims = decoded.claims
    now = time.time()
    if claims.get("iss") != settings.issuer:
        raise LogoutTokenError("iss")
    aud = claims.get("aud")
    if not (aud == settings.client_id or (isinstance(aud, list) and settings.client_id in aud)):
        raise LogoutTokenError("aud")
    iat, exp = claims.get("iat"), claims.get("exp")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (iat, exp)):
        raise LogoutTokenError("iat and exp must be numbers")
    if iat > now + settings.clock_leeway or now - iat > settings.logout_token_max_age:
        raise LogoutTokenError("iat is in the future or too old")
    if exp < now - settings.clock_leeway:
        raise LogoutTokenError("expired")
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_EVENT), dict):
        raise LogoutTokenError("events has no back-channel logout member")
    if "nonce" in claims:
        raise LogoutTokenError("a logout token has no nonce")
    sid, sub = claims.get("sid"), claims.get("sub")
    if not (isinstance(sid, str) and sid) and not (isinstance(sub, str) and sub):
        raise LogoutTokenError("neither sid nor sub")
    if "sid" in claims and not isinstance(sid, str) or "sub" in claims and not isinstance(sub, str):
        raise LogoutTokenError("sid and sub must be strings")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        raise LogoutTokenError("jti is missing")
    if not replays.add(claims["iss"], jti, until=max(exp, iat + settings.logout_token_max_age) + 60):
        raise LogoutTokenError("jti was already used")
    return claims


# --------------------------------------------------------------------------- pages

TEMPLATES = {
    "base.html": """<!doctype html>
<html lang="vi">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{% block title %}{{ s.title }}{% endblock %}</title>
<link rel="stylesheet" href="/static/rp.css">
<link rel="stylesheet" href="/theme.css">
</head>
<body>
<header class="bar"><div class="wrap">
<p class="brand"><a href="/">{{ s.title }}</a></p>
<p class="en">{{ s.title_en }}</p>
</div></header>
<main class="wrap">
{% block content %}{% endblock %}
</main>
<footer class="wrap"><p>Ứng dụng mẫu dùng đăng nhập một lần MotID.
<span class="en">A demo relying party of MotID single sign-on.</span></p></footer>
</body>
</html>
""",
    "home.html": """{% extends "base.html" %}
{% block content %}
{% if auth %}
<section class="card">
<h1>Xin chào, {{ auth.userinfo.name or auth.claims.name or auth.sub }}</h1>
<p class="en">Hello — you are logged in with MotID.</p>
<dl class="facts">
<dt>Định danh (sub)</dt><dd><code id="sub">{{ auth.sub }}</code></dd>
<dt>Phiên MotID (sid)</dt><dd><code id="sid">{{ auth.sid or "—" }}</code></dd>
<dt>Mức xác thực (acr)</dt><dd><code id="acr">{{ auth.claims.acr or "—" }}</code></dd>
<dt>Đăng nhập lúc <span class="en">/ logged in at</span></dt><dd>{{ logged_in_at }}</dd>
</dl>
<form method="post" action="/logout">
<input type="hidden" name="csrf_token" value="{{ csrf_token }}">
<button type="submit" class="button">Đăng xuất <span class="en">/ Log out</span></button>
</form>
</section>
<section class="card">
<h2>Thao tác nhạy cảm <span class="en">/ Sensitive action</span></h2>
<p>Ví dụ: nộp hồ sơ có chữ ký, xem thông tin thuế. Cần mức xác thực <code>{{ strong_acr }}</code> (mật khẩu và
mã trên ứng dụng xác thực); MotID chỉ hỏi thêm yếu tố thứ hai nếu phiên hiện tại chưa đạt mức này.
<span class="en">Needs <code>{{ strong_acr }}</code> (password and an authenticator code); MotID asks only for the
missing second factor.</span></p>
{% if sensitive %}
<p class="done" id="sensitive-result" role="status">Đã thực hiện lúc {{ sensitive.when }} với mức xác thực
<code>{{ sensitive.acr }}</code> (amr <code>{{ sensitive.amr|join(" ") }}</code>){% if sensitive.same_sid %},
vẫn trong phiên MotID cũ{% endif %}.
<span class="en">Done with acr <code>{{ sensitive.acr }}</code>{% if sensitive.same_sid %}, same MotID session{% endif %}.</span></p>
{% endif %}
<form method="post" action="/sensitive">
<input type="hidden" name="csrf_token" value="{{ csrf_token }}">
<button type="submit" class="button" id="sensitive-action">Thao tác nhạy cảm <span class="en">/ Sensitive action</span></button>
</form>
</section>
<section class="card">
<h2>Thông tin trong ID token <span class="en">/ ID token claims</span></h2>
<table>{% for key, value in auth.claims|dictsort %}<tr><th>{{ key }}</th><td><code>{{ value|tojson }}</code></td></tr>{% endfor %}</table>
</section>
<section class="card">
<h2>Thông tin từ UserInfo <span class="en">/ UserInfo response</span></h2>
<table>{% for key, value in auth.userinfo|dictsort %}<tr><th>{{ key }}</th><td><code>{{ value|tojson }}</code></td></tr>{% endfor %}</table>
</section>
{% else %}
<section class="card">
<h1>Bạn chưa đăng nhập</h1>
<p class="en">You are not logged in.</p>
<p>Dùng một tài khoản MotID cho mọi dịch vụ công của tỉnh.
<span class="en">One MotID account for every public service of the province.</span></p>
<form method="post" action="/login">
<input type="hidden" name="csrf_token" value="{{ csrf_token }}">
<button type="submit" class="button">Đăng nhập bằng MotID <span class="en">/ Log in with MotID</span></button>
</form>
</section>
{% endif %}
{% if s.other_url %}
<p class="other">Ứng dụng khác <span class="en">/ other application</span>:
<a href="{{ s.other_url }}">{{ s.other_title or s.other_url }}</a></p>
{% endif %}
{% endblock %}
""",
    "message.html": """{% extends "base.html" %}
{% block title %}{{ heading }} — {{ s.title }}{% endblock %}
{% block content %}
<section class="card">
<h1>{{ heading }}</h1>
<p class="en">{{ heading_en }}</p>
{% if detail %}<p class="detail"><code>{{ detail }}</code></p>{% endif %}
<p><a class="button" href="/">Về trang chủ <span class="en">/ Home</span></a></p>
</section>
{% if s.other_url %}
<p class="other">Ứng dụng khác <span class="en">/ other application</span>:
<a href="{{ s.other_url }}">{{ s.other_title or s.other_url }}</a></p>
{% endif %}
{% endblock %}
""",
    "frontchannel.html": """<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><title>Đăng xuất / Logout</title></head>
<body><p>{{ s.title }}: {{ "đã đăng xuất" if ended else "không có phiên" }}
({{ "logged out" if ended else "no session" }}).</p></body></html>
""",
}


def create_app(settings: Settings) -> Flask:
    app = Flask(__name__, static_folder=os.path.join(HERE, "static"), static_url_path="/static")
    app.json.ensure_ascii = False  # Vietnamese names as they are, not \u escapes
    app.jinja_loader = DictLoader(TEMPLATES)
    app.secret_key = secrets.token_bytes(32)   # nothing is signed with it: the session lives server-side
    https = settings.url.startswith("https://")
    store = SessionStore(settings.session_idle_seconds, settings.session_max_seconds)
    app.session_interface = ServerSessionInterface(store, settings.cookie_name, secure=https)
    provider = Provider(settings.issuer)
    replays = ReplayCache()
    issuer_origin = "{0.scheme}://{0.netloc}".format(urlsplit(settings.issuer))

    oauth = OAuth(app)
    motid = oauth.register(
        "motid",
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        server_metadata_url=settings.issuer + "/.well-known/openid-configuration",
        client_kwargs={"scope": SCOPE, "code_challenge_method": "S256", "timeout": HTTP_TIMEOUT},
    )
    app.extensions["rp"] = {"settings": settings, "store": store, "provider": provider, "replays": replays}

    def render(name, status=200, **context):
        return make_response(render_template(name, s=settings, **context), status)

    def message(heading, heading_en, detail=None, status=200):
        return render("message.html", status, heading=heading, heading_en=heading_en, detail=detail)

    def csrf_token() -> str:
        if "csrf" not in session:
            session["csrf"] = secrets.token_urlsafe(24)
        return session["csrf"]

    def check_csrf() -> None:
        expected, given = session.get("csrf"), request.form.get("csrf_token", "")
        if not expected or not hmac.compare_digest(expected, given):
            abort(400, "CSRF token missing or wrong")

    def end_session_endpoint() -> str | None:
        """From Authlib's cached metadata; look again if the provider did not offer logout then."""
        metadata = motid.load_server_metadata()
        if not metadata.get("end_session_endpoint"):
            motid.server_metadata.pop("_loaded_at", None)
            metadata = motid.load_server_metadata()
        return metadata.get("end_session_endpoint")

    @app.get("/")
    def home():
        auth = session.get("auth")
        logged_in_at = time.strftime("%d/%m/%Y %H:%M:%S", time.localtime(auth["at"])) if auth else None
        sensitive = session.get("sensitive") if auth else None
        if sensitive:
            sensitive = {**sensitive, "when": time.strftime("%H:%M:%S", time.localtime(sensitive["at"]))}
        return render("home.html", auth=auth, csrf_token=csrf_token(), logged_in_at=logged_in_at,
                      sensitive=sensitive, strong_acr=STRONG_ACR)

    @app.post("/login")
    def login():
        check_csrf()
        session.pop("purpose", None)
        return motid.authorize_redirect(settings.url + "/callback", ui_locales="vi")

    @app.post("/sensitive")
    def sensitive_action():
        """Step-up: the same authorization request, asking MotID for the second-factor level."""
        if not session.get("auth"):
            return redirect("/", 303)
        check_csrf()
        session["purpose"] = "sensitive"
        return motid.authorize_redirect(settings.url + "/callback", ui_locales="vi", acr_values=STRONG_ACR)

    @app.get("/callback")
    def callback():
        sensitive = session.pop("purpose", None) == "sensitive"
        if request.args.get("error"):
            detail = f"{request.args.get('error')}: {request.args.get('error_description', '')}"
            if sensitive and request.args.get("error") == "unmet_authentication_requirements":
                # The person has no second factor yet; the session at MotID and here is unchanged.
                return message("Thao tác này cần xác thực hai yếu tố",
                               "This action needs a second factor: set up an authenticator app in MotID "
                               "(Bảo mật / Security) first", detail, 403)
            return message("Đăng nhập không thành công", "Login failed", detail, 400)
        # RFC 9207: MotID sends iss with every response; a different one means a mix-up attack.
        if request.args.get("iss") != settings.issuer:
            return message("Đăng nhập không thành công", "Login failed", "iss does not match the issuer", 400)
        try:
            token = motid.authorize_access_token()      # state, PKCE, ID token (signature, iss, aud, nonce…)
            claims = dict(token["userinfo"])
            userinfo = dict(motid.userinfo(token=token))
        except (OAuthError, JoseError, requests.RequestException, KeyError, ValueError) as exc:
            log.warning("login failed: %r", exc)
            return message("Đăng nhập không thành công", "Login failed", type(exc).__name__, 400)
        if userinfo.get("sub") != claims["sub"]:
            return message("Đăng nhập không thành công", "Login failed", "UserInfo sub differs", 400)
        previous = session.get("auth") or {}
        if sensitive and claims.get("acr") not in STRONG_ENOUGH:
            # acr_values is a request, not a guarantee: the client itself checks what it got.
            return message("Không đạt mức xác thực yêu cầu", "The required assurance level was not reached",
                           f"acr: {claims.get('acr')!r}", 403)
        session.clear()
        session.regenerate()
        session["auth"] = {"iss": claims["iss"], "sub": claims["sub"], "sid": claims.get("sid"),
                           "id_token": token["id_token"], "claims": claims, "userinfo": userinfo,
                           "at": time.time()}
        if sensitive:
            same_sid = bool(previous.get("sid")) and previous.get("sid") == claims.get("sid")
            session["sensitive"] = {"acr": claims["acr"], "amr": claims.get("amr") or [], "at": time.time(),
                                    "same_sid": same_sid}
        log.info("login sub=%s sid=%s acr=%s%s", claims["sub"], claims.get("sid"), claims.get("acr"),
                 " (sensitive action)" if sensitive else "")
        return redirect("/", 303)

    @app.post("/logout")
    def logout():
        auth = session.get("auth")
        if not auth:    # already ended (e.g. by a back-channel logout): nothing to protect, go home
            return redirect("/", 303)
        check_csrf()
        session.clear()
        session.regenerate()
        endpoint = end_session_endpoint()
        if not endpoint:
            return message("Bạn đã đăng xuất khỏi ứng dụng này",
                           "You are logged out of this application (the provider offers no single logout)")
        # Authlib builds the URL and keeps the state in this (new, empty) session for /logged-out.
        return motid.logout_redirect(post_logout_redirect_uri=settings.url + "/logged-out",
                                     id_token_hint=auth["id_token"], client_id=settings.client_id,
                                     ui_locales="vi")

    @app.get("/logged-out")
    def logged_out():
        try:
            motid.validate_logout_response()
        except OAuthError:
            # Nothing depends on it here; an unknown state only means we did not start this logout.
            return message("Bạn đã đăng xuất", "You are logged out", "state không khớp / unknown state")
        return message("Bạn đã đăng xuất khỏi MotID và ứng dụng này",
                       "You are logged out of MotID and of this application")

    @app.post("/backchannel-logout")
    def backchannel_logout():
        try:
            claims = validate_logout_token(request.form.get("logout_token"), settings, provider, replays)
        except LogoutTokenError as exc:
            log.warning("back-channel logout refused: %s", exc)
            response = jsonify(error="invalid_request", error_description=str(exc))
            response.status_code = 400
            return response
        except ProviderUnavailable as exc:   # not the token's fault: 503 so the provider retries
            log.warning("back-channel logout: provider keys unavailable: %s", exc)
            response = jsonify(error="temporarily_unavailable")
            response.status_code = 503
            return response
        ended = store.end_by_provider(claims["iss"], sid=claims.get("sid"), sub=claims.get("sub"))
        log.info("back-channel logout sid=%s sub=%s: %d session(s) ended", claims.get("sid"), claims.get("sub"),
                 ended)
        return make_response("", 200)

    @app.get("/frontchannel-logout")
    def frontchannel_logout():
        iss, sid = request.args.get("iss"), request.args.get("sid")
        ended = 0
        if iss is not None or sid is not None:
            if iss != settings.issuer or not sid:
                response = render("frontchannel.html", 400, ended=False)
            else:
                ended = store.end_by_provider(iss, sid=sid)
                response = render("frontchannel.html", ended=ended > 0)
        else:   # the provider sent no sid: end the session of the browser that loads the frame
            ended = 1 if session.get("auth") else 0
            session.clear()
            response = render("frontchannel.html", ended=ended > 0)
        log.info("front-channel logout sid=%s: %d session(s) ended", sid, ended)
        # Framed by the provider's logged-out page: allow exactly that origin, and no X-Frame-Options.
        response.headers["Content-Security-Policy"] = (
            f"default-src 'none'; frame-ancestors {issuer_origin}; base-uri 'none'; form-action 'none'")
        response.headers["Cache-Control"] = "no-cache, no-store"
        response.headers["Pragma"] = "no-cache"
        return response

    @app.get("/theme.css")
    def theme():
        response = make_response(f":root {{ --accent: {settings.colour}; }}\n")
        response.mimetype = "text/css"
        response.headers["Cache-Control"] = "public, max-age=300"
        return response

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    @app.errorhandler(400)
    def bad_request(error):
        return message("Yêu cầu không hợp lệ", "Bad request", getattr(error, "description", None), 400)

    @app.errorhandler(404)
    def not_found(error):
        return message("Không tìm thấy trang", "Page not found", None, 404)

    @app.errorhandler(405)
    def not_allowed(error):
        return message("Phương thức không được phép", "Method not allowed", None, 405)

    @app.after_request
    def security_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy",
                           "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
                           f"form-action 'self' {issuer_origin}; frame-ancestors 'none'")
        if request.path != "/frontchannel-logout":
            headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "no-referrer")    # no code or state in a Referer
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
        if https:
            headers.setdefault("Strict-Transport-Security", "max-age=63072000")
        if response.mimetype != "text/css":     # personal data, tokens, one-time answers
            if "no-store" not in headers.get("Cache-Control", ""):
                headers["Cache-Control"] = "no-store"
            headers.setdefault("Pragma", "no-cache")
        return response

    return app


def serve(app: Flask, settings: Settings) -> None:
    """gunicorn, ONE worker (the sessions live in its memory) with a few threads."""
    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{settings.host}:{settings.port}")
            self.cfg.set("workers", 1)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", 8)
            self.cfg.set("accesslog", "-")
            self.cfg.set("graceful_timeout", 5)
            self.cfg.set("proc_name", f"rp-{settings.name or settings.port}")

        def load(self):
            return app

    Server().run()


def main(argv=None) -> None:
    logging.basicConfig(level=logging.INFO, format=f"[%(asctime)s] [rp:%(process)d] %(levelname)s %(message)s")
    settings = settings_from_args(argv)
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
