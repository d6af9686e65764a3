"""Request objects (RFC 9101, OIDC Core §6): ``request`` by value and ``request_uri`` by reference.

Signed objects must verify with the client's registered keys (RS256 or ES256); ``alg: none`` is
accepted only from a client registered with ``request_object_signing_alg: none``. Values inside the
object supersede the query parameters.
"""
from __future__ import annotations

import json
from urllib.parse import urlsplit

import requests
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc9101.errors import InvalidRequestObjectError, InvalidRequestUriError
from flask import current_app
from joserfc import jws, jwt
from joserfc.errors import JoseError

from ..config import is_loopback_host
from .client_auth import client_public_keys, remember_jti

MAX_BYTES = 64 * 1024
SIGNED_ALGS = ("RS256", "ES256")


def fetch(request_uri: str, redirect_uri) -> str:
    parts = urlsplit(request_uri)
    if len(request_uri) > 512 or not (parts.scheme == "https" or
                                      (parts.scheme == "http" and is_loopback_host(parts.hostname))):
        raise InvalidRequestUriError("request_uri must be an https URL of at most 512 characters.",
                                     redirect_uri=redirect_uri)
    try:
        with requests.get(request_uri, timeout=5, stream=True, allow_redirects=False) as response:
            response.raise_for_status()
            body = response.raw.read(MAX_BYTES + 1, decode_content=True)
    except requests.RequestException:
        raise InvalidRequestUriError("The request_uri could not be fetched.", redirect_uri=redirect_uri) from None
    if len(body) > MAX_BYTES:
        raise InvalidRequestUriError("The request object is too large.", redirect_uri=redirect_uri)
    return body.decode("utf-8", "replace").strip()


def decode(raw: str, client, redirect_uri) -> dict:
    def fail(description):
        return InvalidRequestObjectError(description, redirect_uri=redirect_uri)

    if not isinstance(raw, str) or len(raw) > MAX_BYTES:
        raise fail("The request object is malformed.")
    try:
        header = jws.extract_compact(raw.encode()).headers() if raw.count(".") == 2 and not raw.endswith(".") \
            else json.loads(_b64(raw.split(".")[0]))
    except (JoseError, ValueError, IndexError):
        raise fail("The request object is malformed.") from None
    registered = client.meta.get("request_object_signing_alg")
    alg = header.get("alg") if isinstance(header, dict) else None
    if alg == "none":
        if registered != "none":
            raise fail("Unsigned request objects are not allowed for this client.")
        claims = _unsigned_claims(raw, fail)
    else:
        if alg not in SIGNED_ALGS or (registered and registered != alg):
            raise fail(f"The request object must be signed with {registered or ' or '.join(SIGNED_ALGS)}.")
        try:
            claims = jwt.decode(raw, client_public_keys(client), algorithms=[alg]).claims
        except (JoseError, ValueError, TypeError):
            raise fail("The request object's signature is not valid.") from None
    _check_claims(claims, client, fail)
    return claims


def _b64(segment: str) -> bytes:
    import base64
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _unsigned_claims(raw: str, fail) -> dict:
    parts = raw.split(".")
    if len(parts) != 3 or parts[2]:
        raise fail("An unsigned request object has an empty signature.")
    try:
        claims = json.loads(_b64(parts[1]))
    except ValueError:
        raise fail("The request object is malformed.") from None
    return claims


def _check_claims(claims, client, fail) -> None:
    import time
    if not isinstance(claims, dict):
        raise fail("The request object's payload must be a JSON object.")
    issuer = current_app.config["IDP_ISSUER"]
    if "iss" in claims and claims["iss"] != client.client_id:
        raise fail("The request object's iss must be the client_id.")
    if "client_id" in claims and claims["client_id"] != client.client_id:
        raise fail("The request object's client_id does not match.")
    aud = claims.get("aud")
    if aud is not None and issuer not in (aud if isinstance(aud, list) else [aud]):
        raise fail("The request object's aud must be the issuer.")
    now = time.time()
    if isinstance(claims.get("exp"), (int, float)) and claims["exp"] < now - 30:
        raise fail("The request object has expired.")
    if isinstance(claims.get("nbf"), (int, float)) and claims["nbf"] > now + 30:
        raise fail("The request object is not valid yet.")
    if "jti" in claims and not remember_jti("request_object", client.client_id, claims["jti"], claims.get("exp")):
        raise fail("The request object was used before.")


def merge(params: dict, client, redirect_uri) -> dict:
    """Parameters with the request object's values applied (they take precedence)."""
    if "request" in params and "request_uri" in params:
        raise InvalidRequestError("Use either request or request_uri, not both.", redirect_uri=redirect_uri)
    raw = params.get("request")
    if "request_uri" in params:
        raw = fetch(params["request_uri"], redirect_uri)
    if raw is None:
        return params
    claims = decode(raw, client, redirect_uri)
    merged = {k: v for k, v in params.items() if k not in ("request", "request_uri")}
    for key, value in claims.items():
        if key in ("iss", "aud", "exp", "iat", "nbf", "jti"):
            continue
        merged[key] = json.dumps(value) if isinstance(value, (dict, list)) else str(value)
    return merged
