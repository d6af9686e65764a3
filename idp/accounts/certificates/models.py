"""Storage for digital-signature certificates: bindings, one-time challenges, revocation answers, and the
trusted CAs and CRLs (:mod:`.trust_store`)."""
from __future__ import annotations

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, LargeBinary, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ...db import UTCDateTime, db


class BoundCertificate(db.Model):
    """A certificate whose key the account holder proved to hold; one certificate, one account.

    ``thumbprint`` is the RFC 8705 ``x5t#S256`` value: base64url SHA-256 of the DER certificate.
    """

    __tablename__ = "certificates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False, index=True)
    thumbprint: Mapped[str] = mapped_column(String(43), nullable=False, unique=True)
    der = mapped_column(LargeBinary, nullable=False)
    subject: Mapped[str] = mapped_column(String(1000), nullable=False)
    issuer: Mapped[str] = mapped_column(String(1000), nullable=False)
    serial: Mapped[str] = mapped_column(String(64), nullable=False)
    not_before = mapped_column(UTCDateTime, nullable=False)
    not_after = mapped_column(UTCDateTime, nullable=False, index=True)
    identity = mapped_column(JSON, nullable=False, default=dict)
    hardware: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    # Bound on a CMND/passport number only, which an administrator confirmed (the audit event says who).
    legacy_confirmed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    created_at = mapped_column(UTCDateTime, nullable=False)
    last_used_at = mapped_column(UTCDateTime, nullable=True)
    expiry_warned_at = mapped_column(UTCDateTime, nullable=True)
    # When a login or binding was last refused because the CA says it is revoked (cleared if a later
    # check passes, e.g. a lifted hold): such a certificate is not offered for a level-3 step-up.
    revoked_at = mapped_column(UTCDateTime, nullable=True)

    account = relationship("Account")


class CertificateChallenge(db.Model):
    """A one-time challenge to sign: random, for one purpose (and account, when known), short-lived.

    Only the digest of the random part is stored; the text signed names the purpose too, so a
    signature made to log in can never bind, and the reverse.
    """

    __tablename__ = "certificate_challenges"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(20), nullable=False)
    account_id = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), nullable=True, index=True)
    created_at = mapped_column(UTCDateTime, nullable=False)
    expires_at = mapped_column(UTCDateTime, nullable=False, index=True)
    used_at = mapped_column(UTCDateTime, nullable=True)


class CertificateLogin(db.Model):
    """The certificate a TLS client-certificate login used, by the session's public ``sid``:
    tokens issued from that session are bound to it (RFC 8705 ``cnf``)."""

    __tablename__ = "certificate_logins"

    sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    thumbprint: Mapped[str] = mapped_column(String(43), nullable=False)
    created_at = mapped_column(UTCDateTime, nullable=False, index=True)


class RevocationAnswer(db.Model):
    """A fetched CRL or OCSP response, shared by every process, kept until its ``nextUpdate``."""

    __tablename__ = "certificate_revocation_cache"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of kind|url or kind|certid
    kind: Mapped[str] = mapped_column(String(4), nullable=False)  # crl | ocsp
    source: Mapped[str] = mapped_column(String(1000), nullable=False)
    body = mapped_column(LargeBinary, nullable=False)
    fetched_at = mapped_column(UTCDateTime, nullable=False)
    next_update = mapped_column(UTCDateTime, nullable=False, index=True)


class TrustedCertificate(db.Model):
    """A CA certificate MotID trusts: an anchor (self-issued) or an intermediate. In the database, so every
    node trusts the same CAs the moment one of them changes the list (:mod:`idp.versions`)."""

    __tablename__ = "trusted_certificates"

    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the DER, hex
    der = mapped_column(LargeBinary, nullable=False)
    anchor: Mapped[bool] = mapped_column(Boolean, nullable=False)
    name: Mapped[str] = mapped_column(String(120), nullable=False)  # the file it came from, for people
    added_at = mapped_column(UTCDateTime, nullable=False)


class TrustedCrl(db.Model):
    """The newest CRL an administrator gave for one issuer (a newer one replaces it)."""

    __tablename__ = "trusted_crls"

    issuer_key: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the issuer's DER name
    der = mapped_column(LargeBinary, nullable=False)
    added_at = mapped_column(UTCDateTime, nullable=False)
