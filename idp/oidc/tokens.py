"""Issuing tokens: JWT access tokens (RFC 9068), opaque rotating refresh tokens, ID tokens (OIDC Core §2).

Access tokens are written nowhere: each names its grant (``gid``, the grant's random handle), and a
token revoked on its own goes on a revocation list (:mod:`.lookup` checks both). Refresh tokens are
stored as digests under their grant.
"""
from __future__ import annotations

import base64
import hashlib
from datetime import timedelta

from ..accounts.models import Account
from ..db import db
from ..keys import DEFAULT_ALG
from ..security import digest, new_token
from .claims import release, scopes_for_claims
from .models import RefreshToken
from .pairwise import subject_for


NEW_REFRESH_TOKEN = RefreshToken.__table__.insert()


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

    def access_lifetime(self, client) -> timedelta:
        return self._lifetime(client, "access_token_lifetime", self.access_ttl)

    def access_token(self, grant, now, scope: str | None = None, ttl: timedelta | None = None,
                     sub: str | None = None, audience=None, act: dict | None = None) -> tuple[str, int]:
        """``grant``: a :class:`Grant`, or for ``client_credentials`` any object with its attributes and
        ``handle`` None (no grant is stored for a client acting for itself). ``audience``: the ``aud`` when
        the token is for another service (RFC 8707), else MotID; ``act``: the actor claim (RFC 8693 §4.1)."""
        ttl = ttl or self.access_ttl
        scope = scope or grant.scope
        if sub is None:  # the public sub: callers that serve a client pass the one it sees
            sub = grant.account.sub if grant.account_id is not None else grant.client_id
        claims = {"iss": self.issuer, "sub": sub, "aud": audience or self.issuer, "client_id": grant.client_id,
                  "scope": scope, "jti": new_token(16), "iat": epoch(now), "exp": epoch(now + ttl)}
        if act:
            claims["act"] = act
        if grant.handle is not None:
            claims["gid"] = grant.handle
        if grant.auth_time is not None:
            claims.update(auth_time=epoch(grant.auth_time), acr=grant.acr, amr=grant.amr)
        if grant.sid:
            claims["sid"] = grant.sid
        cnf = {name: value for name, value in (("x5t#S256", grant.cnf_x5t), ("jkt", getattr(grant, "cnf_jkt", None)))
               if value}  # RFC 8705 §3.1, RFC 9449 §6.1: both may bind one token
        if cnf:
            claims["cnf"] = cnf
        return self.keys.sign(claims, alg=DEFAULT_ALG, now=now, typ="at+jwt"), int(ttl.total_seconds())

    def refresh_token(self, grant, now, ttl: timedelta | None = None) -> str:
        token = new_token(32)
        db.session.connection().execute(NEW_REFRESH_TOKEN, {
            "digest": digest(token), "grant_id": grant.id, "issued_at": now, "expires_at": now + (ttl or self.refresh_ttl)})
        return token

    def id_token(self, client, grant, *, nonce, access_token: str | None, now, sub: str | None = None) -> str:
        alg = client.meta.get("id_token_signed_response_alg") or DEFAULT_ALG
        requested = (grant.claims or {}).get("id_token") or {}
        granted = scopes_for_claims({"id_token": requested}) & set(client.meta.get("scope", "").split())
        if requested:  # individually requested claims: the account's record is needed
            account = db.session.get(Account, grant.account_id)
            claims = release(account, granted, requested, client_id=client.client_id, acr=grant.acr)
        else:
            claims = {"sub": sub or subject_for(client, grant.account.sub)}
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

    def response(self, client, grant, *, now, refresh: bool, nonce=None, id_token=False,
                 scope: str | None = None, sub: str | None = None, audience=None) -> dict:
        """The token endpoint's JSON body; the caller commits. ``grant``: a :class:`Grant` or a row of its
        columns; ``sub``: the account's public sub when the caller already has it (else read from
        ``grant.account``). The tokens carry the sub this client sees (:func:`.pairwise.subject_for`)."""
        if grant.account_id is None:
            sub = grant.client_id
        else:
            sub = subject_for(client, sub if sub is not None else grant.account.sub)
        access, expires_in = self.access_token(grant, now, scope,
                                               self._lifetime(client, "access_token_lifetime", self.access_ttl), sub,
                                               audience)
        token_type = "DPoP" if getattr(grant, "cnf_jkt", None) else "Bearer"  # RFC 9449 §5
        body = {"access_token": access, "token_type": token_type, "expires_in": expires_in,
                "scope": scope or grant.scope}
        if refresh:
            body["refresh_token"] = self.refresh_token(
                grant, now, self._lifetime(client, "refresh_token_lifetime", self.refresh_ttl))
        if id_token:
            body["id_token"] = self.id_token(client, grant, nonce=nonce, access_token=access, now=now, sub=sub)
        return body
