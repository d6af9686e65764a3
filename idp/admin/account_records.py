"""What an administrator sees of an account: identifiers masked unless the actor's role needs them,
the representation the console and the API show, and the ETag that changes with anything an
administrator can change."""
from __future__ import annotations

import hashlib
import json

from ..accounts.models import Account, Unit
from .authz import Actor


def mask(value: str | None, keep_start: int = 3, keep_end: int = 2) -> str | None:
    if not value:
        return value
    if "@" in value:
        local, _, domain = value.partition("@")
        return local[:1] + "•••@" + domain
    if len(value) <= keep_start + keep_end:
        return "•" * len(value)
    return value[:keep_start] + "•" * (len(value) - keep_start - keep_end) + value[-keep_end:]


def represent(actor: Actor, account: Account, *, full: bool = True) -> dict:
    """The account as the actor may see it (identifiers masked unless their role needs them)."""
    clear = actor.sees_personal_data(account)
    shown = (lambda v: v) if clear else mask
    body = {
        "sub": account.sub, "kind": account.kind, "status": account.status, "name": account.display_name,
        "full_name": account.full_name, "business_name": account.business_name,
        "citizen_id": shown(account.citizen_id), "tax_code": shown(account.tax_code),
        "email": shown(account.email), "phone": shown(account.phone),
        "unit": unit_ref(account.unit), "position": account.position,
        "personal_data_masked": not clear,
    }
    if full:
        body.update({
            "email_verified": account.email_verified, "locale": account.locale,
            "birthdate": account.birthdate.isoformat() if clear and account.birthdate else None,
            "locked_until": account.locked_until.isoformat() if account.locked_until else None,
            "has_second_factor": account.has_second_factor,
            "roles": [{"code": g.role.code, "unit": unit_ref(g.unit), "client_id": g.role.client_id}
                      for g in sorted(account.roles, key=lambda g: g.role.code)],
            "created_at": account.created_at.isoformat(), "updated_at": account.updated_at.isoformat(),
        })
    return body


def unit_ref(unit: Unit | None) -> dict | None:
    if unit is None:
        return None
    return {"id": unit.id, "code": unit.code, "code_list": unit.code_list, "name": unit.name}


def etag(account: Account) -> str:
    """Changes whenever anything an administrator can change does."""
    state = [account.sub, account.status, account.full_name, account.email, account.phone, account.position,
             account.unit_id, account.locale, account.locked_until, account.password_changed_at,
             account.totp_enabled_at, sorted((g.role_id, g.unit_id) for g in account.roles),
             account.updated_at]
    return hashlib.sha256(json.dumps(state, default=str).encode()).hexdigest()[:32]
