"""Claim-mapping profiles: what each kind of upstream sends, and how it becomes an
:class:`~.identity.UpstreamIdentity` (vietnam-context.md §1.3, §4).

- ``vneid``: the national e-ID's Keycloak realm (``sso.dancuquocgia.gov.vn``): ``SoDinhDanh``, ``HoVaTen``,
  ``NgayThangNamSinh`` (``YYYYMMDD``), ``GioiTinh``, ``acr`` ``"1"``/``"2"``, ``preferred_username`` (the
  12-digit number); organisation accounts carry their tax code in ``MaSoThue`` (assumed: no public
  specification names it).
- ``dvcqg``: the national public-service portal's SSO (WSO2): ``SoDinhDanh``, ``SoCMND``, ``HoVaTen``,
  ``GioiTinh``, ``NgayThangNamSinh``, ``ThuDienTu``, ``SoDienThoai``; ``acr`` ``LoA1``/``LoA2``.
- ``oidc``: OpenID Connect's standard claims; never more than level 1 (nobody vouched for its levels).
- ``zalo``: Zalo Login v4, OAuth 2 only: an app-scoped ``id``, ``name``, ``picture``; level 1, never a
  personal number.

A claim that is present but malformed fails the whole login (:class:`~.errors.ClaimsInvalid`).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Callable

from ..assurance import LOA1, LOA2
from ..identifiers import (InvalidIdentifier, normalize_citizen_id, normalize_email, normalize_name,
                           normalize_phone, normalize_tax_code)
from .errors import ClaimsInvalid
from .identity import UpstreamIdentity

_MARKUP = re.compile(r"[<>&\"`\\{}=;]")
_LEGACY_ID = re.compile(r"^\d{9}$")
_GENDERS = {"nam": "male", "male": "male", "nữ": "female", "nu": "female", "female": "female"}


def _text(claims: dict, name: str) -> str | None:
    value = claims.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise ClaimsInvalid(f"{name}: not a string")
    return str(value)


def _checked(claims: dict, name: str, normalize) -> str | None:
    value = _text(claims, name)
    if value is None:
        return None
    try:
        return normalize(value)
    except InvalidIdentifier as exc:
        raise ClaimsInvalid(f"{name}: {exc}") from None


def person_name(value: str | None, claim: str) -> str | None:
    """NFC, no control characters, no markup: a name goes into pages, tokens and mail."""
    if value is None:
        return None
    try:
        name = normalize_name(value)
    except InvalidIdentifier:
        raise ClaimsInvalid(f"{claim}: control characters or empty") from None
    if _MARKUP.search(name) or any(unicodedata.category(c) in ("Cf", "Co", "Cs") for c in name):
        raise ClaimsInvalid(f"{claim}: markup or invisible characters")
    return name


def birthdate(value: str | None, claim: str, today: date) -> date | None:
    """``YYYYMMDD`` (the national services) or ``YYYY-MM-DD`` (OIDC); a real date, not in the future."""
    if value is None:
        return None
    compact = value.replace("-", "") if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) else value
    if not re.fullmatch(r"\d{8}", compact):
        raise ClaimsInvalid(f"{claim}: not YYYYMMDD")
    try:
        day = date(int(compact[:4]), int(compact[4:6]), int(compact[6:]))
    except ValueError:
        raise ClaimsInvalid(f"{claim}: impossible date") from None
    if day.year < 1900 or day > today:
        raise ClaimsInvalid(f"{claim}: impossible date")
    return day


def gender(value: str | None) -> str | None:
    """``Nam``/``Nữ`` (or OIDC's words; ``1``/``2`` assumed male/female); anything else is left out."""
    if value is None:
        return None
    word = unicodedata.normalize("NFC", value).strip().lower()
    return _GENDERS.get(word) or {"1": "male", "2": "female"}.get(word)


def auth_time(claims: dict) -> datetime | None:
    value = claims.get("auth_time")
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ClaimsInvalid("auth_time: not a number of seconds")
    return datetime.fromtimestamp(value, timezone.utc)


def subject(claims: dict, claim: str = "sub") -> str:
    value = _text(claims, claim)
    if value is None or len(value) > 255 or not value.isprintable():
        raise ClaimsInvalid(f"{claim}: missing or malformed")
    return value


def _level(claims: dict, levels: dict) -> str:
    value = claims.get("acr")
    if value is None:
        return LOA1  # never more than the lowest level without the upstream saying so
    if value not in levels:
        raise ClaimsInvalid("acr: unknown level")
    return levels[value]


def map_vneid(provider: str, claims: dict, now: datetime) -> UpstreamIdentity:
    tax_code = _checked(claims, "MaSoThue", normalize_tax_code)
    citizen_id = _checked(claims, "SoDinhDanh", normalize_citizen_id) or \
        _checked(claims, "preferred_username", normalize_citizen_id)
    if citizen_id is None and tax_code is None:
        raise ClaimsInvalid("SoDinhDanh: missing")
    return UpstreamIdentity(
        provider=provider, subject=subject(claims), acr=_level(claims, {"1": LOA1, "2": LOA2}),
        auth_time=auth_time(claims), citizen_id=citizen_id, tax_code=tax_code,
        name=person_name(_text(claims, "HoVaTen"), "HoVaTen"),
        birthdate=birthdate(_text(claims, "NgayThangNamSinh"), "NgayThangNamSinh", now.date()),
        gender=gender(_text(claims, "GioiTinh")), claims=claims)


def map_dvcqg(provider: str, claims: dict, now: datetime) -> UpstreamIdentity:
    citizen_id = _checked(claims, "SoDinhDanh", normalize_citizen_id)
    legacy = _text(claims, "SoCMND")
    if legacy is not None and citizen_id is None and len(legacy) == 12:
        citizen_id, legacy = _checked(claims, "SoCMND", normalize_citizen_id), None  # a CCCD in the old field
    if legacy is not None and not _LEGACY_ID.match(legacy):
        raise ClaimsInvalid("SoCMND: not 9 digits")
    if citizen_id is None and legacy is None:
        raise ClaimsInvalid("SoDinhDanh: missing")
    return UpstreamIdentity(
        provider=provider, subject=subject(claims),
        acr=_level(claims, {"LoA1": LOA1, "LoA2": LOA2, "1": LOA1, "2": LOA2}),
        auth_time=auth_time(claims), citizen_id=citizen_id, legacy_id=legacy,
        name=person_name(_text(claims, "HoVaTen"), "HoVaTen"),
        birthdate=birthdate(_text(claims, "NgayThangNamSinh"), "NgayThangNamSinh", now.date()),
        gender=gender(_text(claims, "GioiTinh")), email=_checked(claims, "ThuDienTu", normalize_email),
        phone=_checked(claims, "SoDienThoai", normalize_phone), claims=claims)


def map_oidc(provider: str, claims: dict, now: datetime) -> UpstreamIdentity:
    email = _checked(claims, "email", normalize_email) if claims.get("email_verified") is True else None
    phone = _checked(claims, "phone_number", normalize_phone) if claims.get("phone_number_verified") is True \
        else None
    return UpstreamIdentity(
        provider=provider, subject=subject(claims), acr=LOA1, auth_time=auth_time(claims),
        name=person_name(_text(claims, "name"), "name"),
        birthdate=birthdate(_text(claims, "birthdate"), "birthdate", now.date()),
        gender=gender(_text(claims, "gender")), email=email, phone=phone, claims=claims)


def map_zalo(provider: str, claims: dict, now: datetime) -> UpstreamIdentity:
    """Zalo proves control of a Zalo account, nothing more: level 1, no personal number."""
    picture = claims.get("picture")
    url = picture.get("data", {}).get("url") if isinstance(picture, dict) else None
    return UpstreamIdentity(provider=provider, subject=subject(claims, "id"), acr=LOA1,
                            name=person_name(_text(claims, "name"), "name"),
                            picture=url if isinstance(url, str) and url.startswith("https://") else None,
                            claims=claims)


@dataclass(frozen=True)
class Profile:
    name: str
    openid: bool  # OpenID Connect (an ID token) rather than plain OAuth 2
    discovery: bool  # endpoints from the issuer's discovery document
    userinfo: bool  # fetch UserInfo (its claims complete the ID token's)
    scopes: str
    acr_values: str | None
    display_name: str
    position: int
    map: Callable[[str, dict, datetime], UpstreamIdentity]
    issuer: str | None = None
    endpoints: dict | None = None
    algorithms: tuple[str, ...] = ("RS256", "ES256")  # ID token signatures accepted: never none or HS*
    step_up: dict | None = None  # MotID level -> the acr_values that ask the upstream for it (None: cannot)


PROFILES = {
    "vneid": Profile("vneid", True, True, True, "openid profile", None, "VNeID", 0, map_vneid,
                     algorithms=("RS256",), step_up={LOA2: "2"}),
    "dvcqg": Profile("dvcqg", True, True, True, "openid", "LoA1", "Cổng Dịch vụ công quốc gia", 10, map_dvcqg,
                     algorithms=("RS256",), step_up={LOA2: "LoA2"}),
    "oidc": Profile("oidc", True, True, True, "openid profile email", None, "OpenID Connect", 50, map_oidc),
    "zalo": Profile("zalo", False, False, True, "", None, "Zalo", 90, map_zalo,
                    issuer="https://oauth.zaloapp.com",
                    endpoints={"authorization_endpoint": "https://oauth.zaloapp.com/v4/permission",
                               "token_endpoint": "https://oauth.zaloapp.com/v4/access_token",
                               "userinfo_endpoint": "https://graph.zalo.me/v2.0/me?fields=id,name,picture"}),
}
