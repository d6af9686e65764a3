"""Request objects (RFC 9101, OIDC Core §6): ``request`` by value and ``request_uri`` by reference.

Signed objects must verify with the client's registered keys (RS256 or ES256); ``alg: none`` is
accepted only from a client registered with ``request_object_signing_alg: none``. Values inside the
object supersede the query parameters.
"""
from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass

from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc9101.errors import InvalidRequestObjectError, InvalidRequestUriError
from flask import current_app
from joserfc import jws, jwt
from joserfc.errors import JoseError

from .. import net
from ..clock import now as clock_now
from .client_auth import client_public_keys, jti_seen, remember_jti, valid_jti

log = logging.getLogger(__name__)

MAX_BYTES = 64 * 1024
SIGNED_ALGS = ("RS256", "ES256")
JTI_PURPOSE = "request_object"
# Parameters of the object that describe the object itself, not the authorization request.
OWN_CLAIMS = ("iss", "aud", "exp", "iat", "nbf", "jti")


@dataclass(frozen=True)
class RequestObject:
    """A verified request object: its compact form (carried by value through login and consent, so it
    is fetched once per authorization) and its claims."""

    raw: str
    claims: dict


def registered(client, request_uri: str) -> bool:
    """OIDC Registration §2: only ``request_uris`` the client registered. The fragment is the client's
    cache-busting hash, so it is compared apart from the rest."""
    if not isinstance(request_uri, str) or len(request_uri) > 2000:
        return False
    base = request_uri.split("#", 1)[0]
    return any(isinstance(uri, str) and uri.split("#", 1)[0] == base for uri in client.meta.get("request_uris", []))


def fetch(request_uri: str, client, redirect_uri) -> str:
    """The object behind a registered ``request_uri``, through the guarded client (deadline, size cap,
    global addresses only). One error text for every failure: it must not map the network."""
    if not registered(client, request_uri):
        raise InvalidRequestUriError("The request_uri is not registered for this client.", redirect_uri=redirect_uri)
    try:
        response = net.request("GET", request_uri.split("#", 1)[0], max_bytes=MAX_BYTES,
                               headers={"Accept": "application/oauth-authz-req+jwt, application/jwt"})
        if not response.ok:
            raise net.FetchError(f"HTTP {response.status}")
        return response.body.decode("utf-8").strip()
    except (net.FetchError, UnicodeDecodeError) as exc:
        log.info("request_uri of %s not usable: %s", client.client_id, getattr(exc, "reason", "not UTF-8"))
        raise InvalidRequestUriError("The request_uri could not be fetched.", redirect_uri=redirect_uri) from None


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
    inner = claims.get("redirect_uri") if isinstance(claims, dict) else None
    if redirect_uri is None and isinstance(inner, str) and client.check_redirect_uri(inner):
        redirect_uri = inner  # from the client itself and registered: its errors may go there
    _check_claims(claims, client, fail)
    return claims


def _b64(segment: str) -> bytes:
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
    now = clock_now().timestamp()
    if isinstance(claims.get("exp"), (int, float)) and claims["exp"] < now - 30:
        raise fail("The request object has expired.")
    if isinstance(claims.get("nbf"), (int, float)) and claims["nbf"] > now + 30:
        raise fail("The request object is not valid yet.")
    if "jti" in claims and not valid_jti(claims["jti"]):
        raise fail("The request object's jti must be a string.")
    if "jti" in claims and jti_seen(JTI_PURPOSE, client.client_id, claims["jti"]):
        raise fail("The request object was used before.")


def load(params: dict, client, redirect_uri) -> RequestObject | None:
    """The request object of an authorization request (by value, or fetched from its ``request_uri``)."""
    if "request" in params and "request_uri" in params:
        raise InvalidRequestError("Use either request or request_uri, not both.", redirect_uri=redirect_uri)
    raw = params.get("request")
    if "request_uri" in params:
        raw = fetch(params["request_uri"], client, redirect_uri)
    if raw is None:
        return None
    return RequestObject(raw, decode(raw, client, redirect_uri))


def merge(params: dict, obj: RequestObject | None) -> dict:
    """RFC 9101 §6.3: the request object's parameters, and only the outer ones it does not carry."""
    if obj is None:
        return params
    merged = {k: v for k, v in params.items() if k not in ("request", "request_uri")}
    for key, value in obj.claims.items():
        if key in OWN_CLAIMS:
            continue
        merged[key] = json.dumps(value) if isinstance(value, (dict, list)) else str(value)
    return merged


def consume(obj: RequestObject | None, client, redirect_uri) -> None:
    """A ``jti`` is spent once, when the authorization completes (not on each pass through login)."""
    if obj is None or "jti" not in obj.claims:
        return
    if not remember_jti(JTI_PURPOSE, client.client_id, obj.claims["jti"], obj.claims.get("exp")):
        raise InvalidRequestObjectError("The request object was used before.", redirect_uri=redirect_uri)
