"""The API's roles: the list, a new role, one role and its changes."""
from __future__ import annotations

from .. import roles
from ..etags import etag_of
from .authentication import actor
from .blueprint import bp
from .inputs import body, if_match
from .responses import ok


@bp.route("/roles", methods=["GET"])
def list_roles():
    return ok({"items": [roles.represent(r, n) for r, n in roles.listing(actor())]})


@bp.route("/roles", methods=["POST"])
def create_role():
    role = roles.create(actor(), body("RoleCreate"))
    return ok(roles.represent(role), 201, etag=etag_of(roles.represent(role)))


@bp.route("/roles/<code>", methods=["GET"])
def read_role(code):
    role = roles.get(actor(), code)
    return ok(roles.represent(role), etag=etag_of(roles.represent(role)))


@bp.route("/roles/<code>", methods=["PATCH"])
def update_role(code):
    role = roles.get(actor(), code)
    if_match(etag_of(roles.represent(role)), code)
    role = roles.update(actor(), role, body("RolePatch"))
    return ok(roles.represent(role), etag=etag_of(roles.represent(role)))
