"""Trust anchors, intermediate CAs and local CRLs for digital-signature certificates, in the database.

A self-issued CA certificate is an anchor, any other CA certificate an intermediate; several hierarchies
live side by side (the national root in its old and new names, the Government's specialised root). They
are rows (:class:`~.models.TrustedCertificate`, :class:`~.models.TrustedCrl`) that every node reads, so
``idp trust add`` or the administration's trust page (both through :mod:`idp.admin.trust`) on any node
counts on every node within a second (:mod:`idp.versions` drops each process's parsed copy), with no
restart and nothing to copy between machines.

Files an operator put in ``keys/trust/`` (PEM, DER or ``.cer``) and ``keys/trust/crl/`` before the trust
moved into the database are imported once, when a process first reads the store or the folder changes,
and renamed ``*.imported`` so that a CA removed later does not come back.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timezone

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select
from sqlalchemy.orm import Session

from ...db import db, insert
from ...versions import VersionedCache, track
from .models import TrustedCertificate, TrustedCrl

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
    name: str
    anchor: bool

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.certificate)


@dataclass(frozen=True)
class CrlEntry:
    crl: x509.CertificateRevocationList
    name: str


track(TrustedCertificate, "trust")
track(TrustedCrl, "trust")


def issuer_key(crl: x509.CertificateRevocationList) -> str:
    return hashlib.sha256(crl.issuer.public_bytes()).hexdigest()


class TrustStore:
    """The trusted CA certificates and CRLs, parsed once per process and dropped when any node changes them.

    Changes are made in the caller's transaction (the caller records the event and commits): they count
    here at the commit and on other nodes at their next check of :mod:`idp.versions`."""

    def __init__(self, folder: str, versions=None):
        self.folder = folder  # the legacy folder, imported once
        self.crl_folder = os.path.join(folder, "crl")
        self._cache = VersionedCache(versions, "trust") if versions is not None else None
        self._lock = threading.Lock()
        self._folder_stamp = None

    # -- reading --------------------------------------------------------------------------
    def _parsed(self):
        self._import_folder()
        if self._cache is None:
            return self._load("all")
        return self._cache.get("all", self._load)

    @staticmethod
    def _load(_key) -> tuple[list[TrustEntry], list[CrlEntry]]:
        with Session(db.engine) as session:
            certificates = session.execute(select(TrustedCertificate.der, TrustedCertificate.name,
                                                  TrustedCertificate.anchor)).all()
            crls = session.execute(select(TrustedCrl.der, TrustedCrl.issuer_key)).all()
        entries = [TrustEntry(x509.load_der_x509_certificate(der), name, anchor) for der, name, anchor in certificates]
        return entries, [CrlEntry(load_crl(der), key[:16] + ".crl") for der, key in crls]

    def entries(self) -> list[TrustEntry]:
        return list(self._parsed()[0])

    def anchors(self) -> list[x509.Certificate]:
        return [e.certificate for e in self.entries() if e.anchor]

    def intermediates(self) -> list[x509.Certificate]:
        return [e.certificate for e in self.entries() if not e.anchor]

    def crl_entries(self) -> list[CrlEntry]:
        return list(self._parsed()[1])

    def local_crls(self) -> list[x509.CertificateRevocationList]:
        return [e.crl for e in self.crl_entries()]

    # -- administration (in the caller's transaction) -----------------------------------------
    def add(self, data: bytes, name_hint: str = "") -> list[TrustEntry]:
        """Trust the CA certificates in ``data`` (PEM, one or more, or DER). All or nothing: a certificate
        that is not a CA, or is trusted already, refuses the whole file."""
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
        added = [TrustEntry(cert, _name(cert, name_hint), is_self_issued(cert)) for cert in certificates]
        for entry in added:
            db.session.add(TrustedCertificate(fingerprint=entry.fingerprint, anchor=entry.anchor, name=entry.name,
                                              der=entry.certificate.public_bytes(serialization.Encoding.DER),
                                              added_at=_now()))
        db.session.flush()
        return added

    def add_crl(self, data: bytes) -> CrlEntry:
        """Keep a CRL (PEM or DER), one per issuer: a newer CRL replaces the older."""
        crl = load_crl(data)
        try:
            key = issuer_key(crl)
            der = crl.public_bytes(serialization.Encoding.DER)
        except ValueError:
            raise TrustError("not_crl", "not a CRL (PEM or DER)") from None
        row = db.session.get(TrustedCrl, key)
        if row is None:
            db.session.add(TrustedCrl(issuer_key=key, der=der, added_at=_now()))
        else:
            row.der, row.added_at = der, _now()
        db.session.flush()
        return CrlEntry(crl, key[:16] + ".crl")

    def remove(self, prefix: str) -> list[TrustEntry]:
        """Stop trusting the anchor or intermediate whose fingerprint starts with ``prefix`` (8+ hex digits)."""
        prefix = prefix.lower().replace(":", "")
        if not re.fullmatch(r"[0-9a-f]{8,64}", prefix):
            raise TrustError("fingerprint", "give at least 8 hex digits of the SHA-256 fingerprint")
        matches = [e for e in self.entries() if e.fingerprint.startswith(prefix)]
        if len({e.fingerprint for e in matches}) > 1:
            raise TrustError("ambiguous", "several certificates match; give more digits")
        for entry in matches:
            row = db.session.get(TrustedCertificate, entry.fingerprint)
            if row is not None:
                db.session.delete(row)
        db.session.flush()
        return matches

    # -- the legacy folder ----------------------------------------------------------------------
    def _import_folder(self) -> None:
        """Import the files of ``keys/trust/`` (and ``crl/``) once, in a transaction of their own."""
        stamp = _stamp(self.folder, self.crl_folder)
        if stamp == self._folder_stamp:
            return
        with self._lock:
            imported = []
            with Session(db.engine) as session:
                for path in stamp:
                    try:
                        with open(path[0], "rb") as fh:
                            data = fh.read(MAX_CRL_BYTES + 1)
                        self._import_file(session, path[0], data)
                        imported.append(path[0])
                    except (TrustError, OSError, ValueError) as exc:
                        log.warning("trust: %s ignored: %s", path[0], exc)
                session.commit()
            for path in imported:
                try:
                    os.replace(path, path + ".imported")
                except OSError as exc:
                    log.warning("trust: %s imported but could not be renamed: %s", path, exc)
            self._folder_stamp = _stamp(self.folder, self.crl_folder)
            if imported and self._cache is not None:
                self._cache.clear()

    def _import_file(self, session, path: str, data: bytes) -> None:
        now = _now()
        if os.path.dirname(path) == self.crl_folder:
            crl = load_crl(data)
            values = {"issuer_key": issuer_key(crl), "der": crl.public_bytes(serialization.Encoding.DER),
                      "added_at": now}
            session.execute(insert(TrustedCrl.__table__, session).values(**values)
                            .on_conflict_do_update(index_elements=["issuer_key"], set_=values))
            return
        for cert in load_certificates(data):
            if not is_ca(cert):
                log.warning("trust: %s holds a certificate that is not a CA; ignored", path)
                continue
            session.execute(insert(TrustedCertificate.__table__, session).values(
                fingerprint=fingerprint(cert), der=cert.public_bytes(serialization.Encoding.DER),
                anchor=is_self_issued(cert), name=_name(cert, path), added_at=now).on_conflict_do_nothing())
        _bump_trust(session)


def _bump_trust(session) -> None:
    """Bulk inserts are not seen by :mod:`idp.versions`' flush hook: bump the trust counter by hand."""
    from ...versions import CacheVersion
    table = CacheVersion.__table__
    session.execute(insert(table, session).values(name="trust", version=1).on_conflict_do_update(
        index_elements=[table.c.name], set_={"version": table.c.version + 1}))


def _stamp(*folders) -> tuple:
    found = []
    for folder in folders:
        suffixes = CRL_SUFFIXES if folder.endswith("crl") else CERT_SUFFIXES
        try:
            with os.scandir(folder) as it:
                for item in it:
                    if item.is_file() and item.name.lower().endswith(suffixes):
                        info = item.stat()
                        found.append((item.path, info.st_mtime_ns, info.st_size))
        except (FileNotFoundError, NotADirectoryError):
            continue
    return tuple(sorted(found))


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _name(cert: x509.Certificate, hint: str) -> str:
    base = re.sub(r"[^A-Za-z0-9_-]+", "-", os.path.splitext(os.path.basename(hint))[0]).strip("-")[:40]
    return (base + "-" if base else "") + fingerprint(cert)[:16] + ".pem"
