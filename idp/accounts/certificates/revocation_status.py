"""Revocation status of a certificate: local CRLs, OCSP (RFC 6960) and fetched CRLs (RFC 5280 §5).

Order, per certificate of the chain below its anchor: a current CRL an administrator gave; the
OCSP responder named in the certificate's AIA; the CRLs at its distribution points. Fetched answers
are verified (signature by the issuer or its delegated OCSP responder, issuer name, freshness)
and kept in the database until their ``nextUpdate``, so every process shares them. When no source
answers, ``IDP_CERT_REVOCATION_FAIL_OPEN`` decides; it is off: unreachable means refused.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID
from sqlalchemy.exc import IntegrityError

from ... import net
from ...db import db
from .models import RevocationAnswer
from .trust_store import MAX_CRL_BYTES, TrustError, load_crl

log = logging.getLogger(__name__)

GOOD, REVOKED, UNKNOWN = "good", "revoked", "unknown"
MAX_OCSP_BYTES = 64 * 1024
LEEWAY = timedelta(minutes=5)


@dataclass
class Status:
    state: str            # good | revoked | unknown
    source: str = ""      # where the answer came from (for the audit log)
    reason: str = ""      # why it is unknown


def verify_signature(public_key, signature: bytes, data: bytes, hash_algorithm) -> bool:
    """A CRL's or OCSP response's signature by an RSA (PKCS#1 v1.5) or ECDSA key."""
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, data, padding.PKCS1v15(), hash_algorithm)
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, data, ec.ECDSA(hash_algorithm))
        else:
            public_key.verify(signature, data)
        return True
    except (InvalidSignature, TypeError, ValueError):
        return False


