"""The API's signing keys: their state (read only; rotation is the console's and the CLI's)."""
from __future__ import annotations

from ...clock import now
from .. import keys
from .authentication import actor
from .blueprint import bp
from .responses import ok


@bp.route("/keys", methods=["GET"])
def list_keys():
    moment = now()
    return ok({"items": [keys.represent(k, moment) for k in keys.listing(actor())]})
