"""A small province for administration tests: units, administrators of each kind, officers in two
communes, a citizen; browsers logged in at assurance level 2; API tokens minted for them."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pyotp
import pytest

from idp.accounts import assurance
from idp.accounts.models import Account, AccountRole, Role, Unit
from idp.admin.authz import ensure_admin_roles
from idp.db import db
from idp.oidc.models import Grant
from tests.conftest import PASSWORD, login, post_form


@dataclass
class World:
    units: dict
    people: dict  # label -> {"id", "sub", "login", "secret"}


UNITS = [("96", "QĐ19/2025", "Tỉnh Cà Mau", "province", None),
         ("96.SNV", "MotID-2025", "Sở Nội vụ", "agency", "96"),
         ("31234", "QĐ19/2025", "Xã An Phú", "commune", "96"),
         ("31234.VP", "MotID-2025", "Văn phòng xã An Phú", "agency", "31234"),
         ("31240", "QĐ19/2025", "Xã Tân Lộc", "commune", "96")]
PEOPLE = [
    # label, kind, citizen id, email, unit code, admin role (and its unit)
    ("province", "admin", "096185000789", "tinh@camau.gov.vn", "96", ("idp.admin", "96")),
    ("an_phu_admin", "officer", "096190000111", "qt.anphu@camau.gov.vn", "31234", ("idp.unit_admin", "31234")),
    ("an_phu_officer", "officer", "096190000222", "cb.anphu@camau.gov.vn", "31234", None),
    ("an_phu_office", "officer", "096190000223", "vp.anphu@camau.gov.vn", "31234.VP", None),
    ("tan_loc_officer", "officer", "096190000333", "cb.tanloc@camau.gov.vn", "31240", None),
    ("tan_loc_admin", "officer", "096190000334", "qt.tanloc@camau.gov.vn", "31240", ("idp.unit_admin", "31240")),
    ("client_manager", "officer", "096190000444", "ud@camau.gov.vn", "96.SNV", ("idp.client_manager", None)),
    ("auditor", "officer", "096190000555", "kt@camau.gov.vn", "96.SNV", ("idp.auditor", None)),
    ("citizen", "citizen", "096301001234", "hoa@example.vn", None, None),
]


@pytest.fixture
def world(app, accounts, clock) -> World:
    with app.app_context():
        units = {}
        for code, code_list, name, kind, parent in UNITS:
            unit = Unit(code=code, code_list=code_list, name=name, kind=kind, parent=units.get(parent),
                        valid_from=date(2025, 7, 1))
            db.session.add(unit)
            units[code] = unit
        db.session.add(Role(code="one_stop.receiver", name="Tiếp nhận hồ sơ", description=""))
        db.session.commit()
        unit_ids = {code: unit.id for code, unit in units.items()}
    people = {}
    for label, kind, citizen_id, email, unit_code, admin in PEOPLE:
        created = accounts(kind=kind, citizen_id=citizen_id, email=email, full_name=f"Người {label}",
                           unit_id=unit_ids.get(unit_code))
        people[label] = {"id": created["id"], "sub": created["sub"], "login": citizen_id}
        with app.app_context():
            if admin:
                roles = ensure_admin_roles()
                db.session.add(AccountRole(account_id=created["id"], role_id=roles[admin[0]].id,
                                           unit_id=unit_ids.get(admin[1])))
            if kind != "citizen":
                secret = pyotp.random_base32(32)
                account = db.session.get(Account, created["id"])
                app.extensions["idp.totp"].enable(account, secret, pyotp.TOTP(secret).at(clock.now), now=clock())
                people[label]["secret"] = secret
            db.session.commit()
    clock.advance(seconds=60)
    return World(units=unit_ids, people=people)


def admin_login(client, clock, person):
    """Password, then the authenticator code: a session at assurance level 2."""
    response = login(client, person["login"], PASSWORD)
    assert response.headers["Location"] == "/login/second-factor", response.headers.get("Location")
    clock.advance(seconds=30)
    code = pyotp.TOTP(person["secret"]).at(clock.now)
    response = post_form(client, "/login/second-factor", {"code": code})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return client


@pytest.fixture
def browser(app, world, clock):
    """``browser("an_phu_admin")``: a test client logged in as that person at level 2."""
    def make(label):
        return admin_login(app.test_client(), clock, world.people[label])
    return make


def mint_token(app, *, account_id=None, scope="admin:accounts", client_id="admin-tool", acr=assurance.LOA2,
               lifetime=None, cnf_x5t=None):
    """An access token as the token endpoint would issue it (RFC 9068 JWT with its record); ``cnf_x5t`` binds
    it to a certificate (RFC 8705)."""
    with app.app_context():
        moment = app.config["CLOCK"]()
        grant = Grant(client_id=client_id, account_id=account_id, scope=scope, created_at=moment,
                      auth_time=moment if account_id else None, acr=acr if account_id else None,
                      amr=["pwd", "otp", "mfa"] if account_id else None, cnf_x5t=cnf_x5t)
        db.session.add(grant)
        db.session.flush()
        token, _ = app.extensions["idp.tokens"].access_token(grant, moment, ttl=lifetime or timedelta(hours=1))
        db.session.commit()
        return token


@pytest.fixture
def token(app, world):
    """``token("province", "admin:accounts admin:audit")``: a bearer header for that person."""
    def make(label=None, scope="admin:accounts", **kwargs):
        account_id = world.people[label]["id"] if label else None
        return {"Authorization": "Bearer " + mint_token(app, account_id=account_id, scope=scope, **kwargs)}
    return make
