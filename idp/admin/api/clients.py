"""The API's applications (OIDC clients): list, new, one application, its changes, a new secret,
its consents."""
from __future__ import annotations

from .. import clients
from ..etags import etag_of
from .authentication import actor
from .blueprint import bp
from .inputs import body, if_match, page
from .responses import ok, paged


@bp.route("/clients", methods=["GET"])
def list_clients():
    return ok({"items": [clients.represent(c) for c in clients.listing(actor())]})


@bp.route("/clients", methods=["POST"])
def create_client():
    client, secret = clients.create(actor(), body("ClientSettings"))
    shown = clients.represent(client)
    if secret:
        shown["client_secret"] = secret
    return ok(shown, 201, etag=etag_of(clients.represent(client)))


@bp.route("/clients/<client_id>", methods=["GET"])
def read_client(client_id):
    client = clients.get(actor(), client_id)
    return ok(clients.represent(client), etag=etag_of(clients.represent(client)))


@bp.route("/clients/<client_id>", methods=["PATCH"])
def update_client(client_id):
    client = clients.get(actor(), client_id, write=True)
    if_match(etag_of(clients.represent(client)), client_id)
    client = clients.update(actor(), client, body("ClientSettings"))
    return ok(clients.represent(client), etag=etag_of(clients.represent(client)))


@bp.route("/clients/<client_id>/secret", methods=["POST"])
def rotate_secret(client_id):
    client = clients.get(actor(), client_id, write=True)
    return ok({"client_id": client.client_id, "client_secret": clients.rotate_secret(actor(), client)})


@bp.route("/clients/<client_id>/consents", methods=["GET"])
def client_consents(client_id):
    limit, cursor = page()
    client = clients.get(actor(), client_id)
    items, next_cursor = clients.consents(actor(), client, limit=limit, after=cursor)
    return paged(items, next_cursor, "admin_api.client_consents", client_id=client_id, limit=limit)


@bp.route("/clients/<client_id>/consents/<sub>", methods=["DELETE"])
def revoke_consent(client_id, sub):
    client = clients.get(actor(), client_id, write=True)
    clients.revoke_consent(actor(), client, sub)
    return ok({"ok": True})
