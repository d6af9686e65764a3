"""The account store: accounts, units, roles, SSO sessions and one-time link tokens."""
from __future__ import annotations

import enum

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import UTCDateTime, db, utcnow
from ..security import new_identifier


class AccountKind(str, enum.Enum):
    CITIZEN = "citizen"
    BUSINESS = "business"
    OFFICER = "officer"
    ADMIN = "admin"


class AccountStatus(str, enum.Enum):
    ACTIVE = "active"
    LOCKED = "locked"
    DISABLED = "disabled"


class UnitKind(str, enum.Enum):
    PROVINCE = "province"
    AGENCY = "agency"
    COMMUNE = "commune"


def new_sub() -> str:
    """The public OIDC subject: opaque and random, never derived from an ID number."""
    return new_identifier(24)


class Unit(db.Model):
    """A province, an agency or a commune, with its official code and the code list it comes from."""

    __tablename__ = "units"
    __table_args__ = (UniqueConstraint("code", "code_list", name="uq_units_code_code_list"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(20), nullable=False)
    code_list: Mapped[str] = mapped_column(String(30), nullable=False)  # e.g. "QĐ19/2025"
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    parent_id = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"), nullable=True, index=True)
    valid_from = mapped_column(Date, nullable=True)
    valid_to = mapped_column(Date, nullable=True)
    # Merged into (or replaced by) this unit from valid_to on; the old row stays for history.
    successor_id = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"), nullable=True, index=True)

    parent = relationship("Unit", remote_side=[id], foreign_keys=[parent_id])


class Role(db.Model):
    __tablename__ = "roles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(80), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    # None: a global role; otherwise released only to this application (OIDC client_id).
    client_id = mapped_column(String(64), nullable=True, index=True)
    # The assurance level (acr) an authentication needs for the role to reach an application: None,
    # urn:motid:loa:2 or urn:motid:loa:3 (idp/oidc/role_assurance.py).
    min_acr = mapped_column(String(40), nullable=True)


class AccountRole(db.Model):
    """A role held by an account, granted within a unit."""

    __tablename__ = "account_roles"

    account_id = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    role_id = mapped_column(ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True)
    unit_id = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"), nullable=True)
    granted_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    role = relationship("Role", lazy="joined")
    unit = relationship("Unit")


class Account(db.Model):
    __tablename__ = "accounts"
    __table_args__ = (
        # Prefix search on the folded name; pattern ops so LIKE 'x%' uses it on PostgreSQL.
        Index("ix_accounts_name_key", "name_key", postgresql_ops={"name_key": "varchar_pattern_ops"}),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sub: Mapped[str] = mapped_column(String(64), nullable=False, unique=True, default=new_sub)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    citizen_id = mapped_column(String(12), nullable=True, unique=True)
    tax_code = mapped_column(String(14), nullable=True, unique=True)
    business_name = mapped_column(String(300), nullable=True)
    email = mapped_column(String(254), nullable=True, unique=True)
    email_verified: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    phone = mapped_column(String(16), nullable=True, unique=True)
    phone_verified: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    full_name: Mapped[str] = mapped_column(String(200), nullable=False)
    birthdate = mapped_column(Date, nullable=True)
    gender = mapped_column(String(10), nullable=True)
    address = mapped_column(JSON, nullable=True)
    locale: Mapped[str] = mapped_column(String(5), nullable=False, default="vi")
    status: Mapped[str] = mapped_column(String(10), nullable=False, default=AccountStatus.ACTIVE.value)
    locked_until = mapped_column(UTCDateTime, nullable=True)
    failed_logins: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    password_hash = mapped_column(String(200), nullable=True)
    password_changed_at = mapped_column(UTCDateTime, nullable=True)
    unit_id = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"), nullable=True, index=True)
    position = mapped_column(String(200), nullable=True)
    totp_secret = mapped_column(Text, nullable=True)  # encrypted under the master key
    totp_last_step = mapped_column(Integer, nullable=True)  # the last accepted time step: no replay
    totp_enabled_at = mapped_column(UTCDateTime, nullable=True)
    name_key = mapped_column(String(300), nullable=True)  # display name folded for search (idp.admin.search)
    passkey_login: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())  # alone suffices
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = mapped_column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)

    unit = relationship("Unit")
    roles = relationship("AccountRole", cascade="all, delete-orphan")  # loaded when used: not on every lookup

    @property
    def display_name(self) -> str:
        return self.business_name or self.full_name

    passkeys = relationship("Passkey", cascade="all, delete-orphan")

    @property
    def has_second_factor(self) -> bool:
        return self.totp_secret is not None or bool(self.passkeys)

    @property
    def must_have_second_factor(self) -> bool:
        """Officers, administrators and anyone holding a role (DESIGN: officers need level 2)."""
        return self.kind in (AccountKind.OFFICER.value, AccountKind.ADMIN.value) or bool(self.roles)

    def second_factor_state(self) -> tuple[bool, bool]:
        """(:attr:`has_second_factor`, :attr:`must_have_second_factor`) in at most one query,
        without loading the passkeys or roles (the login path asks this on every password login)."""
        officer = self.kind in (AccountKind.OFFICER.value, AccountKind.ADMIN.value)
        if self.totp_secret is not None and officer:
            return True, True
        flags = getattr(self, "second_factor_flags", None)  # read with the account (AccountService.find_by_login)
        has_passkey, has_role = flags if flags is not None else \
            db.session.execute(select(*second_factor_columns(self.id))).one()
        return self.totp_secret is not None or has_passkey, officer or has_role


