"""Command-line additions: ``idp accounts import``, ``idp units import``, ``idp audit verify|export``,
``idp trust add|list|remove`` and ``idp admin grant|revoke|list`` (to name the first administrators);
``idp clients create|update|delete|rotate-secret`` are in :mod:`idp.admin.client_cli`."""
from __future__ import annotations


import sys

import click
from flask.cli import with_appcontext
from flask_babel import force_locale
from sqlalchemy import select

from ..accounts.models import Account, AccountRole, Unit
from ..db import db
from . import audit, importing, trust
from .authz import ADMIN_ROLES, Refused, ensure_admin_roles, operator
from .messages import message


def _report(exc: Refused) -> None:
    with force_locale("en"):
        click.echo(f"refused: {exc.detail}", err=True)
        report = exc.fields.get("report")
        if report:
            for problem in report["problems"]:
                for field, error in problem["errors"].items():
                    click.echo(f"  line {problem['line']}: {field}: {error['message']}", err=True)
        else:
            for field, code in exc.fields.items():
                click.echo(f"  {field}: {message(code)}", err=True)
    sys.exit(1)


def _import(kind: str, path, dry_run: bool) -> None:
    raw = path.read()
    run = importing.import_officers if kind == "officers" else importing.import_units
    try:
        with force_locale("en"):
            report = run(operator(), raw, dry_run=dry_run)
    except Refused as exc:
        _report(exc)
    for row in report.created:
        click.echo(f"line {row['line']}: {row.get('sub') or row.get('action') + ' ' + str(row.get('id'))}")
    click.echo(f"{len(report.created)} rows {'checked (dry run, nothing written)' if dry_run else 'imported'}")


@click.command("import")
@click.argument("path", type=click.File("rb"))
@click.option("--dry-run", is_flag=True, help="check every row, write nothing")
@with_appcontext
def import_officers(path, dry_run):
    """Create officers from a UTF-8 CSV file (all or nothing). Columns: full_name, unit_code, and
    optionally citizen_id, email, phone, position, roles, unit_code_list, locale."""
    _import("officers", path, dry_run)


@click.group("units")
def units_cli():
    """The unit tree."""


@units_cli.command("import")
@click.argument("path", type=click.File("rb"))
@click.option("--dry-run", is_flag=True)
@with_appcontext
def import_units(path, dry_run):
    """Create or update units from a UTF-8 CSV file (all or nothing). Columns: code, code_list, name,
    kind, and optionally parent_code, parent_code_list, valid_from."""
    _import("units", path, dry_run)


@units_cli.command("list")
@with_appcontext
def list_units():
    for unit in db.session.scalars(select(Unit).order_by(Unit.code)):
        click.echo("\t".join([str(unit.id), unit.code, unit.code_list, unit.kind, unit.name,
                              str(unit.parent_id or "-"), unit.valid_to.isoformat() if unit.valid_to else "-"]))


@click.group("audit")
def audit_cli():
    """The audit log."""


@audit_cli.command("verify")
@click.option("--anchor", "anchors", multiple=True, metavar="ID:HASH",
              help="an id and hash noted earlier (a previous run's head: lines, one per lane); cutting rows off is "
                   "caught only so")
@with_appcontext
def verify(anchors):
    """Recompute the hash chains (one per lane); exit 1 if any row was changed, deleted or inserted."""
    parsed = {}
    for anchor in anchors:
        row_id, _, value = anchor.partition(":")
        if not row_id.isdigit() or len(value) != 64:
            raise click.BadParameter(f"{anchor!r} is not ID:HASH", param_hint="--anchor")
        parsed[int(row_id)] = value
    result = audit.verify(anchors=parsed)
    click.echo(f"checked {result.checked} events"
               + (f" ({result.legacy} with SHA-256, written before the chain was keyed)" if result.legacy else "")
               + (f" ({result.unchained} older events were written before the chain began)" if result.unchained else "")
               + (f" (events up to {result.purged_through} were purged by retention; checkpoints intact)"
                  if result.purged_through and result.ok else ""))
    # Newest first. Each lane is a chain of its own: cutting off a lane's newest events is caught only
    # against its head, so every head is worth noting.
    for lane, (head_id, head_hash) in sorted(result.heads.items(), key=lambda item: -item[1][0]):
        click.echo(f"head: {head_id}:{head_hash} (lane {lane})")
    if result.ok:
        click.echo("chain intact")
        return
    for row_id, kind in result.problems:
        click.echo(f"event {row_id}: {kind}" if row_id is not None else "(more problems not shown)", err=True)
    if "unsealed" in {kind for _, kind in result.problems}:
        click.echo("no event is keyed: the log is from before the keyed chain and no event has been written since "
                   "(any new event seals it), or its keyed events were rewritten", err=True)
    sys.exit(1)


@audit_cli.command("export")
@click.option("--tag")
@click.option("--account", help="sub")
@with_appcontext
def export(tag, account):
    """Write the audit log as CSV to standard output (newest first)."""
    for chunk in audit.export_csv(operator(), audit.AuditQuery(tag=tag, account=account)):
        click.echo(chunk, nl=False)


