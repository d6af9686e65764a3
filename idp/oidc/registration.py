"""Dynamic Client Registration (RFC 7591), Client Configuration (RFC 7592), OIDC Registration 1.0.

``POST /connect/register`` needs an initial access token (``idp clients registration-token``); it
is reusable until it expires. The response carries a registration access token, stored only as a
digest, that reads (GET), replaces (PUT) or deletes (DELETE) that one client at
``/connect/register/<client_id>``. (``/register`` is the citizens' sign-up page.)

What a client sends is untrusted: :mod:`idp.oidc.registration_body` checks it before
:func:`clients.validate_metadata` sees it.
"""
from __future__ import annotations

import json
import re

from flask import Blueprint, Response, current_app, request, url_for

from .. import events
from ..clock import now
from ..db import db
from ..security import constant_time_equals, digest, new_token
from .clients import ADMIN_SETTINGS, RESTRICTED_SCOPES, InvalidClientMetadata, validate_metadata
from .models import Client, InitialAccessToken
from .registration_body import check_scope, clean, read_object

bp = Blueprint("registration", __name__)

DYNAMIC_DEFAULT_ALG = "RS256"  # OIDC Registration §2: id_token_signed_response_alg defaults to RS256
MAX_TOKEN = 512
TOKEN_RE = re.compile(r"[A-Za-z0-9\-._~+/]+=*\Z")  # RFC 6750 §2.1 b64token
SECRET_METHODS = ("client_secret_basic", "client_secret_post", "client_secret_jwt")

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


# -- endpoints ---------------------------------------------------------------------------------

@bp.route("/connect/register", methods=["POST"])
def register():
    if not _initial_token_valid(_bearer()):
        return _unauthorized("The initial access token is missing, invalid or expired.")
    try:
        meta = clean(read_object())
        check_scope(meta, set())
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
    body = read_object()
    if body.get("client_id") != client.client_id:
        raise InvalidClientMetadata("client_id must be present and equal to this client's identifier")
    sent_secret = body.get("client_secret")
    if sent_secret is not None:
        current = clients().secret_of(client)
        if not isinstance(sent_secret, str) or current is None or not constant_time_equals(current, sent_secret):
            raise InvalidClientMetadata("client_secret does not match the current secret")
    meta = clean(body)
    check_scope(meta, set(client.meta.get("scope", "").split()) & set(RESTRICTED_SCOPES))
    meta.update({key: client.meta[key] for key in ADMIN_SETTINGS if key in client.meta})
    meta.setdefault("id_token_signed_response_alg", DYNAMIC_DEFAULT_ALG)
    meta.setdefault("subject_type", client.meta.get("subject_type", "public"))  # its people's sub stays
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
