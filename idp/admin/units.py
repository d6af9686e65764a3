"""The unit tree: province → agencies and communes, with official codes and the code list each
code comes from. Nothing is ever deleted: a merged unit ends (``valid_to``) and points to its
successor, its people and roles move there, and every change is kept in ``unit_changes``."""
from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select, update

from .. import events
from ..accounts.models import Account, AccountRole, Unit, UnitKind
from ..clock import now
from ..db import db
from .authz import Actor, refuse, require, subtree
from .models import UnitChange

KINDS = tuple(k.value for k in UnitKind)
FIELDS = ("code", "code_list", "name", "kind", "parent_id", "valid_from")


def represent(unit: Unit) -> dict:
    return {"id": unit.id, "code": unit.code, "code_list": unit.code_list, "name": unit.name, "kind": unit.kind,
            "parent_id": unit.parent_id, "successor_id": unit.successor_id,
            "valid_from": unit.valid_from.isoformat() if unit.valid_from else None,
            "valid_to": unit.valid_to.isoformat() if unit.valid_to else None}


def is_current(unit: Unit, today: date | None = None) -> bool:
    today = today or now().date()
    return unit.valid_to is None or unit.valid_to > today


def listing(actor: Actor, *, include_closed: bool = False) -> list[Unit]:
    require(actor, "units.read", "unit.list")
    stmt = select(Unit).order_by(Unit.code, Unit.id)
    if not include_closed:
        stmt = stmt.where(or_(Unit.valid_to.is_(None), Unit.valid_to > now().date()))
    return list(db.session.scalars(stmt))


def tree(units: list[Unit]) -> list[tuple[int, Unit]]:
    """(depth, unit) in display order: each unit under its parent."""
    by_parent: dict[int | None, list[Unit]] = {}
    ids = {u.id for u in units}
    for unit in units:
        by_parent.setdefault(unit.parent_id if unit.parent_id in ids else None, []).append(unit)
    out, stack = [], [(0, u) for u in reversed(by_parent.get(None, []))]
    while stack:
        depth, unit = stack.pop()
        out.append((depth, unit))
        stack.extend((depth + 1, child) for child in reversed(by_parent.get(unit.id, [])))
    return out


def get(actor: Actor, unit_id, action: str = "unit.read") -> Unit:
    require(actor, "units.read", action)
    unit = db.session.get(Unit, unit_id) if isinstance(unit_id, int) and not isinstance(unit_id, bool) else None
    if unit is None:
        raise refuse(actor, action, "not_found", _l("There is no such unit."), status=404, target=unit_id)
    return unit


def history(unit: Unit) -> list[UnitChange]:
    return list(db.session.scalars(select(UnitChange).where(UnitChange.unit_id == unit.id)
                                   .order_by(UnitChange.id.desc())))


def record_change(actor: Actor, unit: Unit, action: str, before, after, effective_on=None) -> None:
    db.session.add(UnitChange(unit_id=unit.id, action=action, effective_on=effective_on, changed_at=now(),
                              actor_id=actor.account_id, before=before, after=after))
    details = {"unit_id": unit.id, "code": unit.code, "code_list": unit.code_list}
    if actor.client_id:
        details["client_id"] = actor.client_id
    events.record(f"admin:unit:{action}", actor=actor.account_id, details=details, now=now())


# -- validation ----------------------------------------------------------------------------------------
def clean(data: dict, *, partial: bool = False) -> tuple[dict, dict]:
    """Checked values and errors (field → message id) for a unit's fields."""
    values, errors = {}, {}
    for field in FIELDS:
        if field not in data:
            if not partial and field in ("code", "code_list", "name", "kind"):
                errors[field] = "field.required"
            continue
        value = data[field]
        if field in ("code", "code_list", "name"):
            value = " ".join(str(value or "").split())
            limit = {"code": 20, "code_list": 30, "name": 200}[field]
            if not value:
                errors[field] = "field.required"
            elif len(value) > limit or any(ord(c) < 32 for c in value):
                errors[field] = "field.invalid"
        elif field == "kind" and value not in KINDS:
            errors[field] = "unit.kind_invalid"
        elif field == "valid_from" and value not in (None, ""):
            try:
                value = value if isinstance(value, date) else date.fromisoformat(str(value))
            except ValueError:
                errors[field] = "field.invalid_date"
        elif field == "valid_from":
            value = None
        values[field] = value
    return values, errors


