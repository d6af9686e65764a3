"""Who a Vietnamese digital-signature certificate names: the subject's UID values.

Licensed CAs put identifiers in the subject attribute UID (userId, OID 0.9.2342.19200300.100.1.1,
RFC 4519 §2.39) as ``PREFIX:number`` (``CCCD:``, ``CMND:``, ``HC:``, ``MST:``, ``MNS:``, ``BHXH:``);
the attribute may occur several times (an organisation's staff carry ``MST:`` and ``CCCD:``). See
``docs/vietnam-context.md`` §2.3–2.4. The certificate-profile circular TT 28/2025/TT-BKHCN takes
effect on 1/1/2026 and may change this convention, so this module is the one place that knows it:
``IDP_CERT_IDENTITY_PARSER`` names a replacement with the same signature as :func:`parse_subject`.
The common name is never used for identity.
"""
from __future__ import annotations

import importlib
import re
import unicodedata
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.x509.oid import NameOID

from ..identifiers import InvalidIdentifier, normalize_citizen_id, normalize_tax_code

UID = NameOID.USER_ID  # 0.9.2342.19200300.100.1.1
DEFAULT_PARSER = "idp.accounts.certificates.identity:parse_subject"

_PREFIXED = re.compile(r"^\s*([A-Za-z]{2,6})\s*[:：]\s*(.+?)\s*$")
_DIGITS = re.compile(r"^\d{9}$|^\d{12}$")


@dataclass
class CertificateIdentity:
    """The identifiers a certificate's subject carries, normalised; unknown values kept in ``other``."""

    citizen_ids: list[str] = field(default_factory=list)   # CCCD: 12-digit personal identification number
    legacy_ids: list[str] = field(default_factory=list)    # CMND: 9 (or 12) digits, needs an admin's word
    passports: list[str] = field(default_factory=list)     # HC:
    tax_codes: list[str] = field(default_factory=list)     # MST: 10 digits or NNNNNNNNNN-NNN
    budget_codes: list[str] = field(default_factory=list)  # MNS: budget-relationship unit code
    social_insurance: list[str] = field(default_factory=list)  # BHXH:
    other: list[str] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.citizen_ids or self.legacy_ids or self.passports or self.tax_codes)

    def as_dict(self) -> dict:
        return {name: list(values) for name, values in self.__dict__.items() if values}


def _text(value) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return unicodedata.normalize("NFKC", value)


def _add(identity: CertificateIdentity, prefix: str, number: str) -> None:
    compact = re.sub(r"[\s.]", "", number)
    if prefix == "CCCD":
        try:
            identity.citizen_ids.append(normalize_citizen_id(compact))
        except InvalidIdentifier:
            identity.other.append(f"CCCD:{compact}")
    elif prefix == "CMND":
        if not _DIGITS.match(compact):
            identity.other.append(f"CMND:{compact}")
        else:
            identity.legacy_ids.append(compact)
    elif prefix == "HC":
        identity.passports.append(compact.upper())
    elif prefix == "MST":
        try:
            identity.tax_codes.append(normalize_tax_code(compact))
        except InvalidIdentifier:
            identity.other.append(f"MST:{compact}")
    elif prefix == "MNS":
        identity.budget_codes.append(compact)
    elif prefix == "BHXH":
        identity.social_insurance.append(compact)
    else:
        identity.other.append(f"{prefix}:{compact}")


def parse_subject(certificate: x509.Certificate) -> CertificateIdentity:
    """Every ``UID`` value of the subject, whatever its order, case or spacing."""
    identity = CertificateIdentity()
    for attribute in certificate.subject.get_attributes_for_oid(UID):
        match = _PREFIXED.match(_text(attribute.value))
        if match is None:
            identity.other.append(_text(attribute.value)[:100])
            continue
        _add(identity, match.group(1).upper(), match.group(2))
    return identity


def load_parser(dotted: str | None):
    """The parser named ``module:function`` (``IDP_CERT_IDENTITY_PARSER``)."""
    from ...config import ConfigError
    module_name, _, attribute = (dotted or DEFAULT_PARSER).partition(":")
    try:
        return getattr(importlib.import_module(module_name), attribute or "parse_subject")
    except (ImportError, AttributeError, ValueError):
        raise ConfigError(f"IDP_CERT_IDENTITY_PARSER: cannot import {dotted!r}") from None
