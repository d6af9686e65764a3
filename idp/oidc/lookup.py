"""Find what stands behind a presented token (a JWT access token, or an opaque refresh token).

Access tokens are self-contained (RFC 9068) and not stored one by one. One is live when its signature,
``iss``, ``typ`` and ``exp`` hold and, in one statement: its grant (claim ``gid``) is not revoked and
its ``jti`` is not on the revocation list. A ``client_credentials`` token has no grant: its client must
still exist. A token obtained by exchange (RFC 8693, claim ``act``) names the grant of the token it was
exchanged from, so it ends with that grant; its own client (the actor) must still exist. Every
revocation path ends the grant or lists the ``jti``, so the answer is authoritative.

A token whose ``aud`` is another service (RFC 8707, RFC 8693) is live, and introspection says so, but
MotID's own resources (UserInfo, the admin API) ask for ``ours=True`` and do not accept it.
"""
from __future__ import annotations

from dataclasses import dataclass

from joserfc import jwt
from joserfc.errors import JoseError
from sqlalchemy import bindparam, exists, select

from ..accounts.models import Account
from ..db import db
from ..keys import ALGORITHMS
from ..security import digest
from .models import Grant, RefreshToken, RevokedAccessToken
from .tokens import epoch


@dataclass
class LiveAccess:
    """A live access token: its verified claims and, when it has one, the stored grant's columns."""

    claims: dict
    grant: object | None = None  # a row with Grant's columns (id, client_id, account_id, claims, revoked_at…)
    account: Account | None = None  # loaded only when asked for

    @property
    def client_id(self) -> str:
        return self.claims["client_id"]

    @property
    def scope(self) -> str:
        return self.claims.get("scope") or ""

    @property
    def cnf_x5t(self) -> str | None:
        cnf = self.claims.get("cnf")
        return cnf.get("x5t#S256") if isinstance(cnf, dict) else None

    @property
    def cnf_jkt(self) -> str | None:
        cnf = self.claims.get("cnf")
        return cnf.get("jkt") if isinstance(cnf, dict) else None

    @property
    def acr(self) -> str | None:
        return self.claims.get("acr")


def access_token_claims(token: str, keys, issuer: str, now) -> dict | None:
    """Verified, unexpired claims of one of our JWT access tokens, or None."""
    if not isinstance(token, str) or len(token) > 4096 or token.count(".") != 2:
        return None
    try:
        decoded = jwt.decode(token, keys.verification_keys(now), algorithms=list(ALGORITHMS))
    except (JoseError, ValueError, TypeError):
        return None
    if decoded.header.get("typ") != "at+jwt":
        return None
    claims = decoded.claims
    if claims.get("iss") != issuer or not isinstance(claims.get("jti"), str) \
            or not isinstance(claims.get("client_id"), str) or not isinstance(claims.get("exp"), int) \
            or claims["exp"] <= epoch(now):
        return None
    return claims


GRANTS, ACCOUNTS = Grant.__table__.c, Account.__table__.c
REVOKED = exists().where(RevokedAccessToken.__table__.c.jti == bindparam("jti")).label("revoked")
# Built once: the hot path binds values only.
IS_REVOKED = select(REVOKED)
GRANT_ALIVE = select(GRANTS.id, GRANTS.client_id, GRANTS.account_id, GRANTS.sid, GRANTS.scope, GRANTS.claims,
                     GRANTS.auth_time, GRANTS.acr, GRANTS.revoked_at, REVOKED).where(GRANTS.handle == bindparam("gid"))
GRANT_ALIVE_WITH_ACCOUNT = (select(GRANTS.id, GRANTS.client_id, GRANTS.account_id, GRANTS.sid, GRANTS.scope,
                                   GRANTS.claims, GRANTS.auth_time, GRANTS.acr, GRANTS.revoked_at, REVOKED, Account)
                            .outerjoin(Account, Account.id == GRANTS.account_id).where(GRANTS.handle == bindparam("gid")))


def names_audience(aud, audience: str) -> bool:
    return aud == audience or (isinstance(aud, list) and audience in aud)


def live_access_token(token: str, keys, issuer: str, now, *, with_account: bool = False,
                      ours: bool = False) -> LiveAccess | None:
    """The live access token behind ``token``, or None (one statement). ``ours``: only one whose audience
    is MotID itself (RFC 9068 §4: a resource server accepts only tokens meant for it)."""
    claims = access_token_claims(token, keys, issuer, now)
    if claims is None or (ours and not names_audience(claims.get("aud"), issuer)):
        return None
    gid = claims.get("gid")
    if gid is None:  # client_credentials: the client itself is the grant
        from .clients import service
        if service().cached(claims["client_id"]) is None \
                or db.session.connection().execute(IS_REVOKED, {"jti": claims["jti"]}).scalar():
            return None
        return LiveAccess(claims)
    if not isinstance(gid, str):
        return None
    params = {"gid": gid, "jti": claims["jti"]}
    if with_account:  # the account as an ORM object: claims are read from it
        row = db.session.execute(GRANT_ALIVE_WITH_ACCOUNT, params).first()
    else:
        row = db.session.connection().execute(GRANT_ALIVE, params).first()
    if row is None or row.revoked_at is not None or row.revoked:
        return None
    if "act" in claims:  # exchanged by another client (the actor) from a token of this grant
        from .clients import service
        if service().cached(claims["client_id"]) is None:
            return None
    elif row.client_id != claims["client_id"]:
        return None
    return LiveAccess(claims, row, row.Account if with_account else None)


def refresh_token_record(token: str) -> RefreshToken | None:
    if not isinstance(token, str) or not token or len(token) > 200:
        return None
    return db.session.get(RefreshToken, digest(token))
