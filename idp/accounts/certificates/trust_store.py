"""Trust anchors, intermediate CAs and local CRLs for digital-signature certificates (``keys/trust/``).

Files in ``keys/trust/`` may be PEM (one or several certificates), DER, or ``.cer`` (either); a
self-issued CA certificate is an anchor, any other CA certificate an intermediate. Several
hierarchies live side by side (the national root in its old and new names, the Government's
specialised root). CRLs, PEM or DER, go in ``keys/trust/crl/``. Every process reloads the folder
when a file in it changes, so ``idp trust add`` or the administration's trust page (both through
:mod:`idp.admin.trust`) on a node takes effect without a restart; nodes that do not share the
folder need the same files (deployment copies ``keys/trust/``).
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 1024 * 1024
MAX_CRL_BYTES = 20 * 1024 * 1024
CERT_SUFFIXES = (".pem", ".crt", ".cer", ".der")
CRL_SUFFIXES = (".crl", ".pem", ".der")


class TrustError(ValueError):
    """A trust file could not be read, is not a CA certificate, or cannot be added or removed.

    ``code`` names the reason (the administration translates it: ``trust.<code>`` in
    :mod:`idp.admin.messages`); the text is English, for logs.
    """

    def __init__(self, code: str, text: str):
        super().__init__(text)
        self.code = code


def fingerprint(certificate: x509.Certificate) -> str:
    """SHA-256 of the DER certificate, hex: how operators name an anchor."""
    return certificate.fingerprint(_sha256()).hex()


def _sha256():
    from cryptography.hazmat.primitives import hashes
    return hashes.SHA256()


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """Certificates from PEM (one or more) or DER bytes; :class:`TrustError` for anything else."""
    if len(data) > MAX_FILE_BYTES:
        raise TrustError("too_large", "file too large")
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError:
        raise TrustError("unreadable", "not an X.509 certificate (PEM or DER)") from None


def load_crl(data: bytes) -> x509.CertificateRevocationList:
    """A CRL from DER or PEM (some CAs publish PEM-armoured CRLs at their DER URL)."""
    if len(data) > MAX_CRL_BYTES:
        raise TrustError("crl_too_large", "CRL too large")
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except ValueError:
        raise TrustError("not_crl", "not a CRL (PEM or DER)") from None


def is_ca(certificate: x509.Certificate) -> bool:
    try:
        return certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except (x509.ExtensionNotFound, ValueError):  # ValueError: extensions that do not parse
        return False


def signs_certificates(certificate: x509.Certificate) -> bool:
    """RFC 5280 §4.2.1.3: a CA's key usage, when present, includes keyCertSign."""
    try:
        return certificate.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    except x509.ExtensionNotFound:
        return True
    except ValueError:
        return False


def is_self_issued(certificate: x509.Certificate) -> bool:
    return certificate.subject == certificate.issuer


def name_text(name: x509.Name) -> str:
    """RFC 4514 text of a name, for people; a name that does not parse shows as "?"."""
    try:
        return name.rfc4514_string()
    except ValueError:
        return "?"


@dataclass(frozen=True)
class TrustEntry:
    certificate: x509.Certificate
    path: str
    anchor: bool

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.certificate)


@dataclass(frozen=True)
class CrlEntry:
    crl: x509.CertificateRevocationList
    path: str


