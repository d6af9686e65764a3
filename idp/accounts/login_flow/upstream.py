"""Logins through an upstream identity provider (issue 14): a verified
:class:`~..upstream.identity.UpstreamIdentity` becomes a session with ``amr`` ``fed`` (RFC 8176), the
upstream's level as ``acr`` and its ``auth_time``; or links an upstream identity to the logged-in
person's account (security page). The account rules are :mod:`..upstream.accounts`'. A mixin of
:class:`.service.LoginFlow`.

A level-1 national login that matches an account with a password does not log in: the pending link
(provider, subject, account) waits in the UI cookie, signed, for ten minutes, and is recorded when that
account's own password login completes in this browser (:meth:`UpstreamLogins.finish_pending_link`).
"""
from __future__ import annotations

from flask import session as ui_cookie, url_for
from flask_babel import gettext as _

from ...clock import now
from ...db import db
from ..assurance import PROOFS, rank
from ..models import Account
from ..password_checks import LoginFailed
from ..upstream import accounts as upstream_accounts
from ..upstream import logout as upstream_logout
from ..upstream.identity import UpstreamIdentity
from .steps import Step

PENDING_LINK = "upstream_pending_link"  # a level-1 national login waiting for the account's password
LINK_INTENT = "upstream_link_intent"  # a logged-in person linking a provider from the security page
NOTE_SECONDS = 600  # as long as the upstream's pending login (..upstream.pending.LIFETIME)


def _note(name: str) -> dict | None:
    value = ui_cookie.pop(name, None)
    if not isinstance(value, dict) or now().timestamp() - value.get("at", 0) > NOTE_SECONDS:
        return None
    return value


class UpstreamLogins:
    """Needs ``accounts``, ``sessions`` and ``_login`` from the service."""

    def upstream_passed(self, identity: UpstreamIdentity) -> Step:
        """A verified upstream identity: a session (``location`` the pending login's ``next``), the
        link the security page asked for, the password of the matching account first (``location``
        the login page), or a problem ``upstream.<outcome or conflict reason>``."""
        intent = _note(LINK_INTENT)
        if intent is not None and intent.get("provider") == identity.provider:
            return self._link_for_live_session(identity, intent)
        match = upstream_accounts.resolve(identity, accounts=self.accounts, now=now())
        if match.outcome == "login":
            live = self.sessions.current(now())
            if live is not None and live.account_id == match.account.id and "fed" in live.amr:
                # a step-up through the upstream this session came from: the same session rises, never falls
                acr = upstream_accounts.level(identity)
                if rank(acr) <= rank(live.acr):
                    db.session.rollback()
                    return Step(problem="upstream.step_up_refused")  # 400: not a conflict of accounts
                return self._step_up(live, PROOFS["fed"].alone, acr, identity.next_url)
            step = self._login(match.account, PROOFS["fed"].alone, upstream_accounts.level(identity),
                               identity.next_url, auth_time=identity.auth_time)
            upstream_logout.remember(step.session, identity, now=now())  # to log out there too
            return step
        if match.outcome == "confirm":
            db.session.rollback()
            ui_cookie[PENDING_LINK] = {"account": match.account.id, "provider": identity.provider,
                                       "subject": identity.subject, "at": int(now().timestamp())}
            return Step(location=url_for("accounts.login", next=identity.next_url, login_hint=identity.citizen_id),
                        account=match.account,
                        notice=_("An account with your personal number already exists. Log in to it with its "
                                 "password once to link it."))
        if match.outcome == "conflict":
            upstream_accounts.conflict(identity, match, now=now())
        else:
            db.session.rollback()
        return Step(problem=f"upstream.{match.reason or match.outcome}", account=match.account)

    def finish_pending_link(self, account: Account, amr) -> bool:
        """Called as a login completes: record the link a level-1 login left waiting, when this login
        is that account's and proved its password (not committed: the session login commits it)."""
        note = _note(PENDING_LINK)
        if note is None or note.get("account") != account.id or "pwd" not in amr:
            return False
        return upstream_accounts.add_link(account, note["provider"], note["subject"], now=now())

    def request_upstream_link(self, account: Account, provider: str) -> None:
        """The security page is about to send a logged-in person to ``provider`` to link it."""
        ui_cookie[LINK_INTENT] = {"account": account.id, "provider": provider, "at": int(now().timestamp())}

    def _link_for_live_session(self, identity: UpstreamIdentity, intent: dict) -> Step:
        security = url_for("accounts.security")
        live = self.sessions.current(now())
        if live is None or live.account_id != intent.get("account"):
            return Step(location=url_for("accounts.login", next=security), notice=_("Please log in again."))
        reason = upstream_accounts.link_logged_in(live.account, identity, now=now())
        if reason is not None:
            match = upstream_accounts.Match("conflict", live.account, reason)
            upstream_accounts.conflict(identity, match, now=now())
            return Step(problem=f"upstream.{reason}", account=live.account)
        return Step(location=security, account=live.account, notice=_("The link has been saved."))

    def unlink_upstream(self, account: Account, link_id: int, password: str | None) -> Step:
        """Remove a link from the security page, after the password if the account has one; problems
        ``rate_limited``; otherwise a notice saying what happened."""
        security = url_for("accounts.security")
        if account.password_hash is not None:
            try:
                confirmed = self.reconfirm_password(account, password)
            except LoginFailed:
                return Step(problem="rate_limited", account=account)
            if not confirmed:
                return Step(location=security, notice=_("The password is not correct. Nothing was changed."))
        problem = upstream_accounts.unlink(account, link_id, now=now())
        if problem == "last_way":
            return Step(location=security, notice=_("This is the only way to log in to your account, so it "
                                                    "cannot be unlinked. Set a password or add a passkey first."))
        if problem is not None:
            return Step(location=security)
        return Step(location=security, notice=_("The link has been removed."))
