"""``idp upstreams …``: register the identity providers MotID logs people in through.

The client secret is read from standard input (``--client-secret-stdin``), never from the command line
(other users see it in the process list) and never printed.
"""
from __future__ import annotations

import json
import sys

import click
from flask.cli import with_appcontext

from .profiles import PROFILES
from .registry import AUTH_METHODS, ENDPOINTS, InvalidProvider, UpstreamRegistry


def _secret(read: bool) -> str | None:
    if not read:
        return None
    secret = sys.stdin.readline().rstrip("\r\n")
    if not secret:
        raise click.ClickException("no client secret on standard input")
    return secret


def _endpoints(values: tuple) -> dict | None:
    endpoints = {}
    for value in values:
        name, _, url = value.partition("=")
        if name not in ENDPOINTS or not url:
            raise click.ClickException(f"--endpoint takes NAME=URL, NAME one of {', '.join(ENDPOINTS)}")
        endpoints[name] = url
    return endpoints or None


def _settings(options: dict) -> dict:
    """The options given, as registry fields (``None``: not given, left as it is)."""
    settings = {
        "issuer": options.get("issuer"), "client_id": options.get("client_id"),
        "client_secret": _secret(options.pop("client_secret_stdin", False)),
        "token_auth_method": options.get("token_auth_method"), "profile": options.get("profile"),
        "scopes": " ".join(options["scopes"]) if options.get("scopes") else None,
        "acr_values": options.get("acr_values"), "display_name": options.get("display_name"),
        "position": options.get("position"), "endpoints": _endpoints(options.get("endpoints") or ()),
    }
    if options.get("enabled") is not None:
        settings["enabled"] = options["enabled"]
    return settings


def _show(provider) -> dict:
    return {"name": provider.name, "profile": provider.profile, "issuer": provider.issuer,
            "client_id": provider.client_id, "client_secret": "(set)" if provider.client_secret else None,
            "token_auth_method": provider.token_auth_method, "scopes": provider.scopes,
            "acr_values": provider.acr_values, "display_name": provider.display_name,
            "position": provider.position, "enabled": provider.enabled, "endpoints": provider.endpoints}


def _common(command):
    options = [
        click.option("--client-id"),
        click.option("--client-secret-stdin", is_flag=True, help="read the client secret from standard input"),
        click.option("--token-auth-method", type=click.Choice(AUTH_METHODS)),
        click.option("--scope", "scopes", multiple=True, help="a scope to ask for (repeat, or space-separated)"),
        click.option("--acr-values", help="acr_values to send, e.g. LoA1"),
        click.option("--display-name", help="the button's text"),
        click.option("--position", type=int, help="button order: lower first"),
        click.option("--endpoint", "endpoints", multiple=True,
                     help="NAME=URL: an endpoint discovery does not give (Zalo), e.g. token_endpoint=https://…"),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@click.group("upstreams")
def upstreams_cli():
    """Identity providers people log in through (VNeID, DVCQG, OpenID Connect, Zalo)."""


@upstreams_cli.command("add")
@click.argument("name")
@click.option("--issuer", help="the provider's issuer (discovery); Zalo's is preset")
@click.option("--profile", type=click.Choice(list(PROFILES)), default="oidc", show_default=True)
@_common
@click.option("--disabled", "enabled", flag_value=False, default=None, help="register it without offering it yet")
@with_appcontext
def add(name, **options):
    """Register an upstream provider (its client secret on standard input)."""
    try:
        provider = UpstreamRegistry.from_app().add(name, **_settings(options))
    except InvalidProvider as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"added {provider.name} ({provider.profile}); register this redirect URI there: "
               f"{_callback(provider.name)}")


@upstreams_cli.command("update")
@click.argument("name")
@click.option("--issuer")
@click.option("--profile", type=click.Choice(list(PROFILES)))
@_common
@click.option("--enable/--disable", "enabled", default=None)
@with_appcontext
def update(name, **options):
    """Change a provider's settings (only those given)."""
    try:
        UpstreamRegistry.from_app().update(name, **_settings(options))
    except InvalidProvider as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"updated {name}")


@upstreams_cli.command("remove")
@click.argument("name")
@with_appcontext
def remove(name):
    """Remove a provider (its links to accounts stay, unused, until it is added again)."""
    try:
        UpstreamRegistry.from_app().remove(name)
    except InvalidProvider as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"removed {name}")


@upstreams_cli.command("list")
@with_appcontext
def list_():
    """The providers in button order."""
    for provider in UpstreamRegistry.from_app().list():
        state = "enabled" if provider.enabled else "disabled"
        click.echo(f"{provider.position:>5}  {provider.name:<20} {provider.profile:<6} {state:<8} {provider.issuer}")


@upstreams_cli.command("show")
@click.argument("name")
@with_appcontext
def show(name):
    """One provider's settings as JSON (the secret only as "(set)")."""
    provider = UpstreamRegistry.from_app().get(name)
    if provider is None:
        raise click.ClickException(f"no provider named {name!r}")
    click.echo(json.dumps({**_show(provider), "redirect_uri": _callback(name)}, ensure_ascii=False, indent=2))


def _callback(name: str) -> str:
    from .flow import callback_url
    return callback_url(name)
