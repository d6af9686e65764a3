"""``idp clients …`` and ``idp keys …`` for administrators.

The commands that change an application (``create``, ``update``, ``delete``, ``rotate-secret``) join this
group from :mod:`idp.admin.client_cli`: they pass the administration's rules, as the console and the API do."""
from __future__ import annotations

import json
from datetime import timedelta

import click
from flask import current_app
from flask.cli import with_appcontext

from ..db import db, utcnow
from ..keys import ALGORITHMS
from ..security import digest, new_token
from .models import Client, InitialAccessToken


def _clients():
    return current_app.extensions["idp.clients"]


def _get(client_id: str) -> Client:
    client = _clients().get(client_id)
    if client is None:
        raise click.ClickException(f"no client {client_id!r}")
    return client


def echo_client(client: Client, secret: str | None = None) -> None:
    click.echo(f"client_id: {client.client_id}")
    if secret:
        click.echo(f"client_secret: {secret}   (shown once; store it now)")
    click.echo(f"first_party: {client.first_party}  require_pkce: {client.require_pkce}")
    click.echo(json.dumps(client.meta, indent=2, ensure_ascii=False))


@click.group("clients")
def clients_cli():
    """Register and manage relying applications (OIDC clients)."""


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
    echo_client(_get(client_id))


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

    from ..worker import run
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
