"""Single logout: which clients a session signed into, and what each is told when it ends.

- Back-Channel Logout 1.0: a signed logout token per client with ``backchannel_logout_uri``, queued
  in a durable outbox (:mod:`idp.oidc.delivery` sends it), so the person's page never waits.
- Front-Channel Logout 1.0: iframes on the logged-out page for clients with ``frontchannel_logout_uri``.
- Ending a session revokes the refresh tokens issued under it, except those issued for ``offline_access``.
- A password reset (by mail link, or an administrator's) ends every grant of the account, offline ones
  included; a voluntary change does when the person ticks the box (``applications_revoked``).
"""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode, urlsplit

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..accounts.models import Account
from ..accounts.services import applications_revoked
from ..accounts.sessions import session_ended
from ..clock import now
from ..db import db
from ..keys import DEFAULT_ALG
from ..security import new_token
from .models import Grant, LogoutDelivery, RefreshToken, SessionClient
from .pairwise import subject_for
from .tokens import epoch

EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_SECONDS = 120


def record_sign_in(sid: str, client_id: str, moment) -> None:
    """Remember that ``client_id`` received tokens under session ``sid`` (caller commits)."""
    row = db.session.get(SessionClient, (sid, client_id))
    if row is None:
        db.session.add(SessionClient(sid=sid, client_id=client_id, first_at=moment, last_at=moment))
    else:
        row.last_at = moment


def clients_of(sid: str) -> list:
    ids = db.session.scalars(select(SessionClient.client_id).where(SessionClient.sid == sid)).all()
    service = current_app.extensions["idp.clients"]
    return [client for client in (service.get(client_id) for client_id in ids) if client is not None]


def logout_token(client, sid: str, sub: str, moment) -> str:
    claims = {"iss": current_app.config["IDP_ISSUER"], "aud": client.client_id, "iat": epoch(moment),
              "exp": epoch(moment + timedelta(seconds=LOGOUT_TOKEN_SECONDS)), "jti": new_token(16),
              "events": {EVENT: {}}, "sub": sub, "sid": sid}
    alg = client.meta.get("id_token_signed_response_alg") or DEFAULT_ALG
    return current_app.extensions["idp.keys"].sign(claims, alg=alg, now=moment, typ="logout+jwt")


def on_session_ended(app, ended) -> None:
    """Queue back-channel logouts and end online grants for every session that ended."""
    moment = now()
    for sid, account_id, _reason in ended:
        account = db.session.get(Account, account_id)
        for client in clients_of(sid):
            uri = client.meta.get("backchannel_logout_uri")
            if uri and account is not None:
                db.session.add(LogoutDelivery(client_id=client.client_id, uri=uri, sid=sid,
                                              sub=subject_for(client, account.sub),
                                              created_at=moment, next_attempt_at=moment))
        end_online_grants(sid, moment)
    try:
        db.session.commit()
    except IntegrityError:  # pragma: no cover - nothing unique is inserted; kept for safety
        db.session.rollback()


def end_online_grants(sid: str, moment) -> None:
    grants = db.session.scalars(select(Grant).where(Grant.sid == sid, Grant.revoked_at.is_(None))).all()
    for grant in grants:
        if "offline_access" in grant.scope.split():
            continue
        _end_grant(grant, "session_ended", moment)


def _end_grant(grant, reason: str, moment) -> None:
    grant.revoked_at, grant.revoke_reason = moment, reason
    db.session.execute(update(RefreshToken).where(RefreshToken.grant_id == grant.id,
                                                  RefreshToken.revoked_at.is_(None)).values(revoked_at=moment))


def on_applications_revoked(app, account_id, reason, now, keep_sid=None) -> int:
    """End every grant of the account and its tokens, ``offline_access`` ones included; only the online
    grants of session ``keep_sid`` survive. In the caller's transaction (it commits); returns the count."""
    grants = db.session.scalars(select(Grant).where(Grant.account_id == account_id,
                                                    Grant.revoked_at.is_(None))).all()
    ended = 0
    for grant in grants:
        if keep_sid is not None and grant.sid == keep_sid and "offline_access" not in grant.scope.split():
            continue
        _end_grant(grant, reason[:40], now)
        ended += 1
    return ended


def frontchannel_urls(sid: str) -> list[str]:
    """The iframes the logged-out page loads (Front-Channel Logout 1.0 §2)."""
    urls = []
    issuer = current_app.config["IDP_ISSUER"]
    for client in clients_of(sid):
        uri = client.meta.get("frontchannel_logout_uri")
        if not uri:
            continue
        if client.meta.get("frontchannel_logout_session_required"):
            separator = "&" if urlsplit(uri).query else "?"
            uri = uri + separator + urlencode({"iss": issuer, "sid": sid})
        urls.append(uri)
    return urls


def frame_sources(urls: list[str]) -> str:
    return " ".join(sorted({"{0.scheme}://{0.netloc}".format(urlsplit(u)) for u in urls})) or "'none'"


def init_app(app) -> None:
    """Listen to the accounts wing: a session that ends, applications revoked for an account."""
    session_ended.connect(on_session_ended, sender=app, weak=False)
    applications_revoked.connect(on_applications_revoked, sender=app, weak=False)
    app.extensions["idp.logout_frames"] = frontchannel_urls
