"""Account rules: creation, password login with lockout, registration, verification and recovery.

Every credential check follows one order (warehouse ``check_password``): lockout → verify →
rehash → record event; every failure looks the same to the caller.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError

from .. import events
from ..db import db, utcnow
from ..security import digest, new_token
from .identifiers import (InvalidIdentifier, login_candidates, normalize_citizen_id, normalize_email,
                          normalize_name, normalize_phone, normalize_tax_code)
from .models import Account, AccountKind, AccountStatus, AccountToken
from .passwords import Passwords, policy_problems

VERIFY_EMAIL = "verify_email"
RESET_PASSWORD = "reset_password"


class AccountError(ValueError):
    """A rule was broken; ``field`` names the input and ``code`` the message id."""

    def __init__(self, field: str, code: str):
        super().__init__(f"{field}: {code}")
        self.field = field
        self.code = code


class LoginFailed(Exception):
    """Authentication failed. Deliberately carries no reason the user could see."""

    def __init__(self, reason: str, account: Account | None = None):
        super().__init__(reason)
        self.reason = reason
        self.account = account


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


class AccountService:
    def __init__(self, passwords: Passwords, config):
        self.passwords = passwords
        self.lockout_threshold = config["IDP_LOCKOUT_THRESHOLD"]
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
        return db.session.query(Account).filter(or_(*clauses)).order_by(Account.id).first()

    def get_by_sub(self, sub: str) -> Account | None:
        return db.session.query(Account).filter_by(sub=sub).one_or_none()

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

    def _count_failure(self, account: Account, now) -> None:
        account.failed_logins += 1
        events.record("account:login:failure", subject=account,
                      details={"reason": "password", "consecutive": account.failed_logins}, now=now)
        if account.failed_logins >= self.lockout_threshold:
            account.status = AccountStatus.LOCKED.value
            account.locked_until = now + self.lockout
            account.failed_logins = 0
            events.record("account:account:lockout", subject=account,
                          details={"until": account.locked_until.isoformat()}, now=now)
        db.session.commit()

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
                     tag: str = "account:password:set") -> None:
        now = now or utcnow()
        self._check_policy(password, {"citizen_id": account.citizen_id, "phone": account.phone,
                                      "email": account.email, "tax_code": account.tax_code})
        account.password_hash = self.passwords.hash(password)
        account.password_changed_at = now
        account.failed_logins = 0
        if account.status == AccountStatus.LOCKED.value:
            account.status, account.locked_until = AccountStatus.ACTIVE.value, None
        events.record(tag, subject=account, actor=actor or account, now=now)
        db.session.commit()

    def change_password(self, account: Account, current: str, new: str, *, now) -> None:
        if not self.passwords.verify(account.password_hash, current):
            events.record("account:password:change_failure", subject=account, actor=account, now=now)
            db.session.commit()
            raise AccountError("current_password", "password.wrong_current")
        self.set_password(account, new, now=now, tag="account:password:change")

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
        self.set_password(account, new_password, now=now, tag="account:password:reset")
        return account
