"""The upstream's ID token, checked as OpenID Connect Core §3.1.3.7 says, against its JWKS.

https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation

Order: shape → algorithm (the profile's list: RS256/ES256, never ``none`` or HS*) → key by ``kid`` (the
JWKS fetched again once when the kid is unknown: the upstream rotated) → signature → ``iss`` → ``aud``
(and ``azp`` when there are several audiences) → ``exp`` → ``iat`` → ``nonce``.
"""
from __future__ import annotations

import hmac
from datetime import datetime, timedelta

from joserfc import jws, jwt
from joserfc.errors import JoseError

from .errors import TokenRejected

SKEW = timedelta(seconds=60)


def verify(token, *, issuer: str, client_id: str, nonce: str, algorithms, keys, now: datetime) -> dict:
    """The ID token's claims, or :class:`TokenRejected`. ``keys(refresh)`` returns the upstream's
    :class:`joserfc.jwk.KeySet`, fetched again when ``refresh`` is true."""
    claims = signed_claims(token, algorithms=algorithms, keys=keys)
    check_claims(claims, issuer=issuer, client_id=client_id, nonce=nonce, now=now)
    return claims


def signed_claims(token, *, algorithms, keys, what: str = "id_token") -> dict:
    """The claims of a JWT the upstream signed (shape → algorithm → key → signature), claims unchecked;
    also for back-channel logout tokens (:mod:`.backchannel`)."""
    if not isinstance(token, str) or token.count(".") != 2 or len(token) > 16_384:
        raise TokenRejected(f"{what} missing or not a compact JWS")
    try:
        header = jws.extract_compact(token.encode()).protected
    except (JoseError, ValueError, TypeError):
        raise TokenRejected(f"{what} header unreadable") from None
    alg = header.get("alg")
    if alg not in algorithms:
        raise TokenRejected(f"{what} algorithm {alg!r} not allowed")
    key = _key(keys(False), header, alg) or _key(keys(True), header, alg)
    if key is None:
        raise TokenRejected(f"{what} signed with an unknown key")
    try:
        claims = jwt.decode(token, key, algorithms=[alg]).claims
    except (JoseError, ValueError, TypeError):
        raise TokenRejected(f"{what} signature does not verify") from None
    if not isinstance(claims, dict):
        raise TokenRejected(f"{what} claims are not an object")
    return claims


def _key(key_set, header: dict, alg: str):
    """The key the header names; without a kid, the only key of the algorithm's type."""
    kty = "EC" if alg.startswith("ES") else "RSA"
    kid = header.get("kid")
    candidates = [k for k in key_set.keys if k.key_type == kty and (kid is None or k.kid == kid)]
    return candidates[0] if len(candidates) == 1 else None


def check_claims(claims: dict, *, issuer: str, client_id: str, nonce: str, now: datetime) -> None:
    check_issuer_and_audience(claims, issuer=issuer, client_id=client_id)
    audiences = [claims["aud"]] if isinstance(claims["aud"], str) else claims["aud"]
    if (len(audiences) > 1 and claims.get("azp") != client_id) or claims.get("azp") not in (None, client_id):
        raise TokenRejected("id_token azp is not MotID")
    moment = now.timestamp()
    exp, iat = claims.get("exp"), claims.get("iat")
    if not number(exp) or exp <= moment - SKEW.total_seconds():
        raise TokenRejected("id_token expired")
    if not number(iat) or iat > moment + SKEW.total_seconds():
        raise TokenRejected("id_token issued in the future")
    sent = claims.get("nonce")
    if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), nonce.encode()):
        raise TokenRejected("id_token nonce is not the one sent")


def check_issuer_and_audience(claims: dict, *, issuer: str, client_id: str, what: str = "id_token") -> None:
    if claims.get("iss") != issuer:
        raise TokenRejected(f"{what} iss is not the provider's issuer")
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience
    if not isinstance(audiences, list) or client_id not in audiences:
        raise TokenRejected(f"{what} aud does not name MotID")


def number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
