"""The body of a registration request (RFC 7591 §2, RFC 7592 §2.2), checked before
:func:`idp.oidc.clients.validate_metadata` sees it.

What a client sends is untrusted: the body is size-, depth- and type-checked, and only the metadata
listed in :data:`ACCEPTED` is kept; anything else is ignored as RFC 7591 §2 requires (so
administrator-only settings such as ``introspection_allowed`` cannot be self-granted). Restricted scopes
stay an administrator's decision: a client may keep the ones it was given, never add them.
"""
from __future__ import annotations

import ipaddress
import json
import math
from urllib.parse import urlsplit

from flask import current_app, request
from werkzeug.exceptions import HTTPException

from ..config import is_loopback_host
from ..net import loopback_allowed
from .clients import RESTRICTED_SCOPES, InvalidClientMetadata

MAX_BODY = 64 * 1024
MAX_DEPTH = 8

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
    "tls_client_auth_subject_dn": ("str", 1000),  # RFC 8705 §2.1.2: one of these five
    "tls_client_auth_san_dns": ("str", 1000),
    "tls_client_auth_san_uri": ("str", 1000),
    "tls_client_auth_san_ip": ("str", 1000),
    "tls_client_auth_san_email": ("str", 1000),
    "sector_identifier_uri": ("uri", 2000),  # OIDC Registration §2, §5
    "dpop_bound_access_tokens": ("bool", None),  # RFC 9449 §5.2
    "require_pushed_authorization_requests": ("bool", None),  # RFC 9126 §6
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
SERVER_TARGETS = ("jwks_uri", "backchannel_logout_uri", "request_uris", "sector_identifier_uri")


# -- the request body --------------------------------------------------------------------------

def _reject_constant(name):
    raise ValueError(f"{name} is not JSON")


def read_object() -> dict:
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


def clean(body: dict) -> dict:
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


def check_scope(meta: dict, already: set[str]) -> None:
    scope = meta.get("scope")
    if not isinstance(scope, str):
        return  # absent: validate_metadata gives the standard scopes
    extra = (set(scope.split()) & set(RESTRICTED_SCOPES)) - already
    if extra:
        raise InvalidClientMetadata(f"scope {' '.join(sorted(extra))} needs an administrator's approval")
