"""Account rules: creation, password login with lockout (:mod:`.password_checks`), registration,
verification and recovery.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from blinker import Namespace
from flask import current_app
from limits import parse_many
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from .. import events
from ..db import db, utcnow
from ..security import digest, new_token
from .identifiers import (InvalidIdentifier, login_candidates, normalize_citizen_id, normalize_email,
                          normalize_name, normalize_phone, normalize_tax_code)
from .models import Account, AccountKind, AccountStatus, AccountToken, second_factor_columns
from .password_checks import LoginFailed, PasswordChecks
from .passwords import Passwords, policy_problems

VERIFY_EMAIL = "verify_email"
RESET_PASSWORD = "reset_password"

#: Sent, inside the transaction that changes the password, when applications must lose what the
#: person granted them: ``account_id``, ``reason``, ``now`` and ``keep_sid`` (the online grants of
#: that session survive; ``None``: every grant ends, ``offline_access`` ones included). The OpenID
#: Provider listens (:mod:`idp.oidc.logout`); accounts knows nothing of who listens.
applications_revoked = Namespace().signal("applications-revoked")


class AccountError(ValueError):
    """A rule was broken; ``field`` names the input and ``code`` the message id."""

    def __init__(self, field: str, code: str):
        super().__init__(f"{field}: {code}")
        self.field = field
        self.code = code


@dataclass
class NewAccount:
    kind: str
    full_name: str
    password: str | None = None
    citizen_id: str | None = None
    tax_code: str | None = None
    business_name: str | None = None
    email: str | None = None
    phone: str | None = None
    birthdate: date | None = None
    gender: str | None = None
    email_verified: bool = False
    unit_id: int | None = None
    position: str | None = None
    locale: str = "vi"


class AccountService(PasswordChecks):
    def __init__(self, passwords: Passwords, config):
        self.passwords = passwords
        self.lockout_threshold = config["IDP_LOCKOUT_THRESHOLD"]
        self.confirm_limits = parse_many(config["IDP_LOGIN_LIMIT_PER_ACCOUNT"])
        self.lockout = timedelta(seconds=config["IDP_LOCKOUT_SECONDS"])
        self.token_lifetimes = {
            VERIFY_EMAIL: timedelta(seconds=config["IDP_EMAIL_TOKEN_SECONDS"]),
            RESET_PASSWORD: timedelta(seconds=config["IDP_RESET_TOKEN_SECONDS"]),
        }

    # -- creation ---------------------------------------------------------------------------
    def _normalized(self, new: NewAccount) -> dict:
        if new.kind not in {k.value for k in AccountKind}:
            raise AccountError("kind", "kind.invalid")
        fields = {"kind": new.kind, "birthdate": new.birthdate, "gender": new.gender,
                  "email_verified": new.email_verified, "unit_id": new.unit_id, "locale": new.locale}
        for field, value, normalize in (
            ("full_name", new.full_name, normalize_name),
            ("citizen_id", new.citizen_id, normalize_citizen_id),
            ("tax_code", new.tax_code, normalize_tax_code),
            ("business_name", new.business_name, normalize_name),
            ("email", new.email, normalize_email),
            ("phone", new.phone, normalize_phone),
            ("position", new.position, normalize_name),
        ):
            try:
                fields[field] = normalize(value) if value else None
            except InvalidIdentifier as exc:
                raise AccountError(field, str(exc)) from None
        if new.kind == AccountKind.CITIZEN.value and not fields["citizen_id"]:
            raise AccountError("citizen_id", "citizen_id.required")
        if new.kind == AccountKind.BUSINESS.value and not (fields["tax_code"] and fields["business_name"]):
            raise AccountError("tax_code", "tax_code.required")
        if not (fields["citizen_id"] or fields["email"] or fields["phone"] or fields["tax_code"]):
            raise AccountError("email", "login.identifier_required")
        return fields

    def _check_unique(self, fields: dict) -> None:
        for field in ("citizen_id", "tax_code", "email", "phone"):
            value = fields.get(field)
            if value and db.session.query(Account.id).filter(getattr(Account, field) == value).first():
                raise AccountError(field, f"{field}.taken")

    def create(self, new: NewAccount, *, actor=None, now=None, commit: bool = True) -> Account:
        """Validate, then insert one account and its event in one transaction.

        ``commit=False`` leaves the transaction open, so a batch (CSV import) commits all or nothing."""
        now = now or utcnow()
        fields = self._normalized(new)
        self._check_unique(fields)
        if new.password is not None:
            self._check_policy(new.password, fields)
        account = Account(**fields)
        if new.password is not None:
            account.password_hash = self.passwords.hash(new.password)
            account.password_changed_at = now
        db.session.add(account)
        try:
            db.session.flush()
        except IntegrityError:
            # A concurrent insert won the unique race; report it like the pre-check would.
            db.session.rollback()
            self._check_unique(fields)
            raise AccountError("email", "account.duplicate") from None
        events.record("account:account:create", subject=account, actor=actor,
                      details={"kind": account.kind}, now=now)
        if commit:
            db.session.commit()
        return account

    def _check_policy(self, password: str, fields: dict) -> None:
        problems = policy_problems(password, personal=(fields.get("citizen_id"), fields.get("phone"),
                                                       fields.get("email"), fields.get("tax_code")))
        if problems:
            raise AccountError("password", problems[0])

    # -- lookup -----------------------------------------------------------------------------
    def find_by_login(self, identifier: str) -> Account | None:
        candidates = login_candidates(identifier)
        if not candidates:
            return None
        clauses = [getattr(Account, field) == value for field, value in candidates]
        # With what the login asks next (Account.second_factor_state), in the same statement.
        found = db.session.execute(select(Account, *second_factor_columns(Account.id)).where(or_(*clauses))
                                   .order_by(Account.id).limit(1)).first()
        if found is None:
            return None
        account, has_passkey, has_role = found
        account.second_factor_flags = (has_passkey, has_role)
        return account

    def get_by_sub(self, sub: str) -> Account | None:
        return db.session.query(Account).filter_by(sub=sub).one_or_none()

    # -- administration ---------------------------------------------------------------------
    def set_status(self, account: Account, status: AccountStatus, *, actor=None, now=None) -> None:
        account.status = status.value
        account.locked_until = None
        account.failed_logins = 0
        action = {AccountStatus.ACTIVE: "enable", AccountStatus.DISABLED: "disable",
                  AccountStatus.LOCKED: "lock"}[status]
        events.record(f"account:account:{action}", subject=account, actor=actor, now=now)
        db.session.commit()

    def set_password(self, account: Account, password: str, *, actor=None, now=None,
                     tag: str = "account:password:set", end_applications: bool = False,
                     keep_sid: str | None = None) -> None:
        """Set a new password; ``end_applications`` also ends what applications were granted (every
        grant, offline ones included, but the online grants of session ``keep_sid``), in the same
        transaction."""
        now = now or utcnow()
        self._check_policy(password, {"citizen_id": account.citizen_id, "phone": account.phone,
                                      "email": account.email, "tax_code": account.tax_code})
        account.password_hash = self.passwords.hash(password)
        account.password_changed_at = now
        account.failed_logins = 0
        if account.status == AccountStatus.LOCKED.value:
            account.status, account.locked_until = AccountStatus.ACTIVE.value, None
        events.record(tag, subject=account, actor=actor or account, now=now)
        if end_applications:
            self._revoke_applications(account, "password_" + tag.rsplit(":", 1)[-1], now=now, actor=actor,
                                      keep_sid=keep_sid)
        db.session.commit()

    def end_applications(self, account: Account, reason: str, *, now, actor=None, commit: bool = True) -> None:
        """End every grant of the account, ``offline_access`` ones included (an administrator's forced
        reset: the password is gone, so is what it let applications keep). ``commit=False`` leaves it
        in the caller's transaction."""
        self._revoke_applications(account, reason, now=now, actor=actor)
        if commit:
            db.session.commit()

    def _revoke_applications(self, account: Account, reason: str, *, now, actor=None,
                             keep_sid: str | None = None) -> None:
        answers = applications_revoked.send(current_app._get_current_object(), account_id=account.id,
                                            reason=reason, now=now, keep_sid=keep_sid)
        ended = sum(value for _receiver, value in answers if isinstance(value, int))
        events.record("account:applications:revoke", subject=account, actor=actor or account,
                      details={"reason": reason, "grants": ended}, now=now)

    def change_password(self, account: Account, current: str, new: str, *, now,
                        end_offline_access: bool = False, keep_sid: str | None = None) -> None:
        """A voluntary change: the current password is re-confirmed under the login rules
        (:meth:`confirm_password`; ``LoginFailed("rate_limited")`` passes through)."""
        try:
            self.confirm_password(account, current, now=now)
        except LoginFailed as exc:
            if exc.reason == "rate_limited":
                raise
            raise AccountError("current_password", "password.wrong_current") from None
        self.set_password(account, new, now=now, tag="account:password:change",
                          end_applications=end_offline_access, keep_sid=keep_sid)

    # -- one-time link tokens ---------------------------------------------------------------
    def issue_token(self, account: Account, purpose: str, *, now, data: dict | None = None) -> str:
        token = new_token()
        db.session.add(AccountToken(digest=digest(token), purpose=purpose, account_id=account.id,
                                    created_at=now, expires_at=now + self.token_lifetimes[purpose],
                                    data=data or {}))
        events.record(f"account:{purpose}:request", subject=account, now=now)
        db.session.commit()
        return token

    def peek_token(self, token: str, purpose: str, *, now) -> AccountToken | None:
        """The live token row, without consuming it (to show the reset form)."""
        row = db.session.query(AccountToken).filter_by(digest=digest(token or ""), purpose=purpose).first()
        if row is None or row.used_at is not None or row.expires_at <= now:
            return None
        return row

    def consume_token(self, token: str, purpose: str, *, now) -> AccountToken | None:
        """Mark the token used with one conditional UPDATE; None if it is unknown, used or expired."""
        token_digest = digest(token or "")
        result = db.session.execute(
            update(AccountToken)
            .where(AccountToken.digest == token_digest, AccountToken.purpose == purpose,
                   AccountToken.used_at.is_(None), AccountToken.expires_at > now)
            .values(used_at=now)
        )
        if result.rowcount != 1:
            db.session.rollback()
            return None
        return db.session.query(AccountToken).filter_by(digest=token_digest).one()

    def verify_email(self, token: str, *, now) -> Account | None:
        row = self.consume_token(token, VERIFY_EMAIL, now=now)
        if row is None:
            db.session.commit()
            return None
        account = row.account
        if row.data.get("email") != account.email:
            db.session.rollback()
            return None
        account.email_verified = True
        events.record("account:email:verify", subject=account, now=now)
        db.session.commit()
        return account

    def reset_password(self, token: str, new_password: str, *, now) -> Account | None:
        """Set a new password from a reset link; the token is spent only if the password is accepted."""
        row = self.peek_token(token, RESET_PASSWORD, now=now)
        if row is None:
            return None
        account = row.account
        self._check_policy(new_password, {"citizen_id": account.citizen_id, "phone": account.phone,
                                          "email": account.email, "tax_code": account.tax_code})
        if self.consume_token(token, RESET_PASSWORD, now=now) is None:
            return None
        # Every other outstanding reset link dies with this one.
        db.session.execute(update(AccountToken)
                           .where(AccountToken.account_id == account.id,
                                  AccountToken.purpose == RESET_PASSWORD, AccountToken.used_at.is_(None))
                           .values(used_at=now))
        # Whoever held the old password may hold applications' refresh tokens too: they all end.
        self.set_password(account, new_password, now=now, tag="account:password:reset", end_applications=True)
        return account
