"""Issue 11, item 11: a certificate-bound access token (RFC 8705 ``cnf.x5t#S256``) is refused by the
administration API without its certificate, as ``/userinfo`` refuses it.

The attacker holds a province administrator's admin token, issued over mutual TLS (so bound to the
administrator's certificate), but not the certificate's key: without the certificate, or with their
own, the API answers 401 ``invalid_token`` (RFC 6750 §3.1) in its problem shape, and records it.
"""
from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from idp.accounts.certificates.validation import thumbprint
from idp.db import db
from idp.events import AuditEvent
from tests.admin.conftest import admin_login, mint_token, token, world  # noqa: F401  (fixtures)
from tests.oidc.helpers import REDIRECT, auth_params, authorize, callback, make_client

API = "/admin/api/v1"
PROXY = "10.9.8.7"


@pytest.fixture
def app(make_app):
    return make_app(IDP_CERT_PROXY_ADDRESSES=f"{PROXY}/32")


def certificate(name: str) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start)
            .not_valid_after(start + timedelta(days=730))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))


def presenting(cert: x509.Certificate, addr: str = PROXY) -> dict:
    """What the TLS-terminating proxy forwards for a connection that presented ``cert``."""
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    return {"headers": {"X-SSL-Client-Cert": quote(pem)}, "environ_base": {"REMOTE_ADDR": addr}}


@pytest.fixture
def holder():
    return certificate("Người quản trị tỉnh")


@pytest.fixture
def bound_admin_token(app, world, clock, holder):
    """The province administrator's own admin token, obtained over mutual TLS: bound to ``holder``."""
    client_id, secret = make_client(app, first_party=True, scope="openid admin:accounts")
    browser = admin_login(app.test_client(), clock, world.people["province"])
    code = callback(authorize(browser, auth_params(client_id, scope="openid admin:accounts")))["code"]
    basic = "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    over_tls = presenting(holder)
    response = app.test_client().post(
        "/token", data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
        headers={"Authorization": basic, **over_tls["headers"]}, environ_base=over_tls["environ_base"])
    assert response.status_code == 200, response.json
    return response.json["access_token"]


def refusals(app):
    with app.app_context():
        return [e.details for e in db.session.scalars(select(AuditEvent).where(
            AuditEvent.tag == "admin:request:refuse").order_by(AuditEvent.id))]


def assert_invalid_token(response):
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json" and response.json["reason"] == "invalid_token"
    assert response.json["status"] == 401 and "RFC 8705" in response.json["detail"]
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge


def test_a_bound_admin_token_without_its_certificate_is_refused(app, world, bound_admin_token, holder):
    bearer = {"Authorization": "Bearer " + bound_admin_token}
    officer = world.people["tan_loc_officer"]["sub"]
    client = app.test_client()
    # The attacker: no certificate; their own certificate through the proxy; the right certificate's
    # header sent straight to the server instead of through the proxy.
    assert_invalid_token(client.get(f"{API}/accounts/{officer}", headers=bearer))
    theirs = presenting(certificate("Kẻ tấn công"))
    assert_invalid_token(client.get(f"{API}/accounts/{officer}", headers={**bearer, **theirs["headers"]},
                                    environ_base=theirs["environ_base"]))
    direct = presenting(holder, addr="203.0.113.50")
    assert_invalid_token(client.post(f"{API}/accounts/{officer}/second-factor-reset",
                                     headers={**bearer, **direct["headers"]}, environ_base=direct["environ_base"]))
    assert_invalid_token(client.get(f"{API}/units", headers=bearer))
    assert client.get("/userinfo", headers=bearer).status_code == 401  # as the protected resource next door
    recorded = refusals(app)
    assert len(recorded) == 4 and {r["reason"] for r in recorded} == {"invalid_token"}
    assert {r["cause"] for r in recorded} == {"certificate_not_presented"}
    # The holder, through the proxy, is served.
    mine = presenting(holder)
    read = client.get(f"{API}/accounts/{officer}", headers={**bearer, **mine["headers"]},
                      environ_base=mine["environ_base"])
    assert read.status_code == 200 and read.json["sub"] == officer


def test_a_bound_application_token_without_its_certificate_is_refused(app, world):
    """The same check for an application's client-credentials token bound to its certificate."""
    cert = certificate("Hệ thống đồng bộ")
    bearer = {"Authorization": "Bearer " + mint_token(app, scope="admin:accounts", cnf_x5t=thumbprint(cert))}
    assert_invalid_token(app.test_client().get(f"{API}/units", headers=bearer))
    tls = presenting(cert)
    served = app.test_client().get(f"{API}/units", headers={**bearer, **tls["headers"]},
                                   environ_base=tls["environ_base"])
    assert served.status_code == 200
    # A bearer (unbound) token still needs no certificate.
    plain = {"Authorization": "Bearer " + mint_token(app, scope="admin:accounts")}
    assert app.test_client().get(f"{API}/units", headers=plain).status_code == 200


def test_client_credentials_tokens_are_bound_when_the_client_registered_it(app, holder):
    """RFC 8705 §3.4: a client that registered tls_client_certificate_bound_access_tokens gets bound
    tokens from the client credentials grant too, and none without a certificate."""
    client_id, secret = make_client(app, grant_types=["client_credentials"], redirect_uris=[], scope="openid",
                                    tls_client_certificate_bound_access_tokens=True)
    browser = app.test_client()
    bound = browser.post("/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret),
                         **presenting(holder))
    assert bound.status_code == 200, bound.json
    info = browser.post("/introspect", data={"token": bound.json["access_token"]}, auth=(client_id, secret)).json
    assert info["active"] and info["cnf"] == {"x5t#S256": thumbprint(holder)}
    bare = browser.post("/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret))
    assert bare.status_code == 400 and bare.json["error"] == "invalid_request"
