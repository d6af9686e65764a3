"""JWT client authentication (RFC 7523 §2.2, OIDC Core §9): ``client_secret_jwt`` and ``private_key_jwt``.

The assertion's ``aud`` may be the issuer or the token endpoint; each ``jti`` is accepted once.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone

from authlib.oauth2.rfc6749.errors import InvalidClientError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from flask import current_app, request as current_request, url_for
from joserfc import jwk
from sqlalchemy.exc import IntegrityError

from .. import net
from ..clock import now
from ..db import db
from ..security import digest
from .models import UsedJti

log = logging.getLogger(__name__)

_JWKS_CACHE: dict[str, tuple[float, dict]] = {}
JWKS_CACHE_SECONDS = 300
MAX_JWKS_BYTES = 64 * 1024
MAX_CACHED = 1000
PURGE_MARGIN = timedelta(minutes=5)  # beyond any leeway a JWT's expiry is checked with


def fetch_jwks(uri: str) -> dict:
    """A client's ``jwks_uri`` document, cached for a few minutes."""
    cached = _JWKS_CACHE.get(uri)
    if cached and time.monotonic() - cached[0] < JWKS_CACHE_SECONDS:
        return cached[1]
    try:
        document = net.get_json(uri, max_bytes=MAX_JWKS_BYTES)
    except net.FetchError as exc:
        log.info("jwks_uri %s not usable: %s", uri, exc.reason)
        raise InvalidClientError(description="The client's jwks_uri could not be fetched.") from None
    if len(_JWKS_CACHE) >= MAX_CACHED:
        _JWKS_CACHE.clear()
    _JWKS_CACHE[uri] = (time.monotonic(), document)
    return document


def client_public_keys(client) -> jwk.KeySet:
    document = client.meta.get("jwks") or (fetch_jwks(client.meta["jwks_uri"]) if client.meta.get("jwks_uri")
                                           else {"keys": []})
    try:
        return jwk.KeySet.import_key_set(document)
    except Exception:  # malformed remote key sets must not become a 500
        raise InvalidClientError(description="The client's keys are not a valid JWK Set.") from None


def valid_jti(jti) -> bool:
    return isinstance(jti, str) and 0 < len(jti) <= 512


def _jti_key(purpose: str, client_id: str, jti: str) -> str:
    return digest(f"{purpose}|{client_id}|{jti}")


def jti_seen(purpose: str, client_id: str, jti) -> bool:
    """Whether a ``jti`` was already spent (a read: :func:`remember_jti` is the atomic spend)."""
    return not valid_jti(jti) or db.session.get(UsedJti, _jti_key(purpose, client_id, jti)) is not None


def remember_jti(purpose: str, client_id: str, jti, exp) -> bool:
    """Record a one-time ``jti`` (one insert on a unique key); False when it was seen before."""
    if not valid_jti(jti):
        return False
    moment = now()
    try:
        expires = datetime.fromtimestamp(exp, timezone.utc) if isinstance(exp, (int, float)) \
            and not isinstance(exp, bool) else moment + timedelta(hours=1)
    except (OverflowError, OSError, ValueError):
        expires = moment + timedelta(hours=1)
    db.session.add(UsedJti(key=_jti_key(purpose, client_id, jti), expires_at=expires))
    try:
        db.session.commit()
        return True
    except IntegrityError:
        db.session.rollback()
        return False


def purge_spent_jtis(moment) -> int:
    """Forget one-time ``jti``s well past their expiry, when the JWT carrying one is refused anyway (its ``exp``,
    Authlib's leeway included, or a DPoP proof's ``iat``); ``idp worker`` runs it with its housekeeping."""
    table = UsedJti.__table__
    deleted = db.session.execute(table.delete().where(table.c.expires_at <= moment - PURGE_MARGIN)).rowcount
    db.session.commit()
    return deleted


class _JWTClientAuth(JWTBearerClientAssertion):
    def __init__(self):
        super().__init__(validate_jti=True, leeway=30)

    def __call__(self, query_client, request):
        # Only answer for clients registered with this method, so the next method gets its turn.
        assertion = request.form.get("client_assertion")
        if request.form.get("client_assertion_type") != self.CLIENT_ASSERTION_TYPE or not assertion:
            return None
        _, claims = self.extract_assertion(assertion)
        client = query_client(claims.get("sub")) if isinstance(claims.get("sub"), str) else None
        if client is None or client.meta.get("token_endpoint_auth_method") != self.CLIENT_AUTH_METHOD:
            return None
        return super().__call__(query_client, request)

    def get_audiences(self):
        issuer = current_app.config["IDP_ISSUER"]
        audiences = [issuer, issuer + url_for("oidc.token")]
        if current_request.endpoint == "oidc.par":  # RFC 9126 §2: the PAR endpoint's URL is accepted there too
            audiences.append(issuer + url_for("oidc.par"))
        return audiences

    def validate_jti(self, claims, jti):
        return remember_jti("client_assertion", claims["sub"], jti, claims.get("exp"))


class ClientSecretJWT(_JWTClientAuth):
    CLIENT_AUTH_METHOD = "client_secret_jwt"

    def resolve_client_public_key(self, client):
        secret = current_app.extensions["idp.clients"].secret_of(client)
        if not secret:
            raise InvalidClientError(description="The client has no secret.")
        return jwk.OctKey.import_key(secret)


class PrivateKeyJWT(_JWTClientAuth):
    CLIENT_AUTH_METHOD = "private_key_jwt"

    def resolve_client_public_key(self, client):
        return client_public_keys(client)
