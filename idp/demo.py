"""``idp demo seed``: demonstration data, created once and never duplicated."""
from __future__ import annotations

import secrets
from datetime import date

import click
from flask import current_app
from flask.cli import with_appcontext

from .accounts.models import AccountRole, Role, Unit
from .accounts.services import NewAccount
from .db import db, utcnow

UNITS = [
    # code, code list, name, kind, parent code
    ("96", "QĐ19/2025", "Tỉnh Cà Mau", "province", None),
    ("96.STTTT", "MotID-2025", "Sở Khoa học và Công nghệ tỉnh Cà Mau", "agency", "96"),
    ("DEMO-01", "demo", "Phường An Xuyên (demo)", "commune", "96"),
]
ROLES = [
    ("officer", "Cán bộ, công chức", "Officer of a provincial unit"),
    ("one_stop.receiver", "Tiếp nhận hồ sơ một cửa", "Receives dossiers at the one-stop counter"),
    ("idp.admin", "Quản trị MotID", "Administers MotID"),
]


def _password() -> str:
    return "Demo-" + secrets.token_urlsafe(12)


def demo_accounts() -> list[tuple[str, NewAccount, str | None]]:
    """(label, account, role code) for every demo account."""
    return [
        ("citizen", NewAccount(kind="citizen", full_name="Nguyễn Văn An", citizen_id="096201000123",
                               email="an.nguyen@example.vn", phone="0912345678", birthdate=date(2001, 5, 17),
                               gender="male", email_verified=True), None),
        ("business", NewAccount(kind="business", full_name="Trần Thị Bình", tax_code="0100109106",
                                business_name="Công ty TNHH Thủy sản Năm Căn", email="lienhe@thuysan-namcan.example.vn",
                                email_verified=True), None),
        ("officer", NewAccount(kind="officer", full_name="Lê Minh Châu", citizen_id="096190000456",
                               email="chau.le@camau.example.gov.vn", position="Chuyên viên",
                               email_verified=True), "one_stop.receiver"),
        ("admin", NewAccount(kind="admin", full_name="Phạm Quốc Dũng", citizen_id="096185000789",
                             email="admin@camau.example.gov.vn", email_verified=True), "idp.admin"),
    ]


def seed() -> list[tuple[str, str, str]]:
    """Create what is missing; return (label, login, password) for accounts created now."""
    units = {}
    for code, code_list, name, kind, parent in UNITS:
        unit = db.session.query(Unit).filter_by(code=code, code_list=code_list).one_or_none()
        if unit is None:
            unit = Unit(code=code, code_list=code_list, name=name, kind=kind,
                        parent=units.get(parent), valid_from=date(2025, 7, 1))
            db.session.add(unit)
        units[code] = unit
    roles = {}
    for code, name, description in ROLES:
        role = db.session.query(Role).filter_by(code=code).one_or_none()
        if role is None:
            role = Role(code=code, name=name, description=description)
            db.session.add(role)
        roles[code] = role
    db.session.commit()

    service = current_app.extensions["idp.accounts"]
    created = []
    for label, new, role_code in demo_accounts():
        login = new.citizen_id or new.tax_code
        if service.find_by_login(login) is not None:
            continue
        new.password = _password()
        if label in ("officer", "admin"):
            new.unit_id = units["96.STTTT"].id
        account = service.create(new, now=utcnow())
        if role_code:
            db.session.add(AccountRole(account_id=account.id, role_id=roles[role_code].id,
                                       unit_id=account.unit_id))
            if label == "officer":
                db.session.add(AccountRole(account_id=account.id, role_id=roles["officer"].id,
                                           unit_id=account.unit_id))
            db.session.commit()
        created.append((label, login, new.password))
    return created


@click.group("demo")
def demo_cli():
    """Demonstration data."""


@demo_cli.command("seed")
@with_appcontext
def seed_command():
    """Create the demo units, roles and accounts (idempotent); print new credentials once."""
    created = seed()
    if not created:
        click.echo("Demo data already present; passwords were printed when it was created "
                   "(reset one with: echo NEW-PASSWORD | idp accounts set-password LOGIN).")
        return
    click.echo("Demo accounts created. These passwords are shown only now:")
    for label, login, password in created:
        click.echo(f"  {label:9} login: {login:15} password: {password}")
