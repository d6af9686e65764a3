"""Roles that applications read from tokens (the ``roles`` claim of the ``officer`` scope): global
ones, and per-application ones released only to their application. A role may require an assurance
level (``min_acr``): it is released only from an authentication at that level (idp/oidc/role_assurance.py)."""
from __future__ import annotations

import re

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from .. import events
from ..accounts import assurance
from ..accounts.models import Account, AccountRole, Role, Unit
from ..clock import now
from ..db import db
from .accounts import not_self, unit_for, who
from .authz import ADMIN_ROLES, PROVINCE_ADMIN, STAFF_KINDS, UNIT_ADMIN, Actor, ensure_admin_roles, refuse, require

CODE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,79}$")
RESERVED_PREFIX = "idp."
MIN_ACR_VALUES = (None, assurance.LOA2, assurance.LOA3)  # loa:1 is every login: no requirement


def represent(role: Role, holders: int | None = None) -> dict:
    body = {"code": role.code, "name": role.name, "description": role.description, "client_id": role.client_id,
            "min_acr": role.min_acr, "admin": role.code in ADMIN_ROLES}
    if holders is not None:
        body["holders"] = holders
    return body


def listing(actor: Actor) -> list[tuple[Role, int]]:
    require(actor, "roles.read", "role.list")
    counts = dict(db.session.execute(select(AccountRole.role_id, func.count()).group_by(AccountRole.role_id)).all())
    return [(role, counts.get(role.id, 0)) for role in db.session.scalars(select(Role).order_by(Role.code))]


def get(actor: Actor, code: str) -> Role:
    require(actor, "roles.read", "role.read")
    role = db.session.scalar(select(Role).where(Role.code == str(code)[:80]))
    if role is None:
        raise refuse(actor, "role.read", "not_found", _l("There is no such role."), status=404, target=code)
    return role


def _may_define(actor: Actor, client_id) -> bool:
    """Global roles are the province's; an application's own roles also its client managers'."""
    return actor.account is None or PROVINCE_ADMIN in actor.roles or bool(client_id)


def _check(actor: Actor, data: dict, action: str, *, creating: bool) -> dict:
    errors, values = {}, {}
    if creating:
        code = str(data.get("code") or "").strip().lower()
        if not CODE.match(code):
            errors["code"] = "field.invalid"
        elif code.startswith(RESERVED_PREFIX):
            errors["code"] = "role.reserved"
        values["code"] = code
        client_id = data.get("client_id") or None
        if client_id is not None and (not isinstance(client_id, str)
                                      or current_app.extensions["idp.clients"].get(client_id) is None):
            errors["client_id"] = "role.client_unknown"
        values["client_id"] = client_id
    for name, limit in (("name", 200), ("description", 2000)):
        if name in data or (creating and name == "name"):
            value = " ".join(str(data.get(name) or "").split()) if name == "name" else str(data.get(name) or "")
            if (name == "name" and not value) or len(value) > limit or "\x00" in value:
                errors[name] = "field.invalid" if value else "field.required"
            values[name] = value
    if "min_acr" in data:
        values["min_acr"] = data["min_acr"] or None
        if values["min_acr"] not in MIN_ACR_VALUES:
            errors["min_acr"] = "role.min_acr"
    if errors:
        raise refuse(actor, action, "invalid_input", _l("Some fields are not valid."), status=422, fields=errors)
    return values


def create(actor: Actor, data: dict) -> Role:
    action = "role.create"
    require(actor, "roles.write", action)
    values = _check(actor, data, action, creating=True)
    if not _may_define(actor, values["client_id"]):
        raise refuse(actor, action, "forbidden", _l("Only the province administrator defines global roles."))
    if db.session.scalar(select(Role.id).where(Role.code == values["code"])):
        raise refuse(actor, action, "invalid_input", _l("Some fields are not valid."), status=422,
                     fields={"code": "role.code_taken"})
    role = Role(**values)
    db.session.add(role)
    events.record("admin:role:create", actor=actor.account_id,
                  details={"role": role.code, **({"client_id": role.client_id} if role.client_id else {}),
                           **({"min_acr": role.min_acr} if role.min_acr else {})}, now=now())
    db.session.commit()
    return role


def editable(actor: Actor, role: Role) -> bool:
    """MotID's own roles are fixed; global roles are the province's (see :func:`_may_define`)."""
    return actor.can("roles.write") and role.code not in ADMIN_ROLES and _may_define(actor, role.client_id)


def check_editable(actor: Actor, role: Role, action: str = "role.update") -> None:
    require(actor, "roles.write", action)
    if not editable(actor, role):
        raise refuse(actor, action, "forbidden", _l("You are not allowed to change this role."), target=role.code)


