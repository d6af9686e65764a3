"""The API's upstream identity providers: list, add, one provider, its changes, its removal. The client
secret is write-only (``has_secret`` says whether one is set)."""
from __future__ import annotations

from .. import upstreams
from ..etags import etag_of
from .authentication import actor
from .blueprint import bp
from .inputs import body, if_match
from .responses import ok


def _shown(provider):
    shown = upstreams.represent(provider)
    return ok(shown, etag=etag_of(shown))


@bp.route("/upstreams", methods=["GET"])
def list_upstreams():
    return ok({"items": [upstreams.represent(p) for p in upstreams.listing(actor())]})


@bp.route("/upstreams", methods=["POST"])
def add_upstream():
    shown = upstreams.represent(upstreams.create(actor(), body("UpstreamCreate")))
    return ok(shown, 201, etag=etag_of(shown))


@bp.route("/upstreams/<name>", methods=["GET"])
def read_upstream(name):
    return _shown(upstreams.get(actor(), name))


@bp.route("/upstreams/<name>", methods=["PATCH"])
def update_upstream(name):
    provider = upstreams.get(actor(), name, write=True)
    if_match(etag_of(upstreams.represent(provider)), name)
    return _shown(upstreams.update(actor(), provider, body("UpstreamPatch")))


@bp.route("/upstreams/<name>", methods=["DELETE"])
def remove_upstream(name):
    upstreams.remove(actor(), name)
    return ok({"ok": True})
