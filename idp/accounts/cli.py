"""``idp accounts …``: administrators' account commands."""
from __future__ import annotations

import sys
from datetime import date

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import force_locale

from .. import events
from ..db import db, utcnow
from .messages import MESSAGES
from .models import Account, AccountKind, AccountStatus
from .services import AccountError, NewAccount


def _service():
    return current_app.extensions["idp.accounts"]


def _find(identifier: str) -> Account:
    account = _service().get_by_sub(identifier) or _service().find_by_login(identifier)
    if account is None:
        raise click.ClickException(f"no account matches {identifier!r}")
    return account


def _fail(exc: AccountError):
    with force_locale("en"):
        text = str(MESSAGES.get(exc.code, exc.code))
    raise click.ClickException(f"{exc.field}: {text}")


def _read_password() -> str:
    data = sys.stdin.readline()
    password = data.rstrip("\r\n")
    if not password:
        raise click.ClickException("no password on standard input")
    return password


@click.group("accounts")
def accounts_cli():
    """Create and manage accounts."""


@accounts_cli.command("create")
@click.option("--kind", type=click.Choice([k.value for k in AccountKind]), required=True)
@click.option("--name", "full_name", required=True, help="full name (or the business's representative)")
@click.option("--citizen-id", help="12-digit personal identification number")
@click.option("--tax-code", help="business tax code (MST)")
@click.option("--business-name")
@click.option("--email")
@click.option("--phone")
@click.option("--birthdate", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
@with_appcontext
def create(kind, full_name, citizen_id, tax_code, business_name, email, phone, birthdate, password_stdin):
    """Create an account and print its sub."""
    password = _read_password() if password_stdin else None
    new = NewAccount(kind=kind, full_name=full_name, citizen_id=citizen_id, tax_code=tax_code,
                     business_name=business_name, email=email, phone=phone, password=password,
                     birthdate=birthdate.date() if birthdate else None, email_verified=bool(email))
    try:
        account = _service().create(new, now=utcnow())
    except AccountError as exc:
        _fail(exc)
    click.echo(account.sub)


@accounts_cli.command("list")
@click.option("--kind", type=click.Choice([k.value for k in AccountKind]))
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10000))
@with_appcontext
def list_accounts(kind, limit):
    """List accounts, newest first."""
    query = db.session.query(Account).order_by(Account.id.desc())
    if kind:
        query = query.filter(Account.kind == kind)
    for account in query.limit(limit):
        click.echo("\t".join([account.sub, account.kind, account.status,
                              account.citizen_id or account.tax_code or "-", account.email or "-",
                              account.display_name]))


@accounts_cli.command("show")
@click.argument("identifier")
@with_appcontext
def show(identifier):
    """Show one account (by sub, ID number, tax code, email or phone)."""
    account = _find(identifier)
    for field in ("sub", "kind", "status", "full_name", "business_name", "citizen_id", "tax_code", "email",
                  "email_verified", "phone", "phone_verified", "birthdate", "locale", "position",
                  "created_at", "locked_until"):
        value = getattr(account, field)
        if value is not None:
            click.echo(f"{field}: {value.isoformat() if isinstance(value, date) else value}")
    if account.unit:
        click.echo(f"unit: {account.unit.code} {account.unit.name}")
    for grant in account.roles:
        click.echo(f"role: {grant.role.code}")


def _status_command(name: str, status: AccountStatus, doc: str):
    @accounts_cli.command(name, help=doc)
    @click.argument("identifier")
    @with_appcontext
    def command(identifier):
        account = _find(identifier)
        _service().set_status(account, status, now=utcnow())
        if status is not AccountStatus.ACTIVE:
            current_app.extensions["idp.sessions"].end_all(account, f"admin_{name}", now=utcnow())
        click.echo(f"{account.sub}: {account.status}")
    return command


_status_command("disable", AccountStatus.DISABLED, "Disable an account and end its sessions.")
_status_command("enable", AccountStatus.ACTIVE, "Enable a disabled account.")
_status_command("unlock", AccountStatus.ACTIVE, "Lift a lockout after failed logins.")


@accounts_cli.command("set-password")
@click.argument("identifier")
@with_appcontext
def set_password(identifier):
    """Set an account's password, read from standard input; its sessions and every application grant
    (offline ones included) end."""
    account = _find(identifier)
    try:
        _service().set_password(account, _read_password(), now=utcnow(), end_applications=True)
    except AccountError as exc:
        _fail(exc)
    current_app.extensions["idp.sessions"].end_all(account, "password_set", now=utcnow())
    click.echo(f"{account.sub}: password set")


@accounts_cli.command("reset-second-factor")
@click.argument("identifier")
@with_appcontext
def reset_second_factor(identifier):
    """Remove an account's authenticator app and recovery codes (lost phone); the person is told by email."""
    from . import browsers, mails
    account = _find(identifier)
    if not account.has_second_factor:
        raise click.ClickException("this account has no second factor")
    current_app.extensions["idp.totp"].disable(account, now=utcnow(), actor=None,
                                               tag="account:totp:admin_reset")
    browsers.forget_all(account, now=utcnow())
    current_app.extensions["idp.sessions"].end_all(account, "second_factor_reset", now=utcnow())
    if account.email:
        with current_app.test_request_context():
            mails.deliver(account.email, *mails.second_factor_reset(account))
    click.echo(f"{account.sub}: second factor removed")


@accounts_cli.command("end-sessions")
@click.argument("identifier")
@with_appcontext
def end_sessions(identifier):
    """End every live session of an account (the applications are told, by back-channel logout)."""
    account = _find(identifier)
    ended = current_app.extensions["idp.sessions"].end_all(account, "ended_by_administrator", now=utcnow())
    events.record("account:session:end_all", subject=account, details={"count": ended}, now=utcnow())
    db.session.commit()
    click.echo(f"{account.sub}: {ended} session(s) ended")
