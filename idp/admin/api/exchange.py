"""The API's table of the services an application may obtain tokens for (RFC 8693 token exchange,
RFC 8707 resource indicators): read it, put one rule (new or changed), delete one."""
from __future__ import annotations

from .. import clients, exchange
from .authentication import actor
from .blueprint import bp
from .inputs import arg, body
from .responses import ok


def _listed(client) -> dict:
    return {"client_id": client.client_id, "items": [exchange.represent(r) for r in exchange.rules(actor(), client)]}


@bp.route("/clients/<client_id>/token-exchange", methods=["GET"])
def exchange_rules(client_id):
    return ok(_listed(clients.get(actor(), client_id)))


@bp.route("/clients/<client_id>/token-exchange", methods=["PUT"])
def exchange_allow(client_id):
    client = clients.get(actor(), client_id, write=True)
    rule = body("ExchangeRule")
    exchange.allow(actor(), client, rule["audience"], rule["scope"])
    return ok(_listed(client))


@bp.route("/clients/<client_id>/token-exchange", methods=["DELETE"])
def exchange_deny(client_id):
    client = clients.get(actor(), client_id, write=True)
    exchange.deny(actor(), client, arg("audience", 2000, empty_ok=False) or "")
    return ok(_listed(client))
