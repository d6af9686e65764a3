"""``idp clients …`` and ``idp keys …`` for administrators."""
from __future__ import annotations

import json
from datetime import timedelta

import click
from flask import current_app
from flask.cli import with_appcontext

from ..db import db, utcnow
from ..keys import ALGORITHMS
from ..security import digest, new_token
from .clients import AUTH_METHODS, GRANT_TYPES, InvalidClientMetadata
from .models import Client, InitialAccessToken


def _clients():
    return current_app.extensions["idp.clients"]


def _get(client_id: str) -> Client:
    client = _clients().get(client_id)
    if client is None:
        raise click.ClickException(f"no client {client_id!r}")
    return client


def _metadata(name, redirect_uris, auth_method, grant_types, scope, jwks_file, id_token_alg, logout_uris, json_file):
    meta = json.load(json_file) if json_file else {}
    if name:
        meta["client_name"] = name
    if redirect_uris:
        meta["redirect_uris"] = list(redirect_uris)
    if auth_method:
        meta["token_endpoint_auth_method"] = auth_method
    if grant_types:
        meta["grant_types"] = list(grant_types)
        meta["response_types"] = ["code"] if "authorization_code" in grant_types else []
    if scope:
        meta["scope"] = scope
    if jwks_file:
        meta["jwks"] = json.load(jwks_file)
    if id_token_alg:
        meta["id_token_signed_response_alg"] = id_token_alg
    if logout_uris:
        meta["post_logout_redirect_uris"] = list(logout_uris)
    return meta


def client_options(command):
    for option in reversed([
        click.option("--name"),
        click.option("--redirect-uri", "redirect_uris", multiple=True),
        click.option("--auth-method", type=click.Choice(AUTH_METHODS)),
        click.option("--grant-type", "grant_types", multiple=True, type=click.Choice(GRANT_TYPES)),
        click.option("--scope", help="allowed scopes, space-separated"),
        click.option("--jwks-file", type=click.File()),
        click.option("--id-token-alg", type=click.Choice(ALGORITHMS)),
        click.option("--post-logout-redirect-uri", "logout_uris", multiple=True),
        click.option("--json", "json_file", type=click.File(), help="RFC 7591 metadata as a JSON file"),
    ]):
        command = option(command)
    return command


def _show(client: Client, secret: str | None = None) -> None:
    click.echo(f"client_id: {client.client_id}")
    if secret:
        click.echo(f"client_secret: {secret}   (shown once; store it now)")
    click.echo(f"first_party: {client.first_party}  require_pkce: {client.require_pkce}")
    click.echo(json.dumps(client.meta, indent=2, ensure_ascii=False))


@click.group("clients")
def clients_cli():
    """Register and manage relying applications (OIDC clients)."""


@clients_cli.command("create")
@client_options
@click.option("--first-party", is_flag=True, help="skip the consent page (an administrator's decision)")
@click.option("--require-pkce", is_flag=True)
@with_appcontext
def create(first_party, require_pkce, **fields):
    """Register a client; prints its client_id and secret (once)."""
    try:
        client, secret = _clients().create(_metadata(**fields), first_party=first_party, require_pkce=require_pkce)
    except InvalidClientMetadata as exc:
        raise click.ClickException(f"{exc.error}: {exc.description}") from None
    _show(client, secret)


@clients_cli.command("list")
@with_appcontext
def list_clients():
    for client in db.session.query(Client).order_by(Client.id):
        click.echo("\t".join([client.client_id, client.meta.get("client_name", "-"),
                              client.meta.get("token_endpoint_auth_method", "-"),
                              " ".join(client.meta.get("redirect_uris", []))]))


@clients_cli.command("show")
@click.argument("client_id")
@with_appcontext
def show(client_id):
    _show(_get(client_id))


@clients_cli.command("update")
@click.argument("client_id")
@client_options
@click.option("--first-party/--no-first-party", default=None)
@click.option("--require-pkce/--no-require-pkce", default=None)
@with_appcontext
def update(client_id, first_party, require_pkce, **fields):
    """Change a client's metadata (only the options given)."""
    client = _get(client_id)
    meta = {**client.meta, **_metadata(**fields)}
    if first_party is not None:
        client.first_party = first_party
    if require_pkce is not None:
        client.require_pkce = require_pkce
    try:
        _clients().update(client, meta)
    except InvalidClientMetadata as exc:
        db.session.rollback()
        raise click.ClickException(f"{exc.error}: {exc.description}") from None
    _show(client)


