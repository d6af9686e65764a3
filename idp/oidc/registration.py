"""Dynamic Client Registration (RFC 7591), Client Configuration (RFC 7592), OIDC Registration 1.0.

``POST /connect/register`` needs an initial access token (``idp clients registration-token``); it
is reusable until it expires. The response carries a registration access token, stored only as a
digest, that reads (GET), replaces (PUT) or deletes (DELETE) that one client at
``/connect/register/<client_id>``. (``/register`` is the citizens' sign-up page.)

What a client sends is untrusted: the body is size-, depth- and type-checked here before
:func:`clients.validate_metadata` sees it, and only the metadata listed in :data:`ACCEPTED` is
kept; anything else is ignored as RFC 7591 §2 requires (so administrator-only settings such as
``introspection_allowed`` cannot be self-granted). Restricted scopes stay an administrator's
decision: a client may keep the ones it was given, never add them.
"""
from __future__ import annotations

import ipaddress
import json
import math
import re
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, request, url_for
from werkzeug.exceptions import HTTPException

from .. import events
from ..clock import now
from ..config import is_loopback_host
from ..db import db
from ..net import loopback_allowed
from ..security import constant_time_equals, digest, new_token
from .clients import ADMIN_SETTINGS, RESTRICTED_SCOPES, InvalidClientMetadata, validate_metadata
from .models import Client, InitialAccessToken

bp = Blueprint("registration", __name__)

DYNAMIC_DEFAULT_ALG = "RS256"  # OIDC Registration §2: id_token_signed_response_alg defaults to RS256
MAX_BODY = 64 * 1024
MAX_DEPTH = 8
MAX_TOKEN = 512
TOKEN_RE = re.compile(r"[A-Za-z0-9\-._~+/]+=*\Z")  # RFC 6750 §2.1 b64token
SECRET_METHODS = ("client_secret_basic", "client_secret_post", "client_secret_jwt")

# Metadata a client may register: field -> (kind, limit). Kinds: str (limit: length), uri (length),
# uris (number of entries; each a URI of at most 2000 characters), strs (entries, each <= 254),
# int (maximum value), bool, jwks (number of keys).
ACCEPTED = {
    "redirect_uris": ("uris", 20),
    "post_logout_redirect_uris": ("uris", 20),
    "request_uris": ("uris", 20),
    "response_types": ("strs", 5),
    "grant_types": ("strs", 5),
    "application_type": ("str", 20),
    "token_endpoint_auth_method": ("str", 40),
    "client_name": ("str", 200),
    "client_uri": ("uri", 2000),
    "logo_uri": ("uri", 2000),
    "policy_uri": ("uri", 2000),
    "tos_uri": ("uri", 2000),
    "initiate_login_uri": ("uri", 2000),
    "jwks_uri": ("uri", 2000),
    "backchannel_logout_uri": ("uri", 2000),  # Back-Channel Logout 1.0 §2.2
    "backchannel_logout_session_required": ("bool", None),
    "frontchannel_logout_uri": ("uri", 2000),  # Front-Channel Logout 1.0 §2
    "frontchannel_logout_session_required": ("bool", None),
    "jwks": ("jwks", 10),
    "contacts": ("strs", 10),
    "scope": ("str", 1000),
    "software_id": ("str", 200),
    "software_version": ("str", 200),
    "subject_type": ("str", 20),
    "id_token_signed_response_alg": ("str", 20),
    "userinfo_signed_response_alg": ("str", 20),
    "request_object_signing_alg": ("str", 20),
    "default_max_age": ("int", 10 ** 9),
    "require_auth_time": ("bool", None),
    "tls_client_certificate_bound_access_tokens": ("bool", None),  # RFC 8705 §3.4
}
# Known to OIDC Registration but not implemented: refusing is safer than silently not encrypting.
UNSUPPORTED = (
    "id_token_encrypted_response_alg", "id_token_encrypted_response_enc",
    "userinfo_encrypted_response_alg", "userinfo_encrypted_response_enc",
    "request_object_encryption_alg", "request_object_encryption_enc",
    "authorization_encrypted_response_alg", "authorization_encrypted_response_enc",
)
# Schemes that must never be a redirect target, whatever the application type.
FORBIDDEN_SCHEMES = {"javascript", "data", "vbscript", "file", "about", "blob", "filesystem", "ftp", "ws", "wss"}
# URLs MotID itself calls (through idp.net): on a public host, or on loopback while the issuer is.
SERVER_TARGETS = ("jwks_uri", "backchannel_logout_uri", "request_uris")


