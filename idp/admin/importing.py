"""Bulk creation from CSV, all or nothing: every row is checked (and the whole file inserted in one
open transaction), and only a file without a single problem is committed. The report names each
line and field, so a clerk can fix the spreadsheet and send it again."""
from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from .. import events
from ..accounts.identifiers import (InvalidIdentifier, normalize_citizen_id, normalize_email, normalize_phone)
from ..accounts.models import AccountRole, Role, Unit
from ..accounts.services import AccountError
from ..clock import now
from ..db import db
from . import csvio
from .accounts import new_officer
from .authz import ADMIN_ROLES, Actor, refuse, require
from .messages import message

OFFICER_REQUIRED = ("full_name", "unit_code")
OFFICER_OPTIONAL = ("citizen_id", "email", "phone", "position", "roles", "unit_code_list", "locale")
UNIQUE = (("citizen_id", normalize_citizen_id), ("email", normalize_email), ("phone", normalize_phone))


@dataclass
class Report:
    created: list[dict] = field(default_factory=list)
    problems: list[dict] = field(default_factory=list)
    committed: bool = False

    def as_dict(self) -> dict:
        return {"committed": self.committed, "created": self.created,
                "problems": [{"line": p["line"], "errors": {f: {"code": c, "message": str(message(c))}
                                                            for f, c in p["errors"].items()}}
                             for p in self.problems]}


def _read_csv(actor: Actor, action: str, raw: bytes, required, optional):
    """(rows, problems) of the file, or :class:`Refused` (422) when it is not a usable CSV at all."""
    try:
        return csvio.read(raw, required=required, optional=optional)
    except csvio.CsvProblem as exc:
        raise refuse(actor, action, "invalid_csv", message(exc.code), status=422,
                     fields={"file": exc.code}, extra={"problem": exc.code, "columns": exc.columns}) from None


def import_officers(actor: Actor, raw: bytes, *, dry_run: bool = False) -> Report:
    """Create every officer of the file, or none. Raises :class:`Refused` with the report on any problem."""
    action = "account.import"
    require(actor, "accounts.write", action)
    rows, problems = _read_csv(actor, action, raw, OFFICER_REQUIRED, OFFICER_OPTIONAL)
    report = Report(problems=problems)
    units = _current_units()
    roles = {role.code: role for role in db.session.scalars(select(Role))}
    seen: dict[tuple[str, str], int] = {}
    created = []
    for line, row in rows:
        errors = _check_row(actor, row, units, roles, seen, line)
        if errors:
            report.problems.append({"line": line, "errors": errors})
            continue
        data = dict(row, unit_id=_unit(row, units).id)
        try:
            account = current_app.extensions["idp.accounts"].create(new_officer(data), actor=actor.account_id,
                                                                    now=now(), commit=False)
        except AccountError as exc:
            report.problems.append({"line": line, "errors": {exc.field: exc.code}})
            continue
        created.append((line, account, _role_codes(row)))
    if report.problems:
        report.problems.sort(key=lambda p: p["line"])
        raise refuse(actor, action, "invalid_csv", _l("The file has problems; nothing was imported."), status=422,
                     fields={"report": report.as_dict()}, extra={"problem_lines": [p["line"] for p in
                                                                                  report.problems][:50]})
    for line, account, codes in created:
        for code in codes:
            db.session.add(AccountRole(account_id=account.id, role_id=roles[code].id, unit_id=account.unit_id,
                                       granted_at=now()))
        report.created.append({"line": line, "sub": account.sub})
    if dry_run:
        db.session.rollback()
        return report
    events.record("admin:account:import", actor=actor.account_id,
                  details={"count": len(created), **({"client_id": actor.client_id} if actor.client_id else {})},
                  now=now())
    db.session.commit()
    report.committed = True
    return report


def _current_units() -> dict[str, list[Unit]]:
    moment = now().date()
    by_code: dict[str, list[Unit]] = {}
    for unit in db.session.scalars(select(Unit).where(or_(Unit.valid_to.is_(None), Unit.valid_to > moment))):
        by_code.setdefault(unit.code.lower(), []).append(unit)
    return by_code


def _unit(row: dict, units) -> Unit | None:
    candidates = units.get(row.get("unit_code", "").lower(), [])
    if row.get("unit_code_list"):
        candidates = [u for u in candidates if u.code_list == row["unit_code_list"]]
    return candidates[0] if len(candidates) == 1 else None


