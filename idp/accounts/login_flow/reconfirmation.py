"""Password re-confirmation: what a logged-in person gives before a sensitive change, under the
login's rules (:meth:`..password_checks.PasswordChecks.confirm_password`: rate limit, lockout,
events), and the changes of the security page that need it. A mixin of :class:`.service.LoginFlow`."""
from __future__ import annotations

from flask import url_for
from flask_babel import gettext as _

from ... import events
from ...clock import now
from ...db import db
from .. import browsers
from ..models import Account
from ..password_checks import LoginFailed
from .steps import Step


class Reconfirmation:
    """Needs ``accounts`` and ``totp`` from the service."""

    def reconfirm_password(self, account: Account, password: str | None) -> bool:
        """Whether ``password`` is the account's; failures count toward the login lockout and are
        recorded (``account:password:confirm_failure``). ``LoginFailed("rate_limited")`` passes through
        (answer 429)."""
        try:
            self.accounts.confirm_password(account, password or "", now=now())
        except LoginFailed as exc:
            if exc.reason == "rate_limited":
                raise
            return False
        return True

    def turn_off_totp(self, account: Account, answers: tuple[str, str] | None) -> Step:
        """Turn the authenticator app off, given ``(password, current code)`` (None: the form did not
        validate); remembered browsers are forgotten. Problem ``rate_limited``."""
        security = url_for("accounts.security")
        try:
            proven = answers is not None and self.reconfirm_password(account, answers[0]) \
                and self.totp.verify(account, answers[1], now=now())
        except LoginFailed:
            return Step(problem="rate_limited", account=account)
        if not proven:
            events.record("account:totp:disable_failure", subject=account, actor=account, now=now())
            db.session.commit()
            return Step(location=security, notice=_("The password or the code is not correct. Nothing was changed."))
        if account.must_have_second_factor:
            return Step(location=security, notice=_("Officers and administrators must keep a second factor."))
        self.totp.disable(account, now=now())
        browsers.forget_all(account, now=now())
        return Step(location=security, notice=_("The second factor has been turned off."))

    def new_recovery_codes(self, account: Account, password: str | None) -> Step:
        """Replace the recovery codes, given the password (None: the form did not validate); ``codes``
        are the new ones. Problem ``rate_limited``."""
        try:
            confirmed = account.has_second_factor and password is not None \
                and self.reconfirm_password(account, password)
        except LoginFailed:
            return Step(problem="rate_limited", account=account)
        if not confirmed:
            return Step(location=url_for("accounts.security"), account=account,
                        notice=_("The password is not correct. Nothing was changed."))
        codes = self.totp.new_recovery_codes(account, now=now())
        db.session.commit()
        return Step(location=url_for("accounts.security"), account=account, codes=codes)