def init_app(app) -> None:
    """Register the blueprint; its endpoints are called by programs with bearer tokens, not forms."""
    app.register_blueprint(bp)
    csrf = app.extensions.get("csrf")
    if csrf is None:
        from ..extensions import csrf
    csrf.exempt(bp)


def clients():
    return current_app.extensions["idp.clients"]


# -- responses --------------------------------------------------------------------------------

def _json(body, status: int, headers: dict | None = None) -> Response:
    response = Response(json.dumps(body, ensure_ascii=False) if body is not None else None, status=status,
                        mimetype="application/json" if body is not None else None, headers=headers)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def _metadata_error(exc: InvalidClientMetadata) -> Response:
    """RFC 7591 §3.2.2."""
    db.session.rollback()
    error = exc.error if exc.error in ("invalid_redirect_uri", "invalid_client_metadata") \
        else "invalid_client_metadata"
    return _json({"error": error, "error_description": exc.description}, 400)


def _unauthorized(description: str) -> Response:
    """RFC 6750 §3.1; the same answer whether the client exists or not."""
    header = f'Bearer error="invalid_token", error_description="{description}"'
    return _json({"error": "invalid_token", "error_description": description}, 401,
                 {"WWW-Authenticate": header})


def _client_information(client: Client, access_token: str, secret: str | None, status: int) -> Response:
    """RFC 7591 §3.2.1 / RFC 7592 §3: every registered field plus the server-issued ones."""
    body = dict(client.meta)
    body["client_id"] = client.client_id
    body["client_id_issued_at"] = int(client.created_at.timestamp())
    if client.meta.get("token_endpoint_auth_method") in SECRET_METHODS:
        if secret is None and client.secret:
            secret = clients().secret_of(client)
        if secret:
            body["client_secret"] = secret
            body["client_secret_expires_at"] = 0  # does not expire
    body["registration_access_token"] = access_token
    body["registration_client_uri"] = current_app.config["IDP_ISSUER"] + url_for(
        "registration.configure", client_id=client.client_id)
    return _json(body, status)


# -- the bearer token --------------------------------------------------------------------------

def _bearer() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN or not TOKEN_RE.match(token):
        return None
    return token


def _initial_token_valid(token: str | None) -> bool:
    if token is None:
        return False
    row = db.session.get(InitialAccessToken, digest(token))
    return row is not None and row.expires_at > now()


# -- the request body --------------------------------------------------------------------------

def _reject_constant(name):
    raise ValueError(f"{name} is not JSON")


def _read_object() -> dict:
    """The body as a JSON object, or :class:`InvalidClientMetadata` for anything else."""
    if request.mimetype != "application/json":
        raise InvalidClientMetadata("the request body must be application/json")
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise InvalidClientMetadata("the request body is too large")
    try:
        raw = request.stream.read(MAX_BODY + 1)
    except HTTPException:  # over the application's limit, or the client went away
        raise InvalidClientMetadata("the request body could not be read") from None
    if len(raw) > MAX_BODY:
        raise InvalidClientMetadata("the request body is too large")
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise InvalidClientMetadata("the request body is not valid JSON") from None
    if not isinstance(value, dict):
        raise InvalidClientMetadata("the request body must be a JSON object")
    _check_tree(value)
    return value