def _check_parent(actor: Actor, unit: Unit | None, parent_id, action: str) -> Unit | None:
    if parent_id in (None, ""):
        return None
    parent = db.session.get(Unit, parent_id) if isinstance(parent_id, int) else None
    if parent is None or not is_current(parent):
        raise refuse(actor, action, "invalid_input", _l("The parent unit does not exist or has ended."), status=422,
                     fields={"parent_id": "unit.parent_invalid"})
    if unit is not None and parent.id in subtree({unit.id}):
        raise refuse(actor, action, "invalid_input", _l("A unit cannot be placed under itself or its own units."),
                     status=422, fields={"parent_id": "unit.cycle"})
    return parent


def _invalid(actor: Actor, action: str, errors: dict):
    return refuse(actor, action, "invalid_input", _l("Some fields are not valid."), status=422, fields=errors)


# -- changes ----------------------------------------------------------------------------------------------
def create(actor: Actor, data: dict) -> Unit:
    action = "unit.create"
    require(actor, "units.write", action)
    values, errors = clean(data)
    if errors:
        raise _invalid(actor, action, errors)
    _check_parent(actor, None, values.get("parent_id"), action)
    if db.session.scalar(select(Unit.id).where(Unit.code == values["code"], Unit.code_list == values["code_list"])):
        raise _invalid(actor, action, {"code": "unit.code_taken"})
    unit = Unit(**values)
    db.session.add(unit)
    db.session.flush()
    record_change(actor, unit, "create", None, represent(unit), values.get("valid_from"))
    db.session.commit()
    return unit


def update_unit(actor: Actor, unit: Unit, data: dict) -> Unit:
    """Rename or recode a unit (the same unit: people and roles stay)."""
    action = "unit.update"
    require(actor, "units.write", action)
    values, errors = clean({k: v for k, v in data.items() if k in ("code", "code_list", "name", "kind")},
                            partial=True)
    unknown = [k for k in data if k not in ("code", "code_list", "name", "kind")]
    errors.update({k: "field.read_only" for k in unknown})
    if errors:
        raise _invalid(actor, action, errors)
    code, code_list = values.get("code", unit.code), values.get("code_list", unit.code_list)
    if (code, code_list) != (unit.code, unit.code_list) and db.session.scalar(
            select(Unit.id).where(Unit.code == code, Unit.code_list == code_list)):
        raise _invalid(actor, action, {"code": "unit.code_taken"})
    before = represent(unit)
    for field, value in values.items():
        setattr(unit, field, value)
    if represent(unit) != before:
        record_change(actor, unit, "update", before, represent(unit))
    db.session.commit()
    return unit


def move(actor: Actor, unit: Unit, parent_id, effective_on: date | None = None) -> Unit:
    """Place a unit under another (e.g. communes under the province when districts were removed)."""
    action = "unit.move"
    require(actor, "units.write", action)
    parent = _check_parent(actor, unit, parent_id, action)
    before = represent(unit)
    unit.parent_id = parent.id if parent else None
    record_change(actor, unit, "move", {"parent_id": before["parent_id"]}, {"parent_id": unit.parent_id}, effective_on)
    db.session.commit()
    return unit


def merge(actor: Actor, sources: list, target_id, effective_on: date | None = None) -> Unit:
    """Merge ``sources`` into ``target``: the sources end on ``effective_on`` (``valid_to`` is the first
    day a unit no longer exists) and point to the target; their people, roles and child units move
    to the target now, all in one transaction."""
    action = "unit.merge"
    require(actor, "units.write", action)
    effective_on = effective_on or now().date()
    if effective_on > now().date():
        # People and roles move when the merge is entered, so it is entered once it has taken effect.
        raise _invalid(actor, action, {"effective_on": "unit.future_merge"})
    target = db.session.get(Unit, target_id) if isinstance(target_id, int) else None
    ids = [s for s in sources if isinstance(s, int) and not isinstance(s, bool)]
    units = [db.session.get(Unit, s) for s in dict.fromkeys(ids)]
    if target is None or not is_current(target):
        raise _invalid(actor, action, {"target_id": "unit.target_invalid"})
    if not units or len(ids) != len(sources) or any(u is None or not is_current(u) for u in units):
        raise _invalid(actor, action, {"sources": "unit.sources_invalid"})
    if any(target.id in subtree({u.id}) for u in units):
        raise _invalid(actor, action, {"target_id": "unit.cycle"})
    for unit in units:
        before = represent(unit)
        moved_people = db.session.execute(update(Account).where(Account.unit_id == unit.id)
                                          .values(unit_id=target.id)).rowcount
        db.session.execute(update(AccountRole).where(AccountRole.unit_id == unit.id).values(unit_id=target.id))
        db.session.execute(update(Unit).where(Unit.parent_id == unit.id, Unit.id != target.id)
                           .values(parent_id=target.id))
        unit.valid_to, unit.successor_id = effective_on, target.id
        record_change(actor, unit, "merge", before, {**represent(unit), "accounts_moved": moved_people}, effective_on)
    db.session.commit()
    return target

