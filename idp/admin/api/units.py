"""The API's units: the tree, a new unit, one unit, its changes, a move, a merge."""
from __future__ import annotations

from .. import units
from ..etags import etag_of
from .authentication import actor
from .blueprint import bp
from .inputs import NUMBER, body, flag, if_match, parse_date
from .responses import ok


def _unit_id(value: str) -> int:
    """The path's unit id; anything that is not one is answered as an unknown unit."""
    return int(value) if NUMBER.match(value) and 0 < int(value) <= 2**31 - 1 else -1


@bp.route("/units", methods=["GET"])
def list_units():
    rows = units.listing(actor(), include_closed=flag("include_closed"))
    return ok({"items": [units.represent(u) for u in rows]})


@bp.route("/units", methods=["POST"])
def create_unit():
    data = body("UnitCreate")
    data["valid_from"] = parse_date(data.get("valid_from"), "valid_from")
    unit = units.create(actor(), data)
    return ok(units.represent(unit), 201, etag=etag_of(units.represent(unit)))


@bp.route("/units/merge", methods=["POST"])
def merge_units():
    data = body("UnitMerge")
    effective_on = parse_date(data.get("effective_on"), "effective_on")
    target = units.merge(actor(), data["sources"], data["target_id"], effective_on)
    return ok(units.represent(target))


@bp.route("/units/<unit_id>", methods=["GET"])
def read_unit(unit_id):
    unit = units.get(actor(), _unit_id(unit_id))
    return ok(units.represent(unit), etag=etag_of(units.represent(unit)))


@bp.route("/units/<unit_id>", methods=["PATCH"])
def update_unit(unit_id):
    unit = units.get(actor(), _unit_id(unit_id), action="unit.update")
    if_match(etag_of(units.represent(unit)), unit_id)
    unit = units.update_unit(actor(), unit, body("UnitPatch"))
    return ok(units.represent(unit), etag=etag_of(units.represent(unit)))


@bp.route("/units/<unit_id>/move", methods=["POST"])
def move_unit(unit_id):
    unit = units.get(actor(), _unit_id(unit_id), action="unit.move")
    data = body("UnitMove")
    unit = units.move(actor(), unit, data["parent_id"], parse_date(data.get("effective_on"), "effective_on"))
    return ok(units.represent(unit))
