"""The server-side single sign-on session behind an opaque cookie.

The cookie holds 256 random bits; the database keeps only their SHA-256. Login always
creates a new row (session-fixation defence) and ends the one the browser had.
"""
from __future__ import annotations

from datetime import timedelta

from blinker import Namespace
from flask import current_app, g, request
from sqlalchemy import select, update

from .. import events
from ..db import db
from ..security import digest, new_token
from .models import Account, SsoSession

COOKIE = "motid_sso"

#: Sent after sessions end, with ``ended=[(sid, account_id, reason), …]``; the OpenID Provider
#: listens to notify the applications (single logout). Accounts knows nothing of who listens.
session_ended = Namespace().signal("session-ended")
_TOUCH_EVERY = timedelta(seconds=60)  # write last_seen at most once a minute per session


class SessionService:
    def __init__(self, config):
        self.idle = timedelta(seconds=config["IDP_SESSION_IDLE_SECONDS"])
        self.absolute = timedelta(seconds=config["IDP_SESSION_MAX_SECONDS"])
        self.secure_cookie = config["IDP_ISSUER"].startswith("https://")

    def is_live(self, session: SsoSession, now) -> bool:
        return (session.ended_at is None and session.expires_at > now
                and session.last_seen_at + self.idle > now)

    def current(self, now) -> SsoSession | None:
        """The live session named by the request's cookie, cached for the request."""
        if "sso_session" in g:
            return g.sso_session
        token = request.cookies.get(COOKIE)
        session = None
        if token and len(token) < 100:
            session = db.session.get(SsoSession, digest(token))
            if session is not None and not self.is_live(session, now):
                if session.ended_at is None:
                    self._end(session, "expired", now)
                    db.session.commit()
                    self._announce([session], "expired")
                session = None
            elif session is not None and now - session.last_seen_at >= _TOUCH_EVERY:
                session.last_seen_at = now
                db.session.commit()
        g.sso_session = session
        return session

    def login(self, account: Account, *, amr: list[str], acr: str, now, auth_time=None) -> SsoSession:
        """The one place that crosses the authentication boundary. ``auth_time``: when the person
        authenticated, if earlier than ``now`` (an upstream's, for a federated login); never later."""
        previous = self.current(now)
        if previous is not None:
            self._end(previous, "replaced", now)
        token = new_token()
        session = SsoSession(
            id=digest(token), sid=new_token(24), account_id=account.id, auth_time=min(auth_time or now, now), amr=amr, acr=acr,
            ip=request.remote_addr, user_agent=(request.user_agent.string or "")[:300] or None,
            created_at=now, last_seen_at=now, expires_at=now + self.absolute,
        )
        db.session.add(session)
        events.record("account:login:success", subject=account, actor=account,
                      details={"amr": amr, "acr": acr, "sid": session.sid}, now=now)
        db.session.commit()
        if previous is not None:
            self._announce([previous], "replaced")
        g.sso_session = session
        g.set_sso_cookie = token
        return session

    def step_up(self, session: SsoSession, *, amr: list[str], acr: str, now) -> SsoSession:
        """Raise the assurance of the current session after an extra factor (same session, same sid)."""
        session.amr = sorted(set(session.amr) | set(amr), key=["fed", "pwd", "hwk", "swk", "otp", "mfa"].index)
        session.acr = acr
        session.auth_time = now
        events.record("account:login:step_up", subject=session.account_id, actor=session.account_id,
                      details={"amr": session.amr, "acr": acr, "sid": session.sid}, now=now)
        db.session.commit()
        return session

    def logout(self, now) -> SsoSession | None:
        session = self.current(now)
        if session is not None:
            self._end(session, "logout", now)
            events.record("account:logout:success", subject=session.account_id, actor=session.account_id,
                          details={"sid": session.sid}, now=now)
            db.session.commit()
            self._announce([session], "logout")
        g.sso_session = None
        g.set_sso_cookie = ""
        return session

    def live_sessions(self, account_id: int, now) -> list[SsoSession]:
        rows = db.session.scalars(select(SsoSession).where(SsoSession.account_id == account_id,
                                                           SsoSession.ended_at.is_(None))
                                  .order_by(SsoSession.last_seen_at.desc())).all()
        return [row for row in rows if self.is_live(row, now)]

    def end_all(self, account: Account, reason: str, *, now, keep: SsoSession | None = None,
                actor=None) -> int:
        """End every live session of an account (but ``keep``)."""
        rows = [row for row in db.session.scalars(select(SsoSession).where(
            SsoSession.account_id == account.id, SsoSession.ended_at.is_(None)))
            if keep is None or row.id != keep.id]
        return self._end_rows(rows, reason, now=now, actor=actor)

    def end_by_sid(self, account_id: int, sid: str, reason: str, *, now, actor=None) -> bool:
        """End one session of ``account_id``; another account's session is never touched."""
        rows = db.session.scalars(select(SsoSession).where(SsoSession.account_id == account_id,
                                                           SsoSession.sid == sid,
                                                           SsoSession.ended_at.is_(None))).all()
        return self._end_rows(rows, reason, now=now, actor=actor) == 1

    def end_sessions(self, rows, reason: str, *, now, actor=None) -> int:
        """End the live sessions among ``rows`` (chosen by the caller: an upstream's back-channel logout)."""
        return self._end_rows([row for row in rows if row.ended_at is None], reason, now=now, actor=actor)

    def sweep_expired(self, now, limit: int = 500) -> int:
        """End sessions past their idle or absolute lifetime (so the applications hear of it). Each row is
        claimed by one UPDATE first: when several workers sweep at once, each session is ended and
        announced by exactly one of them."""
        rows = db.session.scalars(select(SsoSession).where(
            SsoSession.ended_at.is_(None),
            (SsoSession.expires_at <= now) | (SsoSession.last_seen_at <= now - self.idle)).limit(limit)).all()
        claimed = [row for row in rows if db.session.execute(
            update(SsoSession).where(SsoSession.id == row.id, SsoSession.ended_at.is_(None))
            .values(ended_at=now, end_reason="expired")).rowcount == 1]
        return self._end_rows(claimed, "expired", now=now)

    def _end_rows(self, rows, reason: str, *, now, actor=None) -> int:
        if not rows:
            return 0
        for row in rows:
            self._end(row, reason, now)
            if actor is not None:
                events.record("account:session:end", subject=row.account_id, actor=actor,
                              details={"sid": row.sid, "reason": reason}, now=now)
        db.session.commit()
        self._announce(rows, reason)
        return len(rows)

    @staticmethod
    def _announce(rows, reason: str) -> None:
        ended = [(row.sid, row.account_id, reason) for row in rows]
        session_ended.send(current_app._get_current_object(), ended=ended)

    def _end(self, session: SsoSession, reason: str, now) -> None:
        session.ended_at = now
        session.end_reason = reason

    def write_cookie(self, response):
        token = g.get("set_sso_cookie")
        if token is None:
            return response
        if token == "":
            response.delete_cookie(COOKIE, path="/", secure=self.secure_cookie, httponly=True, samesite="Lax")
        else:
            response.set_cookie(COOKIE, token, max_age=int(self.absolute.total_seconds()), path="/",
                                secure=self.secure_cookie, httponly=True, samesite="Lax")
        return response