def update(actor: Actor, role: Role, data: dict) -> Role:
    action = "role.update"
    check_editable(actor, role, action)
    unknown = [k for k in data if k not in ("name", "description", "min_acr")]
    if unknown:
        raise refuse(actor, action, "invalid_input", _l("Some fields cannot be changed here."), status=422,
                     fields={k: "field.read_only" for k in unknown})
    details = {"role": role.code}
    for name, value in _check(actor, data, action, creating=False).items():
        if name == "min_acr" and value != role.min_acr:  # who changed the level a role needs, from what
            details.update(min_acr=value, previous_min_acr=role.min_acr)
        setattr(role, name, value)
    events.record("admin:role:update", actor=actor.account_id, details=details, now=now())
    db.session.commit()
    return role


# -- holding roles ----------------------------------------------------------------------------------------------
def grant_role(actor: Actor, account: Account, role_code: str, unit_id=None) -> AccountRole:
    """Give ``account`` a role within a unit. Nobody changes their own roles; administrator roles
    are given only by the province administrator (a unit administrator may name unit
    administrators below or beside them, within their area)."""
    action = "role.grant"
    require(actor, "roles.grant", action)
    not_self(actor, account, action)
    if account.kind not in STAFF_KINDS:
        raise refuse(actor, action, "not_staff", _l("Only officers and administrators hold roles."), status=422,
                     target=account.sub)
    if role_code in ADMIN_ROLES:
        ensure_admin_roles()
    role = db.session.scalar(select(Role).where(Role.code == str(role_code)[:80]))
    if role is None:
        raise refuse(actor, action, "unknown_role", _l("There is no such role."), status=422,
                     fields={"role": "role.unknown"}, target=account.sub)
    unit_id = account.unit_id if unit_id in (None, "") else unit_id
    if role.code in ADMIN_ROLES and role.code != UNIT_ADMIN:
        if not actor.can("roles.grant_admin"):
            raise refuse(actor, action, "higher_role", _l("Only the province administrator gives administrator "
                                                           "roles."), target=account.sub, extra={"role": role.code})
        unit = db.session.get(Unit, unit_id) if isinstance(unit_id, int) else None
    else:
        if role.code == UNIT_ADMIN and actor.account is None:
            raise refuse(actor, action, "higher_role", _l("Applications cannot make administrators."),
                         target=account.sub, extra={"role": role.code})
        unit = unit_for(actor, unit_id, action, field="unit")
    existing = db.session.get(AccountRole, (account.id, role.id))
    before = existing.unit_id if existing else None
    if existing is None:
        existing = AccountRole(account_id=account.id, role_id=role.id, unit_id=unit.id if unit else None,
                               granted_at=now())
        db.session.add(existing)
    else:
        existing.unit_id = unit.id if unit else None
    events.record("admin:role:grant", subject=account, actor=actor.account_id,
                  details=who(actor, {"role": role.code, "unit_id": unit.id if unit else None,
                                       "previous_unit_id": before}), now=now())
    db.session.commit()
    db.session.expire(account, ["roles"])
    return existing


def revoke_role(actor: Actor, account: Account, role_code: str) -> None:
    action = "role.revoke"
    require(actor, "roles.grant", action)
    not_self(actor, account, action)
    grant = next((g for g in account.roles if g.role.code == role_code), None)
    if grant is None:
        raise refuse(actor, action, "unknown_role", _l("This account does not hold that role."), status=404,
                     target=account.sub)
    if role_code in ADMIN_ROLES and role_code != UNIT_ADMIN and not actor.can("roles.grant_admin"):
        raise refuse(actor, action, "higher_role", _l("Only the province administrator removes administrator "
                                                       "roles."), target=account.sub, extra={"role": role_code})
    if grant.unit_id is not None and not actor.reaches_unit(grant.unit_id, write=True):
        raise refuse(actor, action, "unit_out_of_scope", _l("This role was given in a unit outside your area."),
                     target=account.sub)
    db.session.delete(grant)
    events.record("admin:role:revoke", subject=account, actor=actor.account_id,
                  details=who(actor, {"role": role_code, "unit_id": grant.unit_id}), now=now())
    db.session.commit()
    db.session.expire(account, ["roles"])


def grantable_roles(actor: Actor) -> list[Role]:
    """The roles the actor may give: applications' and global roles first, administrator roles last."""
    roles = sorted(db.session.scalars(select(Role)), key=lambda r: (r.code in ADMIN_ROLES, r.code))
    return [r for r in roles if r.code not in ADMIN_ROLES or r.code == UNIT_ADMIN or actor.can("roles.grant_admin")]
