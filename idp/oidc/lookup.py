"""Find the stored record behind a presented token (access token JWT or opaque refresh token)."""
from __future__ import annotations

from joserfc import jwt
from joserfc.errors import JoseError

from ..db import db
from ..keys import ALGORITHMS
from ..security import digest
from .models import AccessToken, RefreshToken


def access_token_claims(token: str, keys, issuer: str, now) -> dict | None:
    """Verified claims of one of our JWT access tokens, or None."""
    if not isinstance(token, str) or len(token) > 4096 or token.count(".") != 2:
        return None
    try:
        decoded = jwt.decode(token, keys.verification_keys(now), algorithms=list(ALGORITHMS))
    except (JoseError, ValueError, TypeError):
        return None
    if decoded.header.get("typ") != "at+jwt":
        return None
    claims = decoded.claims
    if claims.get("iss") != issuer or not isinstance(claims.get("jti"), str):
        return None
    return claims


def live_access_token(token: str, keys, issuer: str, now) -> tuple[dict, AccessToken] | None:
    """Claims and record of an access token that is valid now: signed by us, unexpired, unrevoked."""
    claims = access_token_claims(token, keys, issuer, now)
    if claims is None:
        return None
    record = db.session.get(AccessToken, claims["jti"])
    if record is None or record.revoked_at is not None or record.expires_at <= now \
            or record.grant.revoked_at is not None:
        return None
    return claims, record


def refresh_token_record(token: str) -> RefreshToken | None:
    if not isinstance(token, str) or not token or len(token) > 200:
        return None
    return db.session.get(RefreshToken, digest(token))