def second_factor_columns(account_id):
    """Whether the account has a passkey and whether it holds a role, as two EXISTS columns."""
    return (select(Passkey.id).where(Passkey.account_id == account_id).exists().label("has_passkey"),
            select(AccountRole.role_id).where(AccountRole.account_id == account_id).exists().label("has_role"))


class SsoSession(db.Model):
    """One login: the server side of the single sign-on cookie.

    ``id`` is the SHA-256 of the cookie value, so a database dump yields no usable cookie;
    ``sid`` is the public session identifier that ID tokens will carry.
    """

    __tablename__ = "sso_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    sid: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    account_id = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False, index=True)
    auth_time = mapped_column(UTCDateTime, nullable=False)
    amr = mapped_column(JSON, nullable=False)
    acr: Mapped[str] = mapped_column(String(60), nullable=False)
    ip = mapped_column(String(45), nullable=True)
    user_agent = mapped_column(String(300), nullable=True)
    created_at = mapped_column(UTCDateTime, nullable=False)
    last_seen_at = mapped_column(UTCDateTime, nullable=False)
    expires_at = mapped_column(UTCDateTime, nullable=False, index=True)
    ended_at = mapped_column(UTCDateTime, nullable=True)
    end_reason = mapped_column(String(30), nullable=True)

    account = relationship("Account", lazy="joined")


class AccountToken(db.Model):
    """A single-use, expiring link token (email verification, password reset); only its digest is stored."""

    __tablename__ = "account_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    purpose: Mapped[str] = mapped_column(String(30), nullable=False)
    account_id = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False, index=True)
    created_at = mapped_column(UTCDateTime, nullable=False)
    expires_at = mapped_column(UTCDateTime, nullable=False)
    used_at = mapped_column(UTCDateTime, nullable=True)
    data = mapped_column(JSON, nullable=False, default=dict)

    account = relationship("Account")


class RecoveryCode(db.Model):
    """A single-use second-factor recovery code; only its keyed digest is stored (:mod:`.totp`)."""

    __tablename__ = "recovery_codes"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False, index=True)
    created_at = mapped_column(UTCDateTime, nullable=False)
    used_at = mapped_column(UTCDateTime, nullable=True)


class RememberedBrowser(db.Model):
    """"Remember this browser for 30 days" after a second factor; the cookie holds the token."""

    __tablename__ = "remembered_browsers"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False, index=True)
    created_at = mapped_column(UTCDateTime, nullable=False)
    expires_at = mapped_column(UTCDateTime, nullable=False)
    revoked_at = mapped_column(UTCDateTime, nullable=True)
    user_agent = mapped_column(String(300), nullable=True)


class Passkey(db.Model):
    """A WebAuthn credential: a second factor, or on its own a phishing-resistant login."""

    __tablename__ = "passkeys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False, index=True)
    credential_id: Mapped[str] = mapped_column(String(1400), nullable=False, unique=True)  # base64url
    public_key = mapped_column(Text, nullable=False)  # base64url COSE key
    sign_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    transports = mapped_column(JSON, nullable=True)
    created_at = mapped_column(UTCDateTime, nullable=False)
    last_used_at = mapped_column(UTCDateTime, nullable=True)


class WebAuthnChallenge(db.Model):
    """The challenge of one WebAuthn ceremony (registration or authentication), kept here rather than
    in the browser's cookie, which only names it: spent by one conditional UPDATE, so a replayed
    cookie (or a race) finds it used. Keyed by the challenge's SHA-256; ``account_id`` is the account
    the ceremony is for (None: passkey-alone login, whoever holds the passkey)."""

    __tablename__ = "webauthn_challenges"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(20), nullable=False)
    account_id = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), nullable=True, index=True)
    created_at = mapped_column(UTCDateTime, nullable=False)
    expires_at = mapped_column(UTCDateTime, nullable=False, index=True)
    used_at = mapped_column(UTCDateTime, nullable=True)
