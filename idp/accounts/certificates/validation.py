"""Validation of a presented digital-signature certificate (RFC 5280 §6, with cryptography's verifier).

In this order, each failure with its own reason code: parse (PEM or DER, size, the leaf picked
out of a chain in any order) → validity at the time of use → acceptable key (RSA ≥ 2048 bits,
ECDSA on P-256 or a larger NIST curve) → key usage ``digitalSignature`` or ``nonRepudiation`` →
a chain to a trust anchor (``cryptography.x509.verification``: signatures, validity and CA
constraints of every certificate on the path) → revocation of every certificate below the anchor.
"""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import verification
from cryptography.x509.oid import ExtensionOID

from ... import metrics
from .revocation_status import REVOKED, UNKNOWN
from .trust_store import TrustError, is_ca, load_certificates

MAX_INPUT_BYTES = 64 * 1024
MAX_CHAIN = 8
STRONG_CURVES = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)


class CertificateRejected(ValueError):
    """A certificate (or its use) was refused; ``code`` names the reason (see :mod:`.messages`)."""

    def __init__(self, code: str, detail: str = ""):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


def thumbprint(certificate: x509.Certificate) -> str:
    """RFC 8705 §3.1 ``x5t#S256``: base64url (no padding) SHA-256 of the DER certificate."""
    raw = hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).digest()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def parse_presented(data: bytes | str) -> tuple[x509.Certificate, list[x509.Certificate]]:
    """The end-entity certificate and the others, from PEM (any order) or DER or base64 DER."""
    if isinstance(data, str):
        data = data.encode("utf-8", "replace")
    if len(data) > MAX_INPUT_BYTES:
        raise CertificateRejected("too_large")
    if data[:1] != b"\x30":  # text (PEM, or base64 DER); DER is taken byte for byte: it may end in b" " or b"\n"
        data = data.strip()
        if data and b"-----BEGIN" not in data:
            try:
                data = base64.b64decode(data, validate=False)
            except ValueError:
                raise CertificateRejected("malformed") from None
    try:
        certificates = load_certificates(data)
    except TrustError:
        raise CertificateRejected("malformed") from None
    if not certificates or len(certificates) > MAX_CHAIN:
        raise CertificateRejected("malformed")
    leaves = [c for c in certificates if not is_ca(c)]
    if len(leaves) != 1:
        raise CertificateRejected("malformed", "expected exactly one end-entity certificate")
    return leaves[0], [c for c in certificates if c is not leaves[0]]


@dataclass
class ValidCertificate:
    certificate: x509.Certificate
    chain: list[x509.Certificate]
    thumbprint: str
    hardware: bool
    revocation: list[str] = field(default_factory=list)


def check_key(certificate: x509.Certificate) -> None:
    key = certificate.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < 2048:
            raise CertificateRejected("weak_key", f"RSA {key.key_size}")
    elif isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, STRONG_CURVES):
            raise CertificateRejected("weak_key", key.curve.name)
    else:
        raise CertificateRejected("weak_key", type(key).__name__)


def check_key_usage(certificate: x509.Certificate) -> None:
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        raise CertificateRejected("key_usage", "no key usage") from None
    if not (usage.digital_signature or usage.content_commitment):
        raise CertificateRejected("key_usage")


class CertificateValidator:
    def __init__(self, trust, revocation, config):
        self.trust = trust
        self.revocation = revocation
        self.hardware_policies = {oid.strip() for oid in config["IDP_CERT_HARDWARE_POLICIES"].split(",")
                                  if oid.strip()}

    def validate(self, certificate: x509.Certificate, presented: list[x509.Certificate], now) -> ValidCertificate:
        try:
            valid = self._validate(certificate, presented, now)
        except CertificateRejected as exc:
            metrics.count("certificate_checks", result=exc.code)
            raise
        metrics.count("certificate_checks", result="valid")
        return valid

    def _validate(self, certificate, presented, now) -> ValidCertificate:
        if certificate.not_valid_after_utc < now:
            raise CertificateRejected("expired")
        if certificate.not_valid_before_utc > now:
            raise CertificateRejected("not_yet_valid")
        check_key(certificate)
        check_key_usage(certificate)
        chain = self._chain(certificate, presented, now)
        states = self._revocation(chain, now)
        return ValidCertificate(certificate, chain, thumbprint(certificate), self._hardware(certificate), states)

    def _chain(self, certificate, presented, now) -> list[x509.Certificate]:
        anchors = self.trust.anchors()
        if not anchors:
            raise CertificateRejected("untrusted", "no trust anchors configured")
        # The end entity is checked above and by the caller; the CAs by the WebPKI CA profile.
        ee_policy = verification.ExtensionPolicy.permit_all()
        ca_policy = verification.ExtensionPolicy.webpki_defaults_ca()
        verifier = (verification.PolicyBuilder().store(verification.Store(anchors)).time(now)
                    .max_chain_depth(MAX_CHAIN).extension_policies(ca_policy=ca_policy, ee_policy=ee_policy)
                    .build_client_verifier())
        try:
            return list(verifier.verify(certificate, presented[:MAX_CHAIN] + self.trust.intermediates()).chain)
        except verification.VerificationError as exc:
            raise CertificateRejected("untrusted", str(exc)[:200]) from None

    def _revocation(self, chain, now) -> list[str]:
        sources = []
        for cert, issuer in zip(chain, chain[1:]):
            status = self.revocation.status(cert, issuer, now)
            if status.state == REVOKED:
                raise CertificateRejected("revoked", f"{cert.subject.rfc4514_string()} ({status.source})")
            if status.state == UNKNOWN:
                if not self.revocation.fail_open:
                    raise CertificateRejected("revocation_unavailable", status.reason)
                sources.append("unknown:" + status.reason)
            else:
                sources.append(status.source)
        return sources

    def _hardware(self, certificate) -> bool:
        """``hwk`` when the certificate's policies say the key lives in a token (IDP_CERT_HARDWARE_POLICIES)."""
        if not self.hardware_policies:
            return False
        try:
            policies = certificate.extensions.get_extension_for_oid(ExtensionOID.CERTIFICATE_POLICIES).value
        except x509.ExtensionNotFound:
            return False
        return any(p.policy_identifier.dotted_string in self.hardware_policies for p in policies)
