"""The login flow service: every login, step-up and re-confirmation, whatever the proof."""
from __future__ import annotations

from flask import g, request, session as ui_cookie, url_for
from flask_babel import gettext as _

from ... import events
from ...clock import now
from ...db import db
from .. import browsers, mails, passkeys
from ..assurance import PROOFS
from ..models import Account, AccountKind, SsoSession
from ..navigation import safe_next
from ..password_checks import LoginFailed
from ..totp import normalize_code
from . import pending
from .reconfirmation import Reconfirmation
from .steps import Step
from .upstream import UpstreamLogins


class LoginFlow(Reconfirmation, UpstreamLogins):
    def __init__(self, accounts, sessions, totp):
        self.accounts = accounts
        self.sessions = sessions
        self.totp = totp

    # -- the password -----------------------------------------------------------------------------
    def password_login(self, identifier: str, password: str, next_url: str | None) -> Step:
        """The login page's form: problem ``login_failed`` or ``email_unverified``, else as
        :meth:`password_accepted`."""
        try:
            account = self.accounts.authenticate(identifier, password, now=now())
        except LoginFailed:
            return Step(problem="login_failed")
        if account.kind == AccountKind.CITIZEN.value and account.email and not account.email_verified:
            return Step(problem="email_unverified", account=account)
        return self.password_accepted(account, next_url)

    def password_accepted(self, account: Account, next_url: str | None) -> Step:
        """What follows a correct password: the second factor, enrolment, or the session."""
        has_factor, must_have_factor = account.second_factor_state()
        if has_factor:
            if browsers.is_remembered(account, request.cookies.get(browsers.COOKIE), now=now()):
                return self.finish(account, "remembered_browser", next_url)
            pending.start(account, next_url)
            return Step(location=url_for("accounts.second_factor"), account=account)
        if must_have_factor:
            pending.start(account, next_url, enrol=True)
            return Step(location=url_for("accounts.enrol_totp"), account=account,
                        notice=_("Your account needs a second factor. Set up an authenticator app to continue."))
        return self.finish(account, "password", next_url)

    # -- finishing a login, raising a session -------------------------------------------------------
    def finish(self, account: Account, proof: str, next_url: str | None) -> Step:
        """The last proof of a login that began with the password (``"password"`` itself when no
        second factor is due): a new session at the level of ``proof``, unless the account was
        disabled meanwhile."""
        if account.status != "active":
            pending.drop()
            return Step(location=url_for("accounts.login"), account=account)
        known = PROOFS[proof]
        return self._login(account, known.alone if proof == "password" else known.after_password, known.acr,
                           next_url)

    def _login(self, account: Account, amr, acr: str, next_url: str | None, auth_time=None) -> Step:
        pending.drop()
        linked = self.finish_pending_link(account, amr)  # committed with the session, or not at all
        session = self.sessions.login(account, amr=list(amr), acr=acr, now=now(), auth_time=auth_time)
        return Step(location=safe_next(next_url), account=account, session=session,
                    notice=_("The link has been saved.") if linked else None)

    def _step_up(self, live: SsoSession, amr, acr: str, next_url: str | None) -> Step:
        session = self.sessions.step_up(live, amr=list(amr), acr=acr, now=now())
        return Step(location=safe_next(next_url), account=live.account, session=session)

    def pending_account(self) -> Account | None:
        return pending.account()

    # -- the second-factor page: TOTP or recovery code ------------------------------------------------
    def second_factor_due(self, next_url: str | None) -> Step:
        """Whom the second-factor page asks: the pending login's ``account``, or the live ``session``'s
        (step-up); or, with ``location``, where to go instead."""
        account = pending.account()
        live = self.sessions.current(now()) if account is None else None
        if live is not None:
            account = live.account
        if account is None:
            return Step(location=url_for("accounts.login"), notice=_("Please log in again."))
        if not account.has_second_factor:
            return Step(location=url_for("accounts.enrol_totp", next=next_url), account=account)
        return Step(account=account, session=live)

    def code_entered(self, due: Step, code: str, *, remember: bool, next_url: str | None) -> Step:
        """A code for ``due`` (from :meth:`second_factor_due`): the pending login completes (to where
        it was going) or the live session rises to level 2 (to ``next_url``); problem ``code_wrong``."""
        account, live = due.account, due.session
        if not self.check_code(account, code):
            events.record("account:totp:failure", subject=account, actor=account, now=now())
            db.session.commit()
            return Step(problem="code_wrong", account=account, session=live)
        if remember:
            g.set_remember_cookie = browsers.remember(account, request.user_agent.string, now=now())
        if live is not None:
            return self._step_up(live, PROOFS["otp"].step_up, PROOFS["otp"].acr, next_url)
        return self.finish(account, "otp", pending.raw().get("next"))

    def check_code(self, account: Account, value: str) -> bool:
        """A TOTP code (consumed: never accepted twice) or a recovery code (spent, with a mail)."""
        moment = now()
        if normalize_code(value):
            return self.totp.verify(account, value, now=moment)
        if self.totp.use_recovery_code(account, value, now=moment):
            if account.email:
                mails.deliver(account.email,
                              *mails.recovery_code_used(account, self.totp.remaining_recovery_codes(account)))
            return True
        return False

    # -- enrolment of an authenticator app --------------------------------------------------------------
    def enrolling_account(self) -> Account | None:
        """The logged-in person, or the pending login whose enrolment is due."""
        live = self.sessions.current(now())
        return live.account if live is not None else pending.account()

    def enrol_totp(self, account: Account, secret: str, code: str, next_url: str | None) -> Step:
        """Save ``secret`` if ``code`` proves it (problem ``code_wrong`` otherwise); the pending login
        that waited for it completes, or the live session rises to level 2. ``codes`` are the new
        recovery codes; ``location`` where their page continues."""
        codes = self.totp.enrol(account, secret, code, now=now(), store=ui_cookie)
        if codes is None:
            return Step(problem="code_wrong", account=account)
        note = pending.raw()
        live = self.sessions.current(now())
        if note.get("enrol") and live is None:
            self.finish(account, "otp", note.get("next"))  # the codes are shown first either way
        elif live is not None:
            self._step_up(live, PROOFS["otp"].step_up, PROOFS["otp"].acr, None)
        return Step(location=safe_next(note.get("next") if note else next_url), account=account, codes=codes)

    # -- passkeys --------------------------------------------------------------------------------------
    def passkey_options(self, *, step_up: bool) -> str:
        """WebAuthn options for the pending login or (``step_up``) the live session; otherwise for
        whoever holds a discoverable passkey (login with a passkey alone)."""
        account = pending.account()
        if account is None:
            live = self.sessions.current(now())
            account = live.account if live is not None and step_up else None
        return passkeys.authentication_options(account, now=now())

    def passkey_passed(self, credential, *, step_up: bool, next_url: str | None) -> Step:
        """A signed WebAuthn assertion: the second factor of the pending login, a step-up, or (when
        the account allows it) the whole login. Problem: a :class:`.passkeys.PasskeyError` id."""
        owner = pending.account()
        live = self.sessions.current(now()) if owner is None else None
        step_up = live is not None and step_up
        try:
            account, user_verified = passkeys.authenticate(credential, now=now(),
                                                          account=owner or (live.account if step_up else None))
        except passkeys.PasskeyError as exc:
            return Step(problem=str(exc))
        proof = PROOFS["passkey"]
        if step_up:
            return self._step_up(live, proof.step_up, proof.acr, next_url)
        if owner is not None:
            target = pending.raw().get("next")
            done = self.finish(account, "passkey", target)
            return Step(location=safe_next(target), account=account, session=done.session)
        if not account.passkey_login or not user_verified or account.status != "active":
            return Step(problem="passkey.not_allowed", account=account)
        return self._login(account, proof.alone, proof.acr, next_url)

    # -- digital-signature certificates ---------------------------------------------------------------
    def certificate_passed(self, account: Account, key: str, next_url: str | None) -> Step:
        """A verified certificate of ``account`` (``key``: ``"hwk"`` or ``"swk"``), level 3: the pending
        password login completes, the live session of the same person rises, or a new session starts."""
        proof = PROOFS[key]
        owner = pending.account()
        live = self.sessions.current(now())
        if owner is not None and owner.id == account.id:
            return self._login(account, proof.after_password, proof.acr, next_url or pending.raw().get("next"))
        if live is not None and live.account_id == account.id:
            amr = proof.step_up if "pwd" in live.amr else proof.step_up_without_password
            return self._step_up(live, amr, proof.acr, next_url)
        return self._login(account, proof.alone, proof.acr, next_url)