@clients_cli.command("delete")
@click.argument("client_id")
@with_appcontext
def delete(client_id):
    """Delete a client; its grants and consents end with it."""
    _clients().delete(_get(client_id))
    click.echo(f"{client_id}: deleted")


@clients_cli.command("rotate-secret")
@click.argument("client_id")
@with_appcontext
def rotate_secret(client_id):
    """Issue a new secret (shown once); the old one stops working."""
    secret = _clients().rotate_secret(_get(client_id))
    if secret is None:
        raise click.ClickException("this client authenticates without a secret")
    click.echo(f"client_secret: {secret}   (shown once; store it now)")


@clients_cli.command("registration-token")
@click.option("--days", default=7, show_default=True, type=click.IntRange(1, 365))
@click.option("--note", default="")
@with_appcontext
def registration_token(days, note):
    """Print an initial access token for dynamic client registration (RFC 7591 §3)."""
    token = new_token()
    now = utcnow()
    db.session.add(InitialAccessToken(digest=digest(token), created_at=now, expires_at=now + timedelta(days=days),
                                      note=note[:200] or None))
    db.session.commit()
    click.echo(token)


@click.group("keys")
def keys_cli():
    """Signing keys: list, rotate (two-phase), retire."""


@keys_cli.command("list")
@with_appcontext
def list_keys():
    service = current_app.extensions["idp.keys"]
    service.ensure()
    now = utcnow()
    for row in service.list():
        click.echo("\t".join([row.kid, row.alg, row.state(now), row.activates_at.isoformat(),
                              row.retired_at.isoformat() if row.retired_at else "-",
                              row.expires_at.isoformat() if row.expires_at else "-"]))


@keys_cli.command("rotate")
@click.option("--alg", type=click.Choice(ALGORITHMS), default="ES256", show_default=True)
@click.option("--delay", type=int, default=None, help="seconds before the new key signs (default: setting)")
@with_appcontext
def rotate(alg, delay):
    """Publish a new key now; it signs after the delay, when the current key retires."""
    service = current_app.extensions["idp.keys"]
    service.ensure()
    row = service.rotate(alg, delay=None if delay is None else timedelta(seconds=delay))
    click.echo(f"{row.kid}\t{alg}\tsigns from {row.activates_at.isoformat()}")


@keys_cli.command("retire")
@click.argument("kid")
@with_appcontext
def retire(kid):
    """Stop signing with a key now; it stays published until its tokens have expired."""
    row = current_app.extensions["idp.keys"].retire(kid)
    if row is None:
        raise click.ClickException(f"no key {kid!r}")
    click.echo(f"{row.kid}: retired, published until {row.expires_at.isoformat()}")


@click.command("worker")
@click.option("--interval", default=1.0, show_default=True, type=float, help="seconds between rounds")
@click.option("--once", is_flag=True, help="one round, then exit")
def worker(interval, once):
    """Deliver back-channel logouts and end expired sessions (any number may run)."""
    from flask.cli import ScriptInfo

    from .delivery import run
    app = click.get_current_context().ensure_object(ScriptInfo).load_app()
    run(app, interval=interval, once=once)


@click.group("deliveries")
def deliveries_cli():
    """Back-channel logout deliveries."""


@deliveries_cli.command("list")
@click.option("--failed", is_flag=True, help="only those given up")
@click.option("--pending", is_flag=True, help="only those still to send")
@with_appcontext
def list_deliveries(failed, pending):
    from .models import LogoutDelivery
    query = db.session.query(LogoutDelivery).order_by(LogoutDelivery.id.desc())
    if failed:
        query = query.filter(LogoutDelivery.failed_at.isnot(None))
    if pending:
        query = query.filter(LogoutDelivery.delivered_at.is_(None), LogoutDelivery.failed_at.is_(None))
    for row in query.limit(200):
        state = "delivered" if row.delivered_at else "failed" if row.failed_at else "pending"
        click.echo("\t".join([str(row.id), state, row.client_id, row.uri, str(row.attempts), row.last_error or "-"]))