def _check_tree(value) -> None:
    """Bounded nesting, finite numbers, and strings that are real Unicode without NUL."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InvalidClientMetadata("the request body is nested too deeply")
        if isinstance(item, dict):
            for key, child in item.items():
                _check_string(key)
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            _check_string(item)
        elif isinstance(item, float) and not math.isfinite(item):
            raise InvalidClientMetadata("numbers must be finite")


def _check_string(text: str) -> None:
    if "\x00" in text:
        raise InvalidClientMetadata("strings must not contain NUL")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate written as a \\u escape
        raise InvalidClientMetadata("strings must be valid Unicode") from None


def _clean(body: dict) -> dict:
    """The accepted metadata, type-checked; null means absent (RFC 7592 §2.2)."""
    for field in UNSUPPORTED:
        if body.get(field) is not None:
            raise InvalidClientMetadata(f"{field} is not supported: MotID does not encrypt responses")
    meta = {}
    for field, value in body.items():
        if value is None or field not in ACCEPTED:
            continue
        kind, limit = ACCEPTED[field]
        uri_error = "invalid_redirect_uri" if field == "redirect_uris" else "invalid_client_metadata"
        if kind == "str":
            if not isinstance(value, str) or len(value) > limit:
                raise InvalidClientMetadata(f"{field} must be a string of at most {limit} characters")
        elif kind == "uri":
            if not isinstance(value, str) or not value or len(value) > limit or not _parses(value):
                raise InvalidClientMetadata(f"{field} must be an https URL")
        elif kind in ("strs", "uris"):
            item_limit = 2000 if kind == "uris" else 254
            if not isinstance(value, list) or len(value) > limit or \
                    not all(isinstance(v, str) and 0 < len(v) <= item_limit for v in value):
                raise InvalidClientMetadata(f"{field} must be an array of at most {limit} non-empty strings",
                                            uri_error)
            if kind == "uris" and not all(_parses(v) for v in value):
                raise InvalidClientMetadata(f"{field} must contain absolute URIs", uri_error)
        elif kind == "int":
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= limit:
                raise InvalidClientMetadata(f"{field} must be a whole number of seconds")
        elif kind == "bool":
            if not isinstance(value, bool):
                raise InvalidClientMetadata(f"{field} must be true or false")
        elif kind == "jwks":
            keys = value.get("keys") if isinstance(value, dict) else None
            if not isinstance(keys, list) or not 0 < len(keys) <= limit or \
                    not all(isinstance(k, dict) for k in keys):
                raise InvalidClientMetadata(f"jwks must be a JWK Set of 1 to {limit} keys")
        meta[field] = value
    if meta.get("subject_type", "public") != "public":
        raise InvalidClientMetadata("subject_type must be public")
    _check_dynamic_uris(meta)
    return meta


def _parses(uri: str) -> bool:
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return False
    return bool(parts.scheme)


def _check_dynamic_uris(meta: dict) -> None:
    """Stricter than for administrators: no script or local redirect targets, an https
    ``initiate_login_uri`` (OIDC Registration §2), and :data:`SERVER_TARGETS` on public hosts."""
    native = meta.get("application_type") == "native"
    for field in ("redirect_uris", "post_logout_redirect_uris"):
        error = "invalid_redirect_uri" if field == "redirect_uris" else "invalid_client_metadata"
        for uri in meta.get(field, []):
            scheme = urlsplit(uri).scheme.lower()
            if scheme in FORBIDDEN_SCHEMES:
                raise InvalidClientMetadata(f"{field}: the scheme {scheme!r} is not allowed", error)
            if native and scheme not in ("http", "https") and "." not in scheme:
                # RFC 8252 §7.1: a private-use scheme is a reversed domain name the app controls.
                raise InvalidClientMetadata(f"{field}: a custom scheme must be a reversed domain name "
                                            "such as vn.gov.example.app", error)
    login_uri = meta.get("initiate_login_uri")
    if login_uri is not None and (urlsplit(login_uri).scheme != "https" or not urlsplit(login_uri).hostname):
        raise InvalidClientMetadata("initiate_login_uri must be an https URL (OIDC Registration §2)")
    for field in SERVER_TARGETS:
        uris = meta.get(field)
        for uri in (uris if isinstance(uris, list) else [] if uris is None else [uris]):
            if not _server_target_allowed(uri):
                raise InvalidClientMetadata(f"{field} must be an https URL on a public host"
                                            + (" or a loopback URL" if loopback_allowed(current_app.config)
                                               else ""))


def _server_target_allowed(uri: str) -> bool:
    """Loopback only in development (the issuer itself is loopback), as :mod:`idp.net` will connect."""
    parts = urlsplit(uri)
    if not parts.hostname:
        return False
    if is_loopback_host(parts.hostname) and loopback_allowed(current_app.config):
        return parts.scheme in ("http", "https")
    return parts.scheme == "https" and not _is_local(parts.hostname)


def _is_local(host: str) -> bool:
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return not address.is_global


def _check_scope(meta: dict, already: set[str]) -> None:
    scope = meta.get("scope")
    if not isinstance(scope, str):
        return  # absent: validate_metadata gives the standard scopes
    extra = (set(scope.split()) & set(RESTRICTED_SCOPES)) - already
    if extra:
        raise InvalidClientMetadata(f"scope {' '.join(sorted(extra))} needs an administrator's approval")


# -- endpoints ---------------------------------------------------------------------------------

@bp.route("/connect/register", methods=["POST"])
def register():
    if not _initial_token_valid(_bearer()):
        return _unauthorized("The initial access token is missing, invalid or expired.")
    try:
        meta = _clean(_read_object())
        _check_scope(meta, set())
        client, secret = clients().create(meta, dynamic=True, default_alg=DYNAMIC_DEFAULT_ALG)
    except InvalidClientMetadata as exc:
        return _metadata_error(exc)
    token = new_token()
    client.registration_token = digest(token)
    events.record("oidc:client:register", details={"client_id": client.client_id}, now=now())
    db.session.commit()
    return _client_information(client, token, secret, 201)


@bp.route("/connect/register/<client_id>", methods=["GET", "PUT", "DELETE"])
def configure(client_id):
    token = _bearer()
    client = clients().by_registration_token(token) if token else None
    if client is None or client.client_id != client_id:
        return _unauthorized("The registration access token is missing or invalid.")
    if request.method == "GET":
        return _client_information(client, token, None, 200)
    if request.method == "DELETE":
        events.record("oidc:client:delete", details={"client_id": client.client_id}, now=now())
        clients().delete(client)
        response = _json(None, 204)
        del response.headers["Content-Type"]
        return response
    try:
        return _update(client, token)
    except InvalidClientMetadata as exc:
        return _metadata_error(exc)


def _update(client: Client, token: str) -> Response:
    """RFC 7592 §2.2: the body replaces the registration; omitted fields return to their defaults."""
    body = _read_object()
    if body.get("client_id") != client.client_id:
        raise InvalidClientMetadata("client_id must be present and equal to this client's identifier")
    sent_secret = body.get("client_secret")
    if sent_secret is not None:
        current = clients().secret_of(client)
        if not isinstance(sent_secret, str) or current is None or not constant_time_equals(current, sent_secret):
            raise InvalidClientMetadata("client_secret does not match the current secret")
    meta = _clean(body)
    _check_scope(meta, set(client.meta.get("scope", "").split()) & set(RESTRICTED_SCOPES))
    meta.update({key: client.meta[key] for key in ADMIN_SETTINGS if key in client.meta})
    meta.setdefault("id_token_signed_response_alg", DYNAMIC_DEFAULT_ALG)
    meta = validate_metadata(meta, default_alg=DYNAMIC_DEFAULT_ALG)
    method = meta["token_endpoint_auth_method"]
    events.record("oidc:client:update", details={"client_id": client.client_id}, now=now())
    issued = None
    if method not in SECRET_METHODS:
        client.secret = None  # no longer used: do not keep it
    elif client.secret is None:
        # Moving to a secret-based method: issue a secret (RFC 7592 §2.2 lets the server do so).
        client.meta = meta
        issued = clients().rotate_secret(client)
    clients().update(client, meta)
    return _client_information(client, token, issued, 200)