def _role_codes(row: dict) -> list[str]:
    return list(dict.fromkeys((row.get("roles") or "").replace(";", " ").replace(",", " ").split()))


def _check_row(actor: Actor, row: dict, units, roles, seen, line: int) -> dict:
    errors = {}
    candidates = units.get(row.get("unit_code", "").lower(), [])
    if row.get("unit_code_list"):
        candidates = [u for u in candidates if u.code_list == row["unit_code_list"]]
    if not candidates:
        errors["unit_code"] = "unit.unknown"
    elif len(candidates) > 1:
        errors["unit_code"] = "unit.ambiguous"
    elif not actor.reaches_unit(candidates[0].id, write=True):
        errors["unit_code"] = "unit.out_of_scope"
    for code in _role_codes(row):
        if code not in roles:
            errors["roles"] = "role.unknown"
        elif code in ADMIN_ROLES:
            errors["roles"] = "role.admin_not_importable"
    for name, normalize in UNIQUE:
        if not row.get(name):
            continue
        try:
            key = (name, normalize(row[name]))
        except InvalidIdentifier as exc:
            errors[name] = str(exc)
            continue
        if key in seen:
            errors[name] = "row.duplicate"
        else:
            seen[key] = line
    return errors


UNIT_REQUIRED = ("code", "code_list", "name", "kind")
UNIT_OPTIONAL = ("parent_code", "parent_code_list", "valid_from")


def import_units(actor: Actor, raw: bytes, *, dry_run: bool = False) -> Report:
    """Create or update units from a code list; parents may be earlier or later rows, or units
    already stored. All or nothing, like officers."""
    from . import units as unit_rules
    action = "unit.import"
    require(actor, "units.write", action)
    rows, problems = _read_csv(actor, action, raw, UNIT_REQUIRED, UNIT_OPTIONAL)
    report = Report(problems=problems)
    stored = {(u.code, u.code_list): u for u in db.session.scalars(select(Unit))}
    seen, placed = set(), []
    for line, row in rows:
        values, errors = unit_rules.clean({k: row[k] for k in ("code", "code_list", "name", "kind")}
                                           | ({"valid_from": row["valid_from"]} if row.get("valid_from") else {}))
        key = (values.get("code"), values.get("code_list"))
        if not errors and key in seen:
            errors["code"] = "row.duplicate"
        if errors:
            report.problems.append({"line": line, "errors": errors})
            continue
        seen.add(key)
        unit = stored.get(key)
        if unit is None:
            unit = stored[key] = Unit(**values)
            db.session.add(unit)
            db.session.flush()
            unit_rules.record_change(actor, unit, "create", None, unit_rules.represent(unit), values.get("valid_from"))
            report.created.append({"line": line, "id": unit.id, "action": "create"})
        else:
            before = unit_rules.represent(unit)
            for name, value in values.items():
                setattr(unit, name, value)
            if unit_rules.represent(unit) != before:
                unit_rules.record_change(actor, unit, "update", before, unit_rules.represent(unit))
            report.created.append({"line": line, "id": unit.id, "action": "update"})
        placed.append((line, row, unit))
    for line, row, unit in placed:
        error = _place(actor, row, unit, stored, unit_rules)
        if error:
            report.problems.append({"line": line, "errors": {"parent_code": error}})
    if report.problems:
        report.problems.sort(key=lambda p: p["line"])
        raise refuse(actor, action, "invalid_csv", _l("The file has problems; nothing was imported."), status=422,
                     fields={"report": report.as_dict()})
    if dry_run:
        db.session.rollback()
        return report
    db.session.commit()
    report.committed = True
    return report


def _place(actor, row, unit, stored, unit_rules) -> str | None:
    code = row.get("parent_code")
    if not code:
        return None
    code_list = row.get("parent_code_list")
    candidates = [u for (c, cl), u in stored.items() if c == code and (cl == code_list if code_list else True)
                  and unit_rules.is_current(u)]
    if len(candidates) != 1:
        return "unit.ambiguous" if candidates else "unit.parent_invalid"
    parent = candidates[0]
    ancestor, hops = parent, 0
    while ancestor is not None and hops < 10000:
        if ancestor is unit:
            return "unit.cycle"
        ancestor, hops = ancestor.parent, hops + 1
    if unit.parent_id != parent.id:
        before = unit.parent_id
        unit.parent = parent
        db.session.flush()
        unit_rules.record_change(actor, unit, "move", {"parent_id": before}, {"parent_id": parent.id})
    return None
