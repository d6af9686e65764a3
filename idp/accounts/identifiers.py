"""Vietnamese identifiers: personal ID number, tax code, phone, email and names.

Each ``normalize_*`` returns the canonical stored form or raises :class:`InvalidIdentifier`
with a message id the views translate.
"""
from __future__ import annotations

import functools
import re
import unicodedata

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.vn import mst

# Birth-registration province codes used as the first three digits of the 12-digit personal
# identification number (Circular 07/2016/TT-BCA): a leading 0 and the pre-2025 province code.
# Numbers are permanent, so the 2025 mergers do not change this list.
PROVINCE_PREFIXES = frozenset(
    "001 002 004 006 008 010 011 012 014 015 017 019 020 022 024 025 026 027 030 031 033 034 035 036 "
    "037 038 040 042 044 045 046 048 049 051 052 054 056 058 060 062 064 066 067 068 070 072 074 075 "
    "077 079 080 082 083 084 086 087 089 091 092 093 094 095 096".split()
)

_CITIZEN_ID = re.compile(r"^\d{12}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class InvalidIdentifier(ValueError):
    """The value is not a valid identifier of its kind."""


def normalize_citizen_id(value: str) -> str:
    """A 12-digit personal identification number with a real province prefix."""
    compact = re.sub(r"[\s.-]", "", value or "")
    if not _CITIZEN_ID.match(compact):
        raise InvalidIdentifier("citizen_id.shape")
    if compact[:3] not in PROVINCE_PREFIXES:
        raise InvalidIdentifier("citizen_id.province")
    return compact


def normalize_tax_code(value: str) -> str:
    """A 10-digit enterprise tax code or a 13-digit branch code, check digit verified."""
    try:
        return mst.format(mst.validate(value or ""))
    except StdnumError:
        raise InvalidIdentifier("tax_code.invalid") from None


def normalize_phone(value: str) -> str:
    """A Vietnamese phone number in E.164 (+84…), accepting 0…, 84… and +84… input."""
    raw = (value or "").strip()
    if not raw or len(raw) > 20:
        raise InvalidIdentifier("phone.invalid")
    if raw.startswith("84") and not raw.startswith("+"):
        raw = "+" + raw
    try:
        number = phonenumbers.parse(raw, "VN")
    except phonenumbers.NumberParseException:
        raise InvalidIdentifier("phone.invalid") from None
    if number.country_code != 84 or not phonenumbers.is_valid_number(number):
        raise InvalidIdentifier("phone.invalid")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(value: str) -> str:
    try:
        info = validate_email((value or "").strip(), check_deliverability=False)
    except EmailNotValidError:
        raise InvalidIdentifier("email.invalid") from None
    return info.normalized.lower()


def normalize_name(value: str) -> str:
    """Unicode NFC, whitespace collapsed, no control characters."""
    name = unicodedata.normalize("NFC", value or "")
    if _CONTROL.search(name):
        raise InvalidIdentifier("name.invalid")
    name = " ".join(name.split())
    if not name or len(name) > 200:
        raise InvalidIdentifier("name.invalid")
    return name


@functools.lru_cache(maxsize=2048)  # the rate limiter and the lookup both ask, on every login
def login_candidates(value: str) -> tuple[tuple[str, str], ...]:
    """Every (account field, canonical value) a login identifier may name, e.g. a 10-digit
    number is both a possible phone number and a possible tax code."""
    value = (value or "").strip()
    if len(value) > 254:
        return ()
    if "@" in value:
        try:
            return (("email", normalize_email(value)),)
        except InvalidIdentifier:
            return ()
    candidates = []
    digits = re.sub(r"[\s.-]", "", value)
    if _CITIZEN_ID.match(digits):
        candidates.append(("citizen_id", digits))
    for field, normalize in (("phone", normalize_phone), ("tax_code", normalize_tax_code)):
        try:
            candidates.append((field, normalize(value)))
        except InvalidIdentifier:
            pass
    return tuple(candidates)
