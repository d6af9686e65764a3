"""Password checks: the login, and the re-confirmation a logged-in person gives before a sensitive
change, under one set of rules (a mixin of :class:`.services.AccountService`).

Every check follows one order (warehouse ``check_password``): rate limit → lockout → verify →
rehash → record event; every failure looks the same to the caller. The login page's rate limit
wraps its view (:mod:`idp.limits`); a re-confirmation counts in the same store, per account.
Failures of both count toward one lockout, counted by the database in one statement.
"""
from __future__ import annotations

from flask import current_app
from sqlalchemy import update

from .. import events
from ..db import db
from .models import Account, AccountStatus


class LoginFailed(Exception):
    """Authentication failed. Deliberately carries no reason the user could see."""

    def __init__(self, reason: str, account: Account | None = None):
        super().__init__(reason)
        self.reason = reason
        self.account = account


class PasswordChecks:
    """Needs ``passwords``, ``lockout_threshold``, ``lockout``, ``confirm_limits`` and
    ``find_by_login`` from the service."""

    # -- password login ---------------------------------------------------------------------
    def authenticate(self, identifier: str, password: str, *, now) -> Account:
        """The account for these credentials, or :class:`LoginFailed` (same cost either way)."""
        account = self.find_by_login(identifier) if len(password) <= 1024 else None
        if account is None:
            self.passwords.burn(password[:1024])
            events.record("account:login:failure", details={"reason": "unknown"}, now=now)
            db.session.commit()
            raise LoginFailed("unknown")
        if self._is_locked(account, now):
            self.passwords.burn(password)
            events.record("account:login:failure", subject=account, details={"reason": "locked"}, now=now)
            db.session.commit()
            raise LoginFailed("locked", account)
        if not self.passwords.verify(account.password_hash, password):
            self._count_failure(account, now)
            raise LoginFailed("password", account)
        if account.status == AccountStatus.DISABLED.value:
            events.record("account:login:failure", subject=account, details={"reason": "disabled"}, now=now)
            db.session.commit()
            raise LoginFailed("disabled", account)
        changed = False
        if self.passwords.needs_rehash(account.password_hash):
            account.password_hash = self.passwords.hash(password)
            events.record("account:password:rehash", subject=account, now=now)
            changed = True
        if account.failed_logins:
            account.failed_logins, changed = 0, True
        if account.status == AccountStatus.LOCKED.value:
            account.status, account.locked_until, changed = AccountStatus.ACTIVE.value, None, True
        if changed:  # the usual login changes nothing here: no commit, no reload of the account
            db.session.commit()
        return account

    def _is_locked(self, account: Account, now) -> bool:
        if account.status != AccountStatus.LOCKED.value:
            return False
        return account.locked_until is None or account.locked_until > now

    def _count_failure(self, account: Account, now, *, tag: str = "account:login:failure", actor=None) -> None:
        """One more consecutive failure, counted by the database in one statement (never read, then
        written: parallel guesses would overwrite each other's count); the failure that reaches the
        threshold locks the account. The counter's row lock is released (commit) before the events
        take the audit chain's lock, so a failure never holds one lock while waiting for the other."""
        consecutive = db.session.execute(
            update(Account).where(Account.id == account.id)
            .values(failed_logins=Account.failed_logins + 1)
            .returning(Account.failed_logins)
            .execution_options(synchronize_session=False)).scalar_one()
        locked_until = None
        if consecutive >= self.lockout_threshold:
            # Still under this transaction's row lock: nobody counted in between.
            locked_until = now + self.lockout
            db.session.execute(update(Account).where(Account.id == account.id)
                               .values(status=AccountStatus.LOCKED.value, locked_until=locked_until,
                                       failed_logins=0)
                               .execution_options(synchronize_session=False))
        db.session.commit()
        events.record(tag, subject=account, actor=actor,
                      details={"reason": "password", "consecutive": consecutive}, now=now)
        if locked_until is not None:
            events.record("account:account:lockout", subject=account,
                          details={"until": locked_until.isoformat()}, now=now)
        db.session.commit()

    # -- re-confirmation in a live session ----------------------------------------------------
    def confirm_password(self, account: Account, password: str, *, now) -> None:
        """Check the password of a logged-in person before a sensitive change (second factor,
        passkeys, certificates, password change), in the login's order: rate limit → lockout →
        verify → rehash → event. Failures count toward the same lockout as logins, so a stolen
        session cannot guess the password. Raises :class:`LoginFailed` (reason ``rate_limited``,
        ``locked`` or ``password``)."""
        tag = "account:password:confirm_failure"
        password = (password or "")[:1025]
        if not self._within_confirm_limit(account):
            events.record(tag, subject=account, actor=account, details={"reason": "rate_limited"}, now=now)
            db.session.commit()
            raise LoginFailed("rate_limited", account)
        locked = self._is_locked(account, now)
        if locked or len(password) > 1024 or account.status == AccountStatus.DISABLED.value:
            self.passwords.burn(password[:1024])
            reason = "locked" if locked else "invalid"
            events.record(tag, subject=account, actor=account, details={"reason": reason}, now=now)
            db.session.commit()
            raise LoginFailed(reason, account)
        if not self.passwords.verify(account.password_hash, password):
            self._count_failure(account, now, tag=tag, actor=account)
            raise LoginFailed("password", account)
        if self.passwords.needs_rehash(account.password_hash):
            account.password_hash = self.passwords.hash(password)
            events.record("account:password:rehash", subject=account, now=now)
        account.failed_logins = 0
        if account.status == AccountStatus.LOCKED.value:  # a lockout that has run out
            account.status, account.locked_until = AccountStatus.ACTIVE.value, None
        events.record("account:password:confirm", subject=account, actor=account, now=now)
        db.session.commit()

    def _within_confirm_limit(self, account: Account) -> bool:
        """Counts this attempt against the account in the rate-limit store every process shares
        (Flask-Limiter's), under ``IDP_LOGIN_LIMIT_PER_ACCOUNT``."""
        limiter = current_app.extensions.get("idp.limiter")
        if limiter is None or not limiter.enabled:
            return True
        prefix = current_app.config.get("RATELIMIT_KEY_PREFIX", "")
        return all([limiter.limiter.hit(item, prefix, "confirm", str(account.id)) for item in self.confirm_limits])
