"""Roles that require an assurance level (``min_acr``): a person who can reach the level is sent to step
up; anyone else logs in at their level without the role, and the withholding is recorded; roles without
a requirement are unaffected. The ``roles`` claim always follows the ``acr`` of the grant."""
from __future__ import annotations

import json
from datetime import timedelta

import pyotp
import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import select

from idp.accounts import assurance
from idp.accounts.models import Account, AccountRole, Role
from idp.db import db
from idp.events import AuditEvent
from idp.oidc.claims import account_claims
from tests.accounts.certificates.helpers import cert_login
from tests.accounts.certificates.test_pki import HARDWARE_POLICY, pki, trust_dir  # noqa: F401
from tests.conftest import login, post_form
from tests.oidc.helpers import auth_params, callback, decode, exchange, make_client

OFFICER_ID = "096190000456"  # the CCCD: value of the test PKI's officer certificate
SCOPE = "openid profile officer"
ROLES_IN_ID_TOKEN = json.dumps({"id_token": {"roles": None}})


@pytest.fixture
def app(make_app, trust_dir):
    return make_app(IDP_CERT_HARDWARE_POLICIES=HARDWARE_POLICY)


@pytest.fixture
def officer(app, accounts, clock):
    """An officer with an authenticator app and three roles: none, level 2 and level 3 required."""
    ids = accounts(kind="officer", citizen_id=OFFICER_ID, email="chau@camau.gov.vn", full_name="Trần Minh Châu")
    secret = pyotp.random_base32(32)
    with app.app_context():
        account = db.session.get(Account, ids["id"])
        app.extensions["idp.totp"].enable(account, secret, pyotp.TOTP(secret).at(clock.now), now=clock())
        for code, level in (("one_stop.receiver", None), ("docs.approver", assurance.LOA2),
                            ("fleet.inspector", assurance.LOA3)):
            role = Role(code=code, name=code, description="", min_acr=level)
            db.session.add(role)
            db.session.flush()
            db.session.add(AccountRole(account_id=ids["id"], role_id=role.id))
        db.session.commit()
    clock.advance(seconds=60)
    return {**ids, "secret": secret}


def bind_certificate(app, officer, pki, clock):
    with app.app_context():
        account = db.session.get(Account, officer["id"])
        service = app.extensions["idp.certificates"]
        challenge = service.issue_challenge("bind", now=clock.now, account=account)
        service.bind(account, pki.signed("officer", challenge), now=clock.now)


def password_and_code(client, officer, clock):
    """Level 2: the password, then the authenticator code."""
    assert login(client, "chau@camau.gov.vn").headers["Location"] == "/login/second-factor"
    clock.advance(seconds=30)
    response = post_form(client, "/login/second-factor", {"code": pyotp.TOTP(officer["secret"]).at(clock.now)})
    assert response.status_code == 302


def tokens(app, client, client_id, secret, code):
    body = exchange(client, client_id, secret, code).json
    id_token = decode(app, body["id_token"]).claims
    info = client.get("/userinfo", headers={"Authorization": "Bearer " + body["access_token"]}).json
    return id_token, info


def withheld(app):
    with app.app_context():
        return [e.details for e in db.session.scalars(select(AuditEvent).where(AuditEvent.tag == "oidc:role:withhold"))]


@pytest.fixture
def rp(app):
    return make_client(app, first_party=True, scope=SCOPE)


def test_level_3_role_is_withheld_from_an_officer_without_a_certificate(app, client, officer, rp, clock):
    client_id, secret = rp
    password_and_code(client, officer, clock)
    result = callback(client.get("/authorize", query_string=auth_params(client_id, scope=SCOPE,
                                                                        claims=ROLES_IN_ID_TOKEN)))
    id_token, info = tokens(app, client, client_id, secret, result["code"])
    assert id_token["acr"] == "urn:motid:loa:2"
    assert id_token["roles"] == info["roles"] == ["docs.approver", "one_stop.receiver"]
    assert withheld(app) == [{"client_id": client_id, "roles": ["fleet.inspector"], "acr": "urn:motid:loa:2"}]


def test_officer_with_a_certificate_steps_up_and_gets_the_role(app, client, officer, rp, pki, clock):
    bind_certificate(app, officer, pki, clock)
    client_id, secret = rp
    password_and_code(client, officer, clock)
    response = client.get("/authorize", query_string=auth_params(client_id, scope=SCOPE, claims=ROLES_IN_ID_TOKEN))
    assert response.status_code == 302 and response.headers["Location"].startswith("/login/certificate?next=")
    back = cert_login(client, pki, "officer", path=response.headers["Location"])
    result = callback(client.get(back.headers["Location"]))
    id_token, info = tokens(app, client, client_id, secret, result["code"])
    assert id_token["acr"] == "urn:motid:loa:3" and "hwk" in id_token["amr"]
    assert id_token["roles"] == info["roles"] == ["docs.approver", "fleet.inspector", "one_stop.receiver"]
    assert withheld(app) == []


