"""Time-based one-time passwords (RFC 6238, pyotp) and recovery codes.

Verification accepts one step of clock drift either way and refuses any step at or before the
last accepted one, recorded with one conditional UPDATE so two racing requests cannot both use a
code. A new secret is saved only after the person proves a code from their app.

Recovery codes carry 40 random bits: too few for a plain digest, which a database dump gives up by
trying every value. They are stored as HMAC-SHA256 under a key derived from the master key (over the
code's SHA-256, so digests stored before migration 0011 could be keyed in place): without the key, a
dump holds nothing to test a guess against. A keyed hash rather than argon2: the code is looked up
by its digest in one conditional UPDATE (single use, race-free), and a slow hash would have to be
tried against each of the account's codes on every attempt.
"""
from __future__ import annotations

import hashlib
import hmac
import io
import re
import secrets
from datetime import datetime

import pyotp
import qrcode
import qrcode.image.svg
from sqlalchemy import update

from .. import events
from ..db import db
from .models import Account, RecoveryCode

ISSUER = "MotID"
STEP = 30
RECOVERY_CODES = 10
RECOVERY_KEY_PURPOSE = "recovery-codes"
ENROL_SECRET = "totp_enrolment"  # the UI-cookie key of the secret being enrolled
_CODE = re.compile(r"^\d{6}$")


def normalize_code(value: str) -> str | None:
    """Six digits, spaces and dashes ignored; None for anything else."""
    compact = re.sub(r"[\s-]", "", value or "")
    return compact if _CODE.match(compact) else None


def account_label(account: Account) -> str:
    return account.email or account.citizen_id or account.tax_code or account.sub


def provisioning_uri(secret: str, account: Account) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account_label(account), issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The QR code as inline SVG, so no outside service ever sees the secret."""
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue().decode("utf-8").split("?>", 1)[-1].strip()


class TotpService:
    def __init__(self, master_key):
        self.master_key = master_key

    @staticmethod
    def new_secret() -> str:
        return pyotp.random_base32(32)

    def matching_step(self, secret: str, code: str, now: datetime) -> int | None:
        """The time step (±1 for drift) whose code equals ``code``."""
        totp = pyotp.TOTP(secret)
        current = int(now.timestamp()) // STEP
        for step in (current - 1, current, current + 1):
            if secrets.compare_digest(totp.at(step * STEP), code):
                return step
        return None

    def enable(self, account: Account, secret: str, code: str, *, now) -> list[str] | None:
        """Save the secret if ``code`` proves it; returns the new recovery codes, or None."""
        code = normalize_code(code)
        step = self.matching_step(secret, code, now) if code else None
        if step is None:
            return None
        account.totp_secret = self.master_key.encrypt(secret.encode())
        account.totp_last_step = step
        account.totp_enabled_at = now
        events.record("account:totp:enable", subject=account, actor=account, now=now)
        return self.new_recovery_codes(account, now=now)

    def enrolment_secret(self, account: Account, store) -> str:
        """The secret shown while ``account`` enrols, sealed under the master key in ``store`` (the
        signed UI cookie), so a reload shows the same one until a code proves it."""
        sealed = store.get(ENROL_SECRET)
        if isinstance(sealed, dict) and sealed.get("account") == account.id:
            try:
                return self.master_key.decrypt(sealed["secret"]).decode()
            except Exception:  # a stale or foreign value: start over with a new secret
                pass
        secret = self.new_secret()
        store[ENROL_SECRET] = {"account": account.id, "secret": self.master_key.encrypt(secret.encode())}
        return secret

    def enrol(self, account: Account, secret: str, code: str, *, now, store=None) -> list[str] | None:
        """:meth:`enable` and commit; the sealed secret leaves ``store``."""
        codes = self.enable(account, secret, code, now=now)
        if codes is not None:
            db.session.commit()
            if store is not None:
                store.pop(ENROL_SECRET, None)
        return codes

    def verify(self, account: Account, code: str, *, now) -> bool:
        code = normalize_code(code)
        if not code or account.totp_secret is None:
            return False
        secret = self.master_key.decrypt(account.totp_secret).decode()
        step = self.matching_step(secret, code, now)
        if step is None:
            return False
        # Consume the step atomically: a replay (or a race) finds last_step already >= step.
        claimed = db.session.execute(
            update(Account).where(Account.id == account.id,
                                  (Account.totp_last_step.is_(None)) | (Account.totp_last_step < step))
            .values(totp_last_step=step)
        ).rowcount
        db.session.commit()
        db.session.refresh(account)
        return claimed == 1

    def disable(self, account: Account, *, now, actor=None, tag="account:totp:disable") -> None:
        account.totp_secret = None
        account.totp_last_step = None
        account.totp_enabled_at = None
        db.session.query(RecoveryCode).filter_by(account_id=account.id).delete()
        events.record(tag, subject=account, actor=actor or account, now=now)
        db.session.commit()

    # -- recovery codes ---------------------------------------------------------------------
    def new_recovery_codes(self, account: Account, *, now) -> list[str]:
        """Replace every recovery code; the caller commits. Shown once, stored as digests."""
        db.session.query(RecoveryCode).filter_by(account_id=account.id).delete()
        codes = ["-".join(secrets.token_hex(3)[i:i + 3] for i in (0, 3)) + "-" + secrets.token_hex(2)
                 for _ in range(RECOVERY_CODES)]
        for code in codes:
            db.session.add(RecoveryCode(digest=self.recovery_digests(code)[0], account_id=account.id,
                                        created_at=now))
        events.record("account:recovery_codes:generate", subject=account, actor=account, now=now)
        return codes

    @staticmethod
    def _canonical(code: str) -> str:
        return re.sub(r"[\s-]", "", code or "").lower()

    def recovery_digests(self, code: str) -> list[str]:
        """What a recovery code is stored as, under each master key (the current one first)."""
        inner = hashlib.sha256(self._canonical(code).encode()).hexdigest().encode()
        return [hmac.new(key, inner, hashlib.sha256).hexdigest()
                for key in self.master_key.derive_all(RECOVERY_KEY_PURPOSE)]

    def use_recovery_code(self, account: Account, code: str, *, now) -> bool:
        canonical = self._canonical(code)
        if not canonical or len(canonical) > 32:
            return False
        used = db.session.execute(
            update(RecoveryCode).where(RecoveryCode.digest.in_(self.recovery_digests(canonical)),
                                       RecoveryCode.account_id == account.id, RecoveryCode.used_at.is_(None))
            .values(used_at=now)
        ).rowcount
        if used == 1:
            events.record("account:recovery_code:use", subject=account, actor=account, now=now)
        db.session.commit()
        return used == 1

    def remaining_recovery_codes(self, account: Account) -> int:
        return db.session.query(RecoveryCode).filter_by(account_id=account.id, used_at=None).count()