def _crl_signed_by(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> bool:
    try:
        return crl.issuer == issuer.subject and crl.is_signature_valid(issuer.public_key())
    except (TypeError, ValueError):
        return False


def _crl_status(crl, cert, now) -> str | None:
    """good/revoked from a current CRL, or None when it is stale."""
    next_update = crl.next_update_utc
    if next_update is None or next_update + LEEWAY < now or crl.last_update_utc - LEEWAY > now:
        return None
    entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    return REVOKED if entry is not None and entry.revocation_date_utc <= now + LEEWAY else GOOD


def ocsp_urls(cert: x509.Certificate) -> list[str]:
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return []
    return [d.access_location.value for d in aia if d.access_method == AuthorityInformationAccessOID.OCSP
            and isinstance(d.access_location, x509.UniformResourceIdentifier)]


def crl_urls(cert: x509.Certificate) -> list[str]:
    try:
        points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        return []
    return [name.value for point in points for name in (point.full_name or [])
            if isinstance(name, x509.UniformResourceIdentifier)]


class RevocationChecker:
    def __init__(self, trust, config):
        self.trust = trust
        self.fail_open = config["IDP_CERT_REVOCATION_FAIL_OPEN"]
        self.timeout = config["IDP_CERT_FETCH_TIMEOUT_SECONDS"]
        self.rewrites = _parse_rewrites(config["IDP_CERT_URL_REWRITES"])

    # -- the public question ----------------------------------------------------------------
    def status(self, cert: x509.Certificate, issuer: x509.Certificate, now) -> Status:
        for crl in self.trust.local_crls():
            if _crl_signed_by(crl, issuer):
                state = _crl_status(crl, cert, now)
                if state is not None:
                    return Status(state, "crl:local")
        reasons = []
        for url in ocsp_urls(cert):
            answer = self._ocsp(cert, issuer, self._rewrite(url), now)
            if answer.state != UNKNOWN:
                return answer
            reasons.append(answer.reason)
        for url in crl_urls(cert):
            answer = self._fetched_crl(cert, issuer, self._rewrite(url), now)
            if answer.state != UNKNOWN:
                return answer
            reasons.append(answer.reason)
        return Status(UNKNOWN, reason="; ".join(reasons) or "no revocation source")

    def locally_revoked(self, cert: x509.Certificate, now) -> bool:
        """Whether a current CRL given by an administrator from the certificate's issuer lists it. No network
        and no signature check: only to decide whether a certificate login is worth asking for (the
        login itself checks everything, as :meth:`status`)."""
        return any(crl.issuer == cert.issuer and _crl_status(crl, cert, now) == REVOKED
                   for crl in self.trust.local_crls())

    def _rewrite(self, url: str) -> str:
        for prefix, replacement in self.rewrites:
            if url.startswith(prefix):
                return replacement + url[len(prefix):]
        return url

    # -- OCSP -----------------------------------------------------------------------------
    def _ocsp(self, cert, issuer, url, now) -> Status:
        request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1()).build()
        key = hashlib.sha256(b"ocsp|" + request.issuer_key_hash + str(cert.serial_number).encode()).hexdigest()
        cached = self._cached(key, now)
        if cached is not None:
            state, _ = self._read_ocsp(cached, request, issuer, now)
            if state is not None:
                return Status(state, "ocsp:cache")
        if not url.startswith(("http://", "https://")):
            return Status(UNKNOWN, reason=f"ocsp {url}: not http")
        try:
            body = self._fetch("POST", url, request.public_bytes(serialization.Encoding.DER), MAX_OCSP_BYTES,
                               {"Content-Type": "application/ocsp-request", "Accept": "application/ocsp-response"})
        except (net.FetchError, ValueError) as exc:
            return Status(UNKNOWN, reason=f"ocsp {url}: {type(exc).__name__}")
        state, next_update = self._read_ocsp(body, request, issuer, now)
        if state is None:
            return Status(UNKNOWN, reason=f"ocsp {url}: invalid response")
        if state != UNKNOWN and next_update is not None:
            self._store(key, "ocsp", url, body, now, next_update)
        return Status(state, "ocsp", reason="" if state != UNKNOWN else f"ocsp {url}: unknown")

    def _read_ocsp(self, body: bytes, request, issuer, now):
        """(good|revoked|unknown, nextUpdate), or (None, None) when the response is not acceptable."""
        try:
            response = ocsp.load_der_ocsp_response(body)
        except ValueError:
            return None, None
        if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
            return None, None
        signer = self._ocsp_signer(response, issuer, now)
        if signer is None or not verify_signature(signer.public_key(), response.signature,
                                                  response.tbs_response_bytes, response.signature_hash_algorithm):
            return None, None
        for single in response.responses:
            if not (single.serial_number == request.serial_number
                    and isinstance(single.hash_algorithm, type(request.hash_algorithm))
                    and single.issuer_key_hash == request.issuer_key_hash
                    and single.issuer_name_hash == request.issuer_name_hash):
                continue
            if single.this_update_utc - LEEWAY > now:
                return None, None
            if single.next_update_utc is not None and single.next_update_utc + LEEWAY < now:
                return None, None
            state = {ocsp.OCSPCertStatus.GOOD: GOOD, ocsp.OCSPCertStatus.REVOKED: REVOKED}.get(
                single.certificate_status, UNKNOWN)
            return state, single.next_update_utc
        return None, None

    @staticmethod
    def _ocsp_signer(response, issuer, now):
        """The issuer itself, or a responder certificate it issued for OCSP signing (RFC 6960 §4.2.2.2)."""
        if response.responder_name == issuer.subject or (
                response.responder_key_hash is not None
                and response.responder_key_hash == x509.SubjectKeyIdentifier.from_public_key(
                    issuer.public_key()).digest):
            return issuer
        for candidate in response.certificates:
            try:
                candidate.verify_directly_issued_by(issuer)
                eku = candidate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
            except (InvalidSignature, ValueError, TypeError, x509.ExtensionNotFound):
                continue
            if ExtendedKeyUsageOID.OCSP_SIGNING in eku and \
                    candidate.not_valid_before_utc <= now <= candidate.not_valid_after_utc:
                return candidate
        return None

    # -- CRLs -----------------------------------------------------------------------------
    def _fetched_crl(self, cert, issuer, url, now) -> Status:
        key = hashlib.sha256(b"crl|" + url.encode()).hexdigest()
        cached = self._cached(key, now)
        if cached is not None:
            try:
                crl = load_crl(cached)
            except TrustError:
                crl = None
            if crl is not None and _crl_signed_by(crl, issuer):
                state = _crl_status(crl, cert, now)
                if state is not None:
                    return Status(state, "crl:cache")
        if not url.startswith(("http://", "https://")):
            return Status(UNKNOWN, reason=f"crl {url}: not http")
        try:
            body = self._fetch("GET", url, None, MAX_CRL_BYTES, {"Accept": "application/pkix-crl"})
            crl = load_crl(body)
        except (net.FetchError, ValueError, TrustError) as exc:
            return Status(UNKNOWN, reason=f"crl {url}: {type(exc).__name__}")
        if not _crl_signed_by(crl, issuer):
            return Status(UNKNOWN, reason=f"crl {url}: not signed by the issuer")
        state = _crl_status(crl, cert, now)
        if state is None:
            return Status(UNKNOWN, reason=f"crl {url}: out of date")
        self._store(key, "crl", url, crl.public_bytes(serialization.Encoding.DER), now, crl.next_update_utc)
        return Status(state, "crl")

    # -- plumbing -------------------------------------------------------------------------
    def _fetch(self, method: str, url: str, data, limit: int, headers: dict) -> bytes:
        """Through the guarded client: one total deadline, a size cap, global addresses only."""
        response = net.request(method, url, data=data, headers=headers, max_bytes=limit, deadline=self.timeout)
        if not response.ok:
            raise net.FetchError(f"HTTP {response.status}")
        return response.body

    @staticmethod
    def _cached(key: str, now) -> bytes | None:
        row = db.session.get(RevocationAnswer, key)
        if row is None or row.next_update + LEEWAY < now:
            return None
        return row.body

    @staticmethod
    def _store(key, kind, source, body, now, next_update) -> None:
        """Keep a verified answer until its nextUpdate; a concurrent writer may win, which is fine."""
        row = db.session.get(RevocationAnswer, key)
        if row is None:
            row = RevocationAnswer(key=key, kind=kind)
            db.session.add(row)
        row.source, row.body, row.fetched_at, row.next_update = source[:1000], body, now, next_update
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()


def _parse_rewrites(value: str) -> list[tuple[str, str]]:
    """``IDP_CERT_URL_REWRITES``: ``from=to`` URL prefixes, comma-separated."""
    pairs = []
    for item in (value or "").split(","):
        if "=" in item:
            source, target = (part.strip() for part in item.split("=", 1))
            if source and target:
                pairs.append((source, target))
    return pairs
