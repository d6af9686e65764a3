"""Issuing tokens: JWT access tokens (RFC 9068), opaque rotating refresh tokens, ID tokens (OIDC Core §2).

Every access token's ``jti`` and every refresh token's digest is recorded under its grant, so that
introspection and revocation stay authoritative although the access token is self-contained.
"""
from __future__ import annotations

import base64
import hashlib
from datetime import timedelta

from ..db import db
from ..keys import DEFAULT_ALG
from ..security import digest, new_token
from .claims import release, scopes_for_claims
from .models import AccessToken, Grant, RefreshToken


def half_hash(value: str, alg: str) -> str:
    """``at_hash``/``c_hash``: the left half of the hash matching the signing algorithm (OIDC Core §3.1.3.6)."""
    hasher = hashlib.sha512 if alg == "EdDSA" else hashlib.sha256  # Ed25519 uses SHA-512
    raw = hasher(value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(raw[: len(raw) // 2]).rstrip(b"=").decode("ascii")


def epoch(moment) -> int:
    return int(moment.timestamp())


class TokenIssuer:
    def __init__(self, keys, config):
        self.keys = keys
        self.issuer = config["IDP_ISSUER"]
        self.access_ttl = timedelta(seconds=config["IDP_ACCESS_TOKEN_SECONDS"])
        self.id_ttl = timedelta(seconds=config["IDP_ID_TOKEN_SECONDS"])
        self.refresh_ttl = timedelta(seconds=config["IDP_REFRESH_TOKEN_SECONDS"])

    @staticmethod
    def _lifetime(client, name: str, default: timedelta) -> timedelta:
        """A client's own, shorter lifetime (``meta[name]`` seconds, set by an administrator), else ``default``.
        Never longer: retired signing keys stay published only as long as the server-wide lifetimes."""
        value = (getattr(client, "meta", None) or {}).get(name)
        if isinstance(value, int) and not isinstance(value, bool) and 0 < value:
            return min(timedelta(seconds=value), default)
        return default

    def access_token(self, grant: Grant, now, scope: str | None = None, ttl: timedelta | None = None) -> tuple[str, int]:
        jti = new_token(16)
        ttl = ttl or self.access_ttl
        expires = now + ttl
        scope = scope or grant.scope
        claims = {"iss": self.issuer, "sub": grant.account.sub if grant.account else grant.client_id,
                  "aud": self.issuer, "client_id": grant.client_id, "scope": scope, "jti": jti,
                  "iat": epoch(now), "exp": epoch(expires)}
        if grant.auth_time is not None:
            claims.update(auth_time=epoch(grant.auth_time), acr=grant.acr, amr=grant.amr)
        if grant.sid:
            claims["sid"] = grant.sid
        if grant.cnf_x5t:
            claims["cnf"] = {"x5t#S256": grant.cnf_x5t}  # RFC 8705 §3.1
        db.session.add(AccessToken(jti=jti, grant_id=grant.id, issued_at=now, expires_at=expires,
                                   scope=None if scope == grant.scope else scope))
        return self.keys.sign(claims, alg=DEFAULT_ALG, now=now, typ="at+jwt"), int(ttl.total_seconds())

    def refresh_token(self, grant: Grant, now, ttl: timedelta | None = None) -> str:
        token = new_token(32)
        db.session.add(RefreshToken(digest=digest(token), grant_id=grant.id, issued_at=now,
                                    expires_at=now + (ttl or self.refresh_ttl)))
        return token

    def id_token(self, client, grant: Grant, *, nonce, access_token: str | None, now) -> str:
        alg = client.meta.get("id_token_signed_response_alg") or DEFAULT_ALG
        requested = (grant.claims or {}).get("id_token") or {}
        granted = scopes_for_claims({"id_token": requested}) & set(client.meta.get("scope", "").split())
        claims = release(grant.account, granted, requested, client_id=client.client_id, acr=grant.acr) if requested \
            else {"sub": grant.account.sub}
        claims.update({"iss": self.issuer, "aud": client.client_id, "azp": client.client_id,
                       "iat": epoch(now), "exp": epoch(now + self._lifetime(client, "id_token_lifetime", self.id_ttl)),
                       "auth_time": epoch(grant.auth_time), "acr": grant.acr, "amr": grant.amr})
        if grant.sid:
            claims["sid"] = grant.sid
        if nonce:
            claims["nonce"] = nonce
        if access_token:
            claims["at_hash"] = half_hash(access_token, alg)
        return self.keys.sign(claims, alg=alg, now=now)

    def response(self, client, grant: Grant, *, now, refresh: bool, nonce=None, id_token=False,
                 scope: str | None = None) -> dict:
        """The token endpoint's JSON body; the caller commits."""
        access, expires_in = self.access_token(grant, now, scope,
                                               self._lifetime(client, "access_token_lifetime", self.access_ttl))
        body = {"access_token": access, "token_type": "Bearer", "expires_in": expires_in,
                "scope": scope or grant.scope}
        if refresh:
            body["refresh_token"] = self.refresh_token(
                grant, now, self._lifetime(client, "refresh_token_lifetime", self.refresh_ttl))
        if id_token:
            body["id_token"] = self.id_token(client, grant, nonce=nonce, access_token=access, now=now)
        return body
