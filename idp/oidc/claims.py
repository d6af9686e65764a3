"""Claims released per scope (OIDC Core §5.1, §5.4) and the ``claims`` request parameter (§5.5).

MotID's own scopes: ``citizen_id`` (the 12-digit number, only after explicit consent), ``business``
(tax code and business name) and ``officer`` (unit, position, roles).
"""
from __future__ import annotations

import json

from ..accounts import assurance
from .pairwise import subject_for

SCOPE_CLAIMS = {
    "profile": ("name", "family_name", "given_name", "middle_name", "birthdate", "gender", "locale", "updated_at"),
    "email": ("email", "email_verified"),
    "phone": ("phone_number", "phone_number_verified"),
    "address": ("address",),
    "citizen_id": ("citizen_id",),
    "business": ("tax_code", "business_name"),
    "officer": ("unit", "position", "roles"),
}
CLAIM_SCOPE = {claim: scope for scope, claims in SCOPE_CLAIMS.items() for claim in claims}
CLAIMS_SUPPORTED = ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid", "azp",
                    "at_hash"] + list(CLAIM_SCOPE)


class InvalidClaimsRequest(ValueError):
    pass


def parse_claims_parameter(raw) -> dict | None:
    """The ``claims`` parameter as {"id_token": {...}, "userinfo": {...}}; None when absent."""
    if raw in (None, ""):
        return None
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        raise InvalidClaimsRequest("claims is not valid JSON") from None
    if not isinstance(value, dict):
        raise InvalidClaimsRequest("claims must be a JSON object")
    parsed = {}
    for target in ("id_token", "userinfo"):
        members = value.get(target)
        if members is None:
            continue
        if not isinstance(members, dict) or not all(m is None or isinstance(m, dict) for m in members.values()):
            raise InvalidClaimsRequest(f"claims.{target} must map claim names to null or objects")
        parsed[target] = {name: (spec or {}) for name, spec in members.items()}
    return parsed


def scopes_for_claims(claims_request: dict | None) -> set[str]:
    """The scopes whose claims the ``claims`` parameter asks for (they need consent too)."""
    scopes = set()
    for members in (claims_request or {}).values():
        scopes.update(CLAIM_SCOPE[name] for name in members if name in CLAIM_SCOPE)
    return scopes


def _split_name(full_name: str) -> tuple[str, str, str]:
    """Vietnamese order: family name first, given name last, middle names between."""
    parts = full_name.split()
    if len(parts) == 1:
        return "", "", parts[0]
    return parts[0], " ".join(parts[1:-1]), parts[-1]


def account_claims(account, client_id: str | None = None, *, officer: bool = True, acr: str | None = None) -> dict:
    """Every claim MotID can state about an account (filtered by scope before release).

    ``roles``: the global roles, and the roles defined for ``client_id`` (no other application's), each
    only if ``acr`` — the level of the authentication the token comes from — meets the role's
    ``min_acr``. Without ``acr``, roles that require a level are left out (fail closed)."""
    family, middle, given = _split_name(account.full_name)
    claims = {
        "name": account.full_name, "family_name": family, "given_name": given, "middle_name": middle or None,
        "birthdate": account.birthdate.isoformat() if account.birthdate else None,
        "gender": account.gender, "locale": account.locale,
        "updated_at": int(account.updated_at.timestamp()) if account.updated_at else None,
        "email": account.email, "email_verified": bool(account.email_verified) if account.email else None,
        "phone_number": account.phone,
        "phone_number_verified": bool(account.phone_verified) if account.phone else None,
        "address": account.address or None,
        "citizen_id": account.citizen_id,
        "tax_code": account.tax_code, "business_name": account.business_name,
        "position": account.position,
    }
    if not officer:  # unit and roles cost two more queries: only when the officer claims are released
        return claims
    if account.unit is not None:
        claims["unit"] = {"code": account.unit.code, "code_list": account.unit.code_list, "name": account.unit.name}
    roles = sorted(grant.role.code for grant in account.roles if grant.role.client_id in (None, client_id)
                   and assurance.satisfies(acr, grant.role.min_acr))
    if roles:
        claims["roles"] = roles
    return claims


def release(account, scopes: set[str], requested: dict | None = None, client_id: str | None = None, *,
            acr: str | None = None) -> dict:
    """Claims for ``scopes`` plus individually ``requested`` claims whose scope was granted; ``acr``: the
    grant's (see :func:`account_claims`)."""
    names = {claim for scope in scopes for claim in SCOPE_CLAIMS.get(scope, ())}
    names |= {name for name in (requested or {}) if CLAIM_SCOPE.get(name) in scopes}
    available = account_claims(account, client_id, officer=bool(names & {"unit", "roles"}), acr=acr)
    out = {"sub": subject_for(client_id, account.sub) if client_id else account.sub}
    for name in sorted(names):
        value = available.get(name)
        if value is not None:
            out[name] = value
    return out
