"""``idp clients create|update|delete|rotate-secret|exchange-allow|exchange-deny|exchange-list``: the command
line's way to change applications and the services they may obtain tokens for (RFC 8693, RFC 8707).

They join the ``idp clients`` group (:mod:`idp.oidc.cli`) and call the same rules as the console and the
API (:mod:`idp.admin.clients`) as the server's operator (:func:`idp.admin.authz.operator`): every change is
audited (``via: cli``) and every refusal recorded, and the rule for privileged applications (admin
scopes, first-party) is the one in that module, which the operator, the province administrator by
definition, passes.
"""
from __future__ import annotations

import json

import click
from flask.cli import with_appcontext
from flask_babel import force_locale

from ..keys import ALGORITHMS
from ..oidc.cli import clients_cli, echo_client
from ..oidc.clients import AUTH_METHODS, GRANT_TYPES
from ..oidc.models import Client
from ..oidc.mtls_auth import SUBJECT_FIELDS
from ..oidc.pairwise import SUBJECT_TYPES
from . import clients, exchange
from .authz import Refused, operator
from .messages import message


def _metadata(name, redirect_uris, auth_method, grant_types, scope, jwks_file, id_token_alg, logout_uris, json_file,
              request_uris=(), subject_type=None, sector_identifier_uri=None, tls_subject=None,
              dpop_bound=None, require_par=None):
    try:
        meta = json.load(json_file) if json_file else {}
        jwks = json.load(jwks_file) if jwks_file else None
    except ValueError as exc:
        raise click.ClickException(f"invalid_client_metadata: the file is not JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise click.ClickException("invalid_client_metadata: client metadata must be a JSON object")
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
        meta["jwks"] = jwks
    if id_token_alg:
        meta["id_token_signed_response_alg"] = id_token_alg
    if logout_uris:
        meta["post_logout_redirect_uris"] = list(logout_uris)
    if request_uris:
        meta["request_uris"] = list(request_uris)
    if subject_type:
        meta["subject_type"] = subject_type
    if sector_identifier_uri:
        meta["sector_identifier_uri"] = sector_identifier_uri
    if tls_subject:  # the one subject of RFC 8705 §2.1.2: the others are removed
        meta.update({field: tls_subject[1] if field == "tls_client_auth_" + tls_subject[0] else None
                     for field in SUBJECT_FIELDS})
    if dpop_bound is not None:
        meta["dpop_bound_access_tokens"] = dpop_bound
    if require_par is not None:  # RFC 9126 §6; --no-require-par removes it (absent means false)
        meta["require_pushed_authorization_requests"] = True if require_par else None
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
        click.option("--request-uri", "request_uris", multiple=True,
                     help="a request_uri the application may use (OIDC Registration §2); repeatable"),
        click.option("--subject-type", type=click.Choice(SUBJECT_TYPES), help="sub values (OIDC Core §8)"),
        click.option("--sector-identifier-uri", help="https URL of the JSON array of the redirect URIs of one sector"),
        click.option("--tls-subject", type=(click.Choice([f.removeprefix("tls_client_auth_") for f in SUBJECT_FIELDS]),
                                            str), help="tls_client_auth: the certificate's subject, e.g. san_dns "
                                                       "rp.example.vn (RFC 8705 §2.1.2)"),
        click.option("--dpop-bound-access-tokens/--no-dpop-bound-access-tokens", "dpop_bound", default=None,
                     help="every token request needs a DPoP proof (RFC 9449 §5.2)"),
        click.option("--require-par/--no-require-par", "require_par", default=None,
                     help="only pushed authorization requests (RFC 9126) for this application"),
        click.option("--json", "json_file", type=click.File(), help="RFC 7591 metadata as a JSON file"),
    ]):
        command = option(command)
    return command


def _refused(exc: Refused) -> click.ClickException:
    """The refusal in English, as the old commands printed it (``invalid_redirect_uri: …``)."""
    with force_locale("en"):
        if "metadata" in exc.fields:
            return click.ClickException(f"{exc.fields['metadata']}: {exc.detail}")
        fields = "; ".join(f"{name}: {message(code)}" for name, code in exc.fields.items())
        return click.ClickException(f"{exc.detail}" + (f" ({fields})" if fields else ""))


def _get(client_id: str) -> Client:
    client = clients.service().get(client_id)
    if client is None:
        raise click.ClickException(f"no client {client_id!r}")
    return client


@click.command("create")
@client_options
@click.option("--first-party", is_flag=True, help="skip the consent page (an administrator's decision)")
@click.option("--require-pkce", is_flag=True)
@with_appcontext
def create(first_party, require_pkce, **fields):
    """Register a client; prints its client_id and secret (once)."""
    try:
        client, secret = clients.create(operator(), {**_metadata(**fields), "first_party": first_party,
                                                     "require_pkce": require_pkce})
    except Refused as exc:
        raise _refused(exc) from None
    echo_client(client, secret)


@click.command("update")
@click.argument("client_id")
@client_options
@click.option("--first-party/--no-first-party", default=None)
@click.option("--require-pkce/--no-require-pkce", default=None)
@with_appcontext
def update(client_id, first_party, require_pkce, **fields):
    """Change a client's metadata (only the options given)."""
    changes = _metadata(**fields)
    for name, value in (("first_party", first_party), ("require_pkce", require_pkce)):
        if value is not None:
            changes[name] = value
    try:
        client = clients.update(operator(), _get(client_id), changes)
    except Refused as exc:
        raise _refused(exc) from None
    echo_client(client)


@click.command("delete")
@click.argument("client_id")
@with_appcontext
def delete(client_id):
    """Delete a client; its grants and consents end with it."""
    try:
        clients.delete(operator(), _get(client_id))
    except Refused as exc:
        raise _refused(exc) from None
    click.echo(f"{client_id}: deleted")


@click.command("rotate-secret")
@click.argument("client_id")
@with_appcontext
def rotate_secret(client_id):
    """Issue a new secret (shown once); the old one stops working."""
    try:
        secret = clients.rotate_secret(operator(), _get(client_id))
    except Refused as exc:
        raise _refused(exc) from None
    click.echo(f"client_secret: {secret}   (shown once; store it now)")


@click.command("exchange-allow")
@click.argument("client_id")
@click.argument("audience")
@click.option("--scope", required=True, help="the scopes allowed at most, space-separated")
@with_appcontext
def exchange_allow(client_id, audience, scope):
    """Let a client obtain tokens for AUDIENCE (a service name or resource URI): token exchange, resource indicators."""
    try:
        exchange.allow(operator(), _get(client_id), audience, scope)
    except Refused as exc:
        raise _refused(exc) from None
    click.echo(f"{client_id}: may obtain tokens for {audience} ({' '.join(scope.split())})")


@click.command("exchange-deny")
@click.argument("client_id")
@click.argument("audience")
@with_appcontext
def exchange_deny(client_id, audience):
    """Stop a client obtaining tokens for AUDIENCE (tokens already issued run out)."""
    try:
        exchange.deny(operator(), _get(client_id), audience)
    except Refused as exc:
        raise _refused(exc) from None
    click.echo(f"{client_id}: no more tokens for {audience}")


@click.command("exchange-list")
@click.argument("client_id")
@with_appcontext
def exchange_list(client_id):
    """The services a client may obtain tokens for, one per line: audience, tab, scopes."""
    for rule in exchange.rules(operator(), _get(client_id)):
        click.echo(f"{rule.audience}\t{rule.scope}")


def register() -> None:
    for command in (create, update, delete, rotate_secret, exchange_allow, exchange_deny, exchange_list):
        clients_cli.add_command(command)
