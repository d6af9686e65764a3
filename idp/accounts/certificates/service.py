"""Digital-signature certificates: bind one to an account by proof of possession, log in with it.

Proof of possession: MotID issues a one-time challenge (256 random bits, for one purpose — binding
or login — and, for binding, one account; short-lived, stored as a digest), the holder signs its
text with the certificate's key (RSA PKCS#1 v1.5 or PSS with SHA-256, or ECDSA; checked in
:mod:`.possession`), and MotID verifies that signature before anything else is believed. The
challenge is consumed by one atomic UPDATE before the signature is checked, so each challenge
allows one attempt.

Binding rules: the certificate validates (:mod:`.validation`); its ``CCCD:`` value equals the
account's personal identification number (a certificate with only ``CMND:``/``HC:`` needs an
administrator's confirmation); a business account's ``MST:`` equals its tax code; one certificate
binds to one account (unique ``x5t#S256`` thumbprint). A bound certificate that is later revoked
or expired stops working, because every login validates it again.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from ... import events
from ...db import db
from ...security import digest, new_token
from ..models import Account, AccountKind, AccountStatus
from .identity import CertificateIdentity, load_parser
from .models import BoundCertificate, CertificateChallenge, CertificateLogin
from .possession import SignedResponse, parse_response, verify_possession
from .validation import CertificateRejected, ValidCertificate, thumbprint

log = logging.getLogger(__name__)

BIND, LOGIN = "bind", "login"
CHALLENGE_PREFIX = "MotID"


def identity_problem(account: Account, identity: CertificateIdentity, *, confirm_legacy: bool) -> str | None:
    """Why this certificate may not bind to this account (a reason code), or None."""
    if account.kind == AccountKind.BUSINESS.value:
        if not identity.tax_codes:
            return "no_identity"
        return None if account.tax_code in identity.tax_codes else "identity_mismatch"
    if identity.citizen_ids:
        return None if account.citizen_id in identity.citizen_ids else "identity_mismatch"
    if identity.legacy_ids or identity.passports:
        return None if confirm_legacy else "needs_admin"
    return "no_identity"


class CertificateService:
    def __init__(self, validator, config):
        self.validator = validator
        self.challenge_ttl = timedelta(seconds=config["IDP_CERT_CHALLENGE_SECONDS"])
        self.issuer = config["IDP_ISSUER"]
        self.parse_identity = load_parser(config["IDP_CERT_IDENTITY_PARSER"])
        self.warning_days = config["IDP_CERT_EXPIRY_WARNING_DAYS"]

    # -- challenges -------------------------------------------------------------------------
    def issue_challenge(self, purpose: str, *, now, account: Account | None = None) -> str:
        nonce = new_token(32)
        db.session.execute(delete(CertificateChallenge).where(CertificateChallenge.expires_at < now - timedelta(hours=1)))
        db.session.add(CertificateChallenge(digest=digest(nonce), purpose=purpose,
                                            account_id=account.id if account else None,
                                            created_at=now, expires_at=now + self.challenge_ttl))
        db.session.commit()
        return f"{CHALLENGE_PREFIX} {purpose} {self.issuer} {nonce}"

    def consume_challenge(self, text: str, purpose: str, *, now, account: Account | None = None) -> None:
        """Spend the challenge (one atomic UPDATE); CertificateRejected("challenge") if it is not live."""
        parts = (text or "").split(" ")
        if len(parts) != 4 or parts[0] != CHALLENGE_PREFIX or parts[1] != purpose or parts[2] != self.issuer \
                or len(parts[3]) > 100:
            raise CertificateRejected("challenge", "not a challenge for this purpose")
        clauses = [CertificateChallenge.digest == digest(parts[3]), CertificateChallenge.purpose == purpose,
                   CertificateChallenge.used_at.is_(None), CertificateChallenge.expires_at > now]
        clauses.append(CertificateChallenge.account_id == account.id if account is not None
                       else CertificateChallenge.account_id.is_(None))
        spent = db.session.execute(update(CertificateChallenge).where(*clauses).values(used_at=now)).rowcount
        db.session.commit()
        if spent != 1:
            raise CertificateRejected("challenge", "unknown, expired or already used")

    def prove(self, response: SignedResponse, purpose: str, *, now, account=None) -> ValidCertificate:
        """Challenge, then signature, then the certificate itself."""
        self.consume_challenge(response.challenge, purpose, now=now, account=account)
        verify_possession(response.certificate, response.challenge.encode("utf-8"), response.signature)
        return self.validator.validate(response.certificate, response.chain, now)

    # -- binding ----------------------------------------------------------------------------
    def bind(self, account: Account, text: str, *, now, expected: str | None = None, actor=None,
             confirm_legacy: bool = False) -> BoundCertificate:
        """Bind the certificate in a signed response (``idp-sign`` output) to ``account``.

        ``expected`` is the challenge this browser was shown. Every refusal is an audit event and
        binds nothing.
        """
        response = None
        try:
            response = parse_response(text)
            if expected is not None and response.challenge != expected:
                raise CertificateRejected("challenge", "not the challenge shown")
            valid = self.prove(response, BIND, now=now, account=account)
            return self._store(account, valid, now=now, actor=actor, confirm_legacy=confirm_legacy)
        except CertificateRejected as exc:
            db.session.rollback()
            self.record_failure("account:certificate:bind_failure", exc, subject=account, actor=actor or account,
                                certificate=response.certificate if response else None, now=now)
            raise

    def _store(self, account, valid: ValidCertificate, *, now, actor, confirm_legacy) -> BoundCertificate:
        identity = self.parse_identity(valid.certificate)
        problem = identity_problem(account, identity, confirm_legacy=confirm_legacy)
        if problem is not None:
            raise CertificateRejected(problem)
        existing = self.by_thumbprint(valid.thumbprint)
        if existing is not None:
            raise CertificateRejected("already_bound" if existing.account_id == account.id else "bound_elsewhere")
        cert = valid.certificate
        row = BoundCertificate(
            account_id=account.id, thumbprint=valid.thumbprint, der=cert.public_bytes(Encoding.DER),
            subject=cert.subject.rfc4514_string()[:1000], issuer=cert.issuer.rfc4514_string()[:1000],
            serial=format(cert.serial_number, "x")[:64], not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc, identity=identity.as_dict(), hardware=valid.hardware,
            legacy_confirmed=confirm_legacy and not (identity.citizen_ids or identity.tax_codes),
            created_at=now)
        db.session.add(row)
        try:
            db.session.flush()
        except IntegrityError:  # a concurrent binding of the same certificate won the race
            db.session.rollback()
            raise CertificateRejected("bound_elsewhere") from None
        events.record("account:certificate:bind", subject=account, actor=actor or account, now=now,
                      details={"thumbprint": row.thumbprint, "issuer": row.issuer, "serial": row.serial,
                               "revocation": valid.revocation, "legacy_confirmed": row.legacy_confirmed})
        db.session.commit()
        return row

    # -- login ------------------------------------------------------------------------------
    def authenticate(self, valid: ValidCertificate, *, now) -> tuple[Account, BoundCertificate]:
        """The account a validated certificate is bound to; CertificateRejected otherwise."""
        bound = self.by_thumbprint(valid.thumbprint)
        if bound is None:
            raise CertificateRejected("not_bound")
        account = bound.account
        if account.status == AccountStatus.DISABLED.value or (
                account.status == AccountStatus.LOCKED.value and (account.locked_until is None
                                                                   or account.locked_until > now)):
            raise CertificateRejected("account_unavailable")
        bound.last_used_at, bound.revoked_at = now, None
        db.session.commit()
        return account, bound

    def login_with_signature(self, text: str, *, now, expected: str | None) -> tuple[Account, BoundCertificate]:
        response = None
        try:
            response = parse_response(text)
            if expected is None or response.challenge != expected:
                raise CertificateRejected("challenge", "not the challenge shown")
            valid = self.prove(response, LOGIN, now=now)
            return self.authenticate(valid, now=now)
        except CertificateRejected as exc:
            db.session.rollback()
            self.record_failure("account:certificate:login_failure", exc, now=now,
                                certificate=response.certificate if response else None)
            raise

    def login_with_tls(self, leaf, chain, *, now) -> tuple[Account, BoundCertificate]:
        """The TLS handshake proved possession; the certificate is validated like any other."""
        try:
            valid = self.validator.validate(leaf, chain, now)
            return self.authenticate(valid, now=now)
        except CertificateRejected as exc:
            db.session.rollback()
            self.record_failure("account:certificate:login_failure", exc, certificate=leaf, now=now,
                                extra={"path": "tls"})
            raise

    def can_log_in(self, account_id: int, *, now) -> bool:
        """Whether the account holds a bound certificate that could log in at ``now`` (so asking for level
        3 makes sense): within its validity, not found revoked by an earlier check (``revoked_at``) and
        not revoked by a local CRL. OCSP and the CAs' own CRLs are asked at the login itself."""
        rows = db.session.scalars(select(BoundCertificate).where(
            BoundCertificate.account_id == account_id, BoundCertificate.not_before <= now,
            BoundCertificate.not_after > now, BoundCertificate.revoked_at.is_(None)))
        return any(not self.validator.revocation.locally_revoked(x509.load_der_x509_certificate(row.der), now)
                   for row in rows)

    @staticmethod
    def remember_tls_login(sid: str, bound: BoundCertificate, *, now) -> None:
        row = db.session.get(CertificateLogin, sid)
        if row is None:
            db.session.add(CertificateLogin(sid=sid, thumbprint=bound.thumbprint, created_at=now))
        else:  # a step-up of the same session with a (possibly different) certificate
            row.thumbprint, row.created_at = bound.thumbprint, now
        db.session.commit()

    # -- management -------------------------------------------------------------------------
    @staticmethod
    def by_thumbprint(value: str) -> BoundCertificate | None:
        return db.session.scalars(select(BoundCertificate).where(BoundCertificate.thumbprint == value)).first()

    @staticmethod
    def of_account(account: Account) -> list[BoundCertificate]:
        return list(db.session.scalars(select(BoundCertificate).where(BoundCertificate.account_id == account.id)
                                       .order_by(BoundCertificate.created_at)))

    def remove(self, account: Account, certificate_id: int, *, now, actor=None) -> bool:
        row = db.session.get(BoundCertificate, certificate_id)
        if row is None or row.account_id != account.id:
            return False
        events.record("account:certificate:remove", subject=account, actor=actor or account, now=now,
                      details={"thumbprint": row.thumbprint, "issuer": row.issuer, "serial": row.serial})
        db.session.delete(row)
        db.session.commit()
        return True

    @staticmethod
    def removal_refused(account: Account, *, now) -> None:
        """The person asked to remove a certificate without the right password or code: recorded."""
        events.record("account:certificate:remove_failure", subject=account, actor=account, now=now)
        db.session.commit()

    def expiring(self, now) -> list[BoundCertificate]:
        """Bound certificates that expire within the warning period and were not warned about yet."""
        horizon = now + timedelta(days=self.warning_days)
        return list(db.session.scalars(select(BoundCertificate).where(
            BoundCertificate.not_after > now, BoundCertificate.not_after <= horizon,
            BoundCertificate.expiry_warned_at.is_(None)).order_by(BoundCertificate.not_after).limit(500)))

    @staticmethod
    def claim_warning(row: BoundCertificate, *, now) -> bool:
        """Take the expiry warning of ``row`` for this worker (one UPDATE, committed before the mail goes), so
        that of several workers running at once exactly one sends it."""
        claimed = db.session.execute(update(BoundCertificate).where(
            BoundCertificate.id == row.id, BoundCertificate.expiry_warned_at.is_(None))
            .values(expiry_warned_at=now)).rowcount == 1
        db.session.commit()
        return claimed

    @staticmethod
    def mark_warned(row: BoundCertificate, *, now) -> None:
        row.expiry_warned_at = now
        events.record("account:certificate:expiry_warning", subject=row.account_id, now=now,
                      details={"thumbprint": row.thumbprint, "not_after": row.not_after.isoformat()})
        db.session.commit()

    @classmethod
    def record_failure(cls, tag, exc: CertificateRejected, *, subject=None, actor=None, certificate=None, now,
                       extra: dict | None = None) -> None:
        if exc.code == "revoked" and certificate is not None:
            bound = cls.by_thumbprint(thumbprint(certificate))
            if bound is not None and bound.revoked_at is None:
                bound.revoked_at = now  # committed with the event below
        details = {"reason": exc.code, **(extra or {})}
        if exc.detail:
            details["detail"] = exc.detail[:300]
        if certificate is not None:
            details["thumbprint"] = thumbprint(certificate)
            details["issuer"] = certificate.issuer.rfc4514_string()[:300]
        events.record(tag, subject=subject, actor=actor, details=details, now=now)
        db.session.commit()



def tls_login_thumbprint(sid: str | None) -> str | None:
    """The certificate a TLS client-certificate login of this session used (for RFC 8705 binding)."""
    row = db.session.get(CertificateLogin, sid) if sid else None
    return row.thumbprint if row else None