class TrustStore:
    """The CA certificates and CRLs in one folder, reloaded when the folder changes.

    Changes made here take effect at once in this process (the cached stamp is dropped) and, in
    other processes sharing the folder, at their next read (the stamp is every file's name, size
    and modification time). Files are replaced whole, so a reader never sees half of one.
    """

    def __init__(self, folder: str):
        self.folder = folder
        self.crl_folder = os.path.join(folder, "crl")
        self._lock = threading.Lock()
        self._stamp = None
        self._entries: list[TrustEntry] = []
        self._crls: list[CrlEntry] = []

    # -- reading --------------------------------------------------------------------------
    def _current_stamp(self):
        stamp = []
        for folder in (self.folder, self.crl_folder):
            try:
                with os.scandir(folder) as it:
                    for item in it:
                        try:
                            if item.is_file():
                                info = item.stat()
                                stamp.append((item.path, info.st_mtime_ns, info.st_size))
                        except FileNotFoundError:  # replaced or removed while we were listing
                            continue
            except FileNotFoundError:
                continue
        return tuple(sorted(stamp))

    def _refresh(self) -> None:
        stamp = self._current_stamp()
        if stamp == self._stamp:
            return
        with self._lock:
            entries, crls = [], []
            for path, _, _ in stamp:
                name = path.lower()
                directory = os.path.dirname(path)
                try:
                    with open(path, "rb") as fh:
                        data = fh.read(MAX_CRL_BYTES + 1)
                    if directory == self.crl_folder and name.endswith(CRL_SUFFIXES):
                        crls.append(CrlEntry(load_crl(data), path))
                    elif directory == self.folder and name.endswith(CERT_SUFFIXES):
                        for cert in load_certificates(data):
                            if is_ca(cert):
                                entries.append(TrustEntry(cert, path, is_self_issued(cert)))
                            else:
                                log.warning("trust: %s holds a certificate that is not a CA; ignored", path)
                except (TrustError, OSError) as exc:
                    log.warning("trust: %s ignored: %s", path, exc)
            self._entries, self._crls, self._stamp = entries, crls, stamp

    def entries(self) -> list[TrustEntry]:
        self._refresh()
        return list(self._entries)

    def anchors(self) -> list[x509.Certificate]:
        return [e.certificate for e in self.entries() if e.anchor]

    def intermediates(self) -> list[x509.Certificate]:
        return [e.certificate for e in self.entries() if not e.anchor]

    def crl_entries(self) -> list[CrlEntry]:
        self._refresh()
        return list(self._crls)

    def local_crls(self) -> list[x509.CertificateRevocationList]:
        return [e.crl for e in self.crl_entries()]

    # -- administration -------------------------------------------------------------------
    def add(self, data: bytes, name_hint: str = "") -> list[TrustEntry]:
        """Store the CA certificates in ``data`` (PEM, one or more, or DER), one PEM file each, named
        by fingerprint. All or nothing: a certificate that is not a CA, or is trusted already,
        refuses the whole file."""
        certificates = load_certificates(data)
        if not certificates:
            raise TrustError("empty", "no certificate found")
        known = {e.fingerprint for e in self.entries()}
        for cert in certificates:
            subject = name_text(cert.subject)
            if not is_ca(cert) or not signs_certificates(cert):
                raise TrustError("not_ca", f"{subject} is not a CA certificate")
            if fingerprint(cert) in known:
                raise TrustError("duplicate", f"{subject} is trusted already")
            known.add(fingerprint(cert))
        os.makedirs(self.folder, exist_ok=True)
        added = []
        for cert in certificates:
            path = os.path.join(self.folder, _file_name(cert, name_hint))
            _write(path, cert.public_bytes(serialization.Encoding.PEM))
            added.append(TrustEntry(cert, path, is_self_issued(cert)))
        self._stamp = None
        return added

    def add_crl(self, data: bytes) -> CrlEntry:
        """Store a CRL (PEM or DER) as DER, one file per issuer: a newer CRL replaces the older."""
        crl = load_crl(data)
        try:
            name = hashlib.sha256(crl.issuer.public_bytes()).hexdigest()[:16] + ".crl"
            der = crl.public_bytes(serialization.Encoding.DER)
        except ValueError:
            raise TrustError("not_crl", "not a CRL (PEM or DER)") from None
        os.makedirs(self.crl_folder, exist_ok=True)
        path = os.path.join(self.crl_folder, name)
        _write(path, der)
        self._stamp = None
        return CrlEntry(crl, path)

    def remove(self, prefix: str) -> list[TrustEntry]:
        """Remove the anchors or intermediates whose fingerprint starts with ``prefix`` (8+ hex digits)."""
        prefix = prefix.lower().replace(":", "")
        if not re.fullmatch(r"[0-9a-f]{8,64}", prefix):
            raise TrustError("fingerprint", "give at least 8 hex digits of the SHA-256 fingerprint")
        matches = [e for e in self.entries() if e.fingerprint.startswith(prefix)]
        if len({e.fingerprint for e in matches}) > 1:
            raise TrustError("ambiguous", "several certificates match; give more digits")
        for path in sorted({e.path for e in matches}):
            with open(path, "rb") as fh:
                remaining = [c for c in load_certificates(fh.read()) if fingerprint(c) != matches[0].fingerprint]
            if remaining:
                _write(path, b"".join(c.public_bytes(serialization.Encoding.PEM) for c in remaining))
            else:
                os.remove(path)
        self._stamp = None
        return matches


def _write(path: str, data: bytes) -> None:
    """Replace ``path`` whole: other processes re-reading the folder never load half a file (the
    temporary name has no certificate or CRL suffix, so they skip it)."""
    temporary = f"{path}.{os.getpid()}.tmp"
    with open(temporary, "wb") as fh:
        fh.write(data)
    os.replace(temporary, path)


def _file_name(cert: x509.Certificate, hint: str) -> str:
    base = re.sub(r"[^A-Za-z0-9_-]+", "-", os.path.splitext(os.path.basename(hint))[0]).strip("-")[:40]
    return (base + "-" if base else "") + fingerprint(cert)[:16] + ".pem"