@click.group("trust")
def trust_cli():
    """Trust anchors, intermediate CAs and CRLs for digital-signature certificates (in the database)."""


def _trust_refused(exc: Refused, name: str = "") -> click.ClickException:
    with force_locale("en"):
        reasons = "; ".join(str(message(code)) for code in exc.fields.values()) or str(exc.detail)
    return click.ClickException(f"{name}: {reasons}" if name else reasons)


@trust_cli.command("add")
@click.argument("files", nargs=-1, required=True, type=click.File("rb"))
@click.option("--crl", is_flag=True, help="the files are CRLs (PEM or DER), one kept per issuer")
@with_appcontext
def trust_add(files, crl):
    """Add CA certificates (PEM, DER or .cer; a self-issued one is an anchor) or CRLs, each recorded in the
    audit log."""
    for handle in files:
        try:
            if crl:
                click.echo(f"crl\t{trust.add_crl(operator(), handle.read()).name}")
                continue
            for entry in trust.add(operator(), handle.read(), handle.name):
                click.echo("\t".join(["anchor" if entry.anchor else "intermediate", entry.fingerprint,
                                      trust.name_text(entry.certificate.subject)]))
        except Refused as exc:
            raise _trust_refused(exc, handle.name) from None


@trust_cli.command("list")
@with_appcontext
def trust_list():
    """List anchors and intermediates: kind, SHA-256 fingerprint, valid until, subject; then CRLs."""
    for entry in trust.listing(operator()):
        shown = trust.represent(entry)
        click.echo("\t".join([shown["kind"], shown["fingerprint"], shown["not_after"][:10], shown["subject"]]))
    for entry in trust.crl_listing(operator()):
        shown = trust.represent_crl(entry)
        click.echo("\t".join(["crl", "-", shown["next_update"] or "-", shown["issuer"]]))


@trust_cli.command("remove")
@click.argument("fingerprint")
@with_appcontext
def trust_remove(fingerprint):
    """Remove the anchor or intermediate whose SHA-256 fingerprint starts with FINGERPRINT."""
    try:
        removed = trust.remove(operator(), fingerprint)
    except Refused as exc:
        raise _trust_refused(exc) if exc.fields else click.ClickException(
            f"no trusted certificate matches {fingerprint}") from None
    for entry in removed:
        click.echo(f"removed\t{entry.fingerprint}\t{trust.name_text(entry.certificate.subject)}")


@click.group("admin")
def admin_cli():
    """Administrators: name the first ones, list them."""


def _account(login: str) -> Account:
    from flask import current_app
    service = current_app.extensions["idp.accounts"]
    account = service.get_by_sub(login) or service.find_by_login(login)
    if account is None:
        raise click.ClickException(f"no account matches {login!r}")
    return account


@admin_cli.command("grant")
@click.argument("login")
@click.argument("role", type=click.Choice(sorted(ADMIN_ROLES)))
@click.option("--unit", "unit_code", help="unit code (required for idp.unit_admin)")
@with_appcontext
def grant(login, role, unit_code):
    """Make an officer or administrator account an administrator."""
    from .. import events
    from ..clock import now
    account = _account(login)
    if account.kind not in ("officer", "admin"):
        raise click.ClickException("only officer and admin accounts can be administrators")
    unit = None
    if unit_code:
        unit = db.session.scalar(select(Unit).where(Unit.code == unit_code, Unit.valid_to.is_(None)))
        if unit is None:
            raise click.ClickException(f"no current unit {unit_code!r}")
    if role == "idp.unit_admin" and unit is None:
        raise click.ClickException("idp.unit_admin needs --unit")
    roles = ensure_admin_roles()
    grant_row = db.session.get(AccountRole, (account.id, roles[role].id))
    if grant_row is None:
        db.session.add(AccountRole(account_id=account.id, role_id=roles[role].id, unit_id=unit.id if unit else None,
                                   granted_at=now()))
    else:
        grant_row.unit_id = unit.id if unit else None
    events.record("admin:role:grant", subject=account, details={"role": role, "unit_id": unit.id if unit else None,
                                                                "via": "cli"}, now=now())
    db.session.commit()
    click.echo(f"{account.sub}: {role}" + (f" in {unit.code}" if unit else ""))


@admin_cli.command("list")
@with_appcontext
def list_admins():
    rows = db.session.execute(select(Account, AccountRole).join(AccountRole, AccountRole.account_id == Account.id)
                              .order_by(Account.id)).all()
    for account, grant_row in rows:
        if grant_row.role.code in ADMIN_ROLES:
            click.echo("\t".join([account.sub, grant_row.role.code, grant_row.unit.code if grant_row.unit else "-",
                                  account.display_name]))


def register(app) -> None:
    from ..accounts.cli import accounts_cli
    from . import client_cli
    if "import" not in accounts_cli.commands:
        accounts_cli.add_command(import_officers)
    client_cli.register()
    for command in (units_cli, audit_cli, trust_cli, admin_cli):
        if command.name not in app.cli.commands:
            app.cli.add_command(command)