def test_a_role_without_min_acr_is_unaffected(app, client, officer, rp, pki, clock):
    """Without the officer scope no role is released, so none asks for a step-up either."""
    bind_certificate(app, officer, pki, clock)
    client_id, secret = rp
    password_and_code(client, officer, clock)
    result = callback(client.get("/authorize", query_string=auth_params(client_id, scope="openid profile")))
    id_token, info = tokens(app, client, client_id, secret, result["code"])
    assert id_token["acr"] == "urn:motid:loa:2" and "roles" not in info and withheld(app) == []
    with app.app_context():
        account = db.session.get(Account, officer["id"])
        assert account_claims(account, client_id, acr="urn:motid:loa:1")["roles"] == ["one_stop.receiver"]
        assert account_claims(account, client_id)["roles"] == ["one_stop.receiver"]  # no acr: fail closed


def test_a_certificate_that_cannot_log_in_does_not_send_to_step_up(app, client, officer, rp, pki, clock):
    """Expired, or revoked by a local CRL: the login goes on at level 2 without the role."""
    bind_certificate(app, officer, pki, clock)
    client_id, secret = rp
    serial = pki.certs["officer"][0].serial_number
    pki.inter.revoked_crl.add(serial)
    try:
        with app.app_context():  # the store is in the database: the change commits like an administrator's
            app.extensions["idp.trust"].add_crl(pki.inter.crl().public_bytes(Encoding.DER))
            db.session.commit()
    finally:
        pki.inter.revoked_crl.discard(serial)
    password_and_code(client, officer, clock)
    result = callback(client.get("/authorize", query_string=auth_params(client_id, scope=SCOPE)))
    assert exchange(client, client_id, secret, result["code"]).status_code == 200
    assert withheld(app)[0]["roles"] == ["fleet.inspector"]
    with app.app_context():
        service = app.extensions["idp.certificates"]
        later = pki.certs["officer"][0].not_valid_after_utc + timedelta(seconds=1)
        assert not service.can_log_in(officer["id"], now=later)


def test_a_certificate_refused_as_revoked_by_ocsp_no_longer_sends_to_step_up(app, client, officer, rp, pki, clock):
    """Revocation learnt from OCSP at a refused certificate login is remembered on the bound certificate, so
    the next authorization does not send the officer to a certificate login that would fail again, and the
    security page says it was revoked."""
    from sqlalchemy import delete

    from idp.accounts.certificates.models import RevocationAnswer
    from tests.accounts.certificates.helpers import cert_login
    bind_certificate(app, officer, pki, clock)
    client_id, secret = rp
    service = app.extensions["idp.certificates"]
    with app.app_context():
        assert service.can_log_in(officer["id"], now=clock.now)
        db.session.execute(delete(RevocationAnswer))  # the "good" answer cached at binding has run out
        db.session.commit()
    serial = pki.certs["officer"][0].serial_number
    pki.inter.revoked_ocsp.add(serial)
    try:
        refused = cert_login(client, pki, "officer")
    finally:
        pki.inter.revoked_ocsp.discard(serial)
    assert refused.status_code == 400 and client.get_cookie("motid_sso") is None
    with app.app_context():
        assert not service.can_log_in(officer["id"], now=clock.now)
    password_and_code(client, officer, clock)
    page = client.get("/account/security/certificates").get_data(as_text=True)
    assert "Thu hồi" in page or "thu hồi" in page  # the holder sees why (Vietnamese by default)
    result = callback(client.get("/authorize", query_string=auth_params(client_id, scope=SCOPE)))
    assert exchange(client, client_id, secret, result["code"]).status_code == 200
    assert withheld(app)[0]["roles"] == ["fleet.inspector"]


def test_prompt_none_cannot_step_up(app, client, officer, rp, pki, clock):
    bind_certificate(app, officer, pki, clock)
    client_id, _ = rp
    password_and_code(client, officer, clock)
    result = callback(client.get("/authorize", query_string=auth_params(client_id, scope=SCOPE, prompt="none")))
    assert result["error"] == "interaction_required"


def test_the_clients_own_requirement_still_applies(app, client, officer, rp, clock):
    """Level 3 asked by the client, no certificate: unmet, as before (a role never makes it unmet)."""
    client_id, _ = rp
    password_and_code(client, officer, clock)
    result = callback(client.get("/authorize", query_string=auth_params(client_id, scope=SCOPE,
                                                                        acr_values="urn:motid:loa:3")))
    assert result["error"] == "unmet_authentication_requirements"
