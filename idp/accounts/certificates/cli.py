"""Certificate commands: ``idp certs …`` and ``idp accounts bind-certificate`` (an administrator binds
at a counter or kiosk). ``idp trust …`` (anchors, intermediates, CRLs) is in :mod:`idp.admin.cli`."""
from __future__ import annotations

from datetime import timedelta

import click
from flask import current_app, render_template
from flask.cli import with_appcontext
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import delete

from motid_sign.command import sign_command

from ...db import db, utcnow
from .messages import reason
from .models import BoundCertificate, CertificateChallenge, CertificateLogin, RevocationAnswer
from .service import BIND
from .validation import CertificateRejected, parse_presented


def _service():
    return current_app.extensions["idp.certificates"]


def _english(code: str) -> str:
    with force_locale("en"):
        return str(reason(code))


# -- idp certs ------------------------------------------------------------------------------------
@click.group("certs")
def certs_cli():
    """Digital-signature certificates bound to accounts."""


certs_cli.add_command(sign_command, "sign-challenge")


@certs_cli.command("check")
@click.argument("file", type=click.File("rb"))
@with_appcontext
def certs_check(file):
    """Validate a certificate (PEM chain or DER) as a login would: chain, validity, key, revocation."""
    try:
        leaf, chain = parse_presented(file.read(256 * 1024))
        valid = _service().validator.validate(leaf, chain, utcnow())
    except CertificateRejected as exc:
        raise click.ClickException(f"{exc.code}: {_english(exc.code)} {exc.detail}".strip()) from None
    identity = _service().parse_identity(leaf)
    click.echo(f"valid\t{valid.thumbprint}\t{'hwk' if valid.hardware else 'swk'}\t{identity.as_dict()}")


@certs_cli.command("list")
@click.argument("identifier", required=False)
@with_appcontext
def certs_list(identifier):
    """List bound certificates (of one account, or all): id, account, thumbprint, expiry, issuer."""
    from ..cli import _find
    query = db.session.query(BoundCertificate).order_by(BoundCertificate.id)
    if identifier:
        query = query.filter(BoundCertificate.account_id == _find(identifier).id)
    for row in query.limit(1000):
        click.echo("\t".join([str(row.id), row.account.sub, row.thumbprint, row.not_after.date().isoformat(),
                              row.issuer]))


@certs_cli.command("remove")
@click.argument("identifier")
@click.argument("certificate_id", type=int)
@with_appcontext
def certs_remove(identifier, certificate_id):
    """Remove a bound certificate from an account (administrator)."""
    from ..cli import _find
    account = _find(identifier)
    if not _service().remove(account, certificate_id, now=utcnow(), actor=None):
        raise click.ClickException("this account has no such certificate")
    click.echo(f"{account.sub}: certificate {certificate_id} removed")


def expiry_mail(row) -> tuple[str, str]:
    with force_locale(row.account.locale or "vi"):
        return (_("Your digital-signature certificate expires soon"),
                render_template("accounts/certificate_expiring.txt", account=row.account, certificate=row))


def send_expiry_warnings(moment) -> int:
    """Email holders whose bound certificate expires within IDP_CERT_EXPIRY_WARNING_DAYS, once each;
    the number of messages sent. (``idp worker`` runs it every IDP_HOUSEKEEPING_SECONDS.)"""
    from ..mails import deliver
    sent = 0
    with current_app.test_request_context():
        for row in _service().expiring(moment):
            if not _service().claim_warning(row, now=moment):
                continue  # another worker has it
            if row.account.email and deliver(row.account.email, *expiry_mail(row)):
                sent += 1
            _service().mark_warned(row, now=moment)
    return sent


def purge_records(moment) -> tuple[int, int, int]:
    """Delete expired challenges, stale revocation answers and the records of long-ended TLS logins."""
    session_life = timedelta(seconds=current_app.config["IDP_SESSION_MAX_SECONDS"])
    counts = tuple(db.session.execute(statement).rowcount for statement in (
        delete(CertificateChallenge).where(CertificateChallenge.expires_at < moment),
        delete(RevocationAnswer).where(RevocationAnswer.next_update < moment - timedelta(days=1)),
        delete(CertificateLogin).where(CertificateLogin.created_at < moment - session_life)))
    db.session.commit()
    return counts


@certs_cli.command("warn-expiring")
@with_appcontext
def warn_expiring():
    """Email holders whose bound certificate expires within IDP_CERT_EXPIRY_WARNING_DAYS (idp worker does it)."""
    click.echo(f"{send_expiry_warnings(utcnow())} warning(s) sent")


@certs_cli.command("purge")
@with_appcontext
def purge():
    """Delete expired challenges, stale revocation answers and the records of long-ended TLS logins."""
    click.echo("{} challenge(s), {} revocation answer(s), {} TLS login record(s) deleted".format(
        *purge_records(utcnow())))


# -- idp accounts bind-certificate ----------------------------------------------------------------
@click.command("bind-certificate")
@click.argument("identifier")
@click.option("--challenge", "new_challenge", is_flag=True,
              help="print a challenge for the holder to sign (step 1)")
@click.option("--response", type=click.File("r"), help="the holder's idp-sign output, or - for stdin (step 2)")
@click.option("--confirm-legacy-id", is_flag=True,
              help="accept a certificate that carries only a CMND or passport number (you checked the person)")
@with_appcontext
def bind_certificate(identifier, new_challenge, response, confirm_legacy_id):
    """Bind a certificate to an account by proof of possession, in two steps: --challenge prints a
    challenge; the holder signs it (idp-sign); --response FILE binds."""
    from ..cli import _find
    account = _find(identifier)
    if new_challenge == bool(response):
        raise click.UsageError("give either --challenge or --response")
    if new_challenge:
        click.echo(_service().issue_challenge(BIND, now=utcnow(), account=account))
        return
    try:
        row = _service().bind(account, response.read(), now=utcnow(), confirm_legacy=confirm_legacy_id)
    except CertificateRejected as exc:
        raise click.ClickException(f"{exc.code}: {_english(exc.code)}") from None
    click.echo(f"{account.sub}: bound {row.thumbprint} ({row.issuer}, serial {row.serial})")


def register(app) -> None:
    from ..cli import accounts_cli
    if "bind-certificate" not in accounts_cli.commands:
        accounts_cli.add_command(bind_certificate)
    if certs_cli.name not in app.cli.commands:
        app.cli.add_command(certs_cli)

