"""Mutual-TLS client authentication (RFC 8705 §2): tls_client_auth and self_signed_tls_client_auth, with
the client certificate forwarded by the trusted proxy, as nginx does (tests/integration runs the real one)."""
from __future__ import annotations

import ipaddress
import os
from datetime import timedelta
from urllib.parse import quote

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from joserfc import jwk

from idp.accounts.certificates.validation import thumbprint
from idp.db import db
from idp.oidc.models import Grant
from tests.accounts.certificates.test_pki import _validity_base, pem, pki, trust_dir, vn_name  # noqa: F401
from tests.conftest import login
from tests.oidc.helpers import REDIRECT, auth_params, callback, decode, make_client

PROXY = {"REMOTE_ADDR": "10.9.8.7"}
DN = "CN=Cổng dịch vụ công Cà Mau,O=Sở Thông tin và Truyền thông Cà Mau,ST=Cà Mau,C=VN"


@pytest.fixture
def app(make_app, trust_dir, pki):
    with open(os.path.join(trust_dir, "inter.pem"), "w") as fh:  # nginx forwards the leaf alone
        fh.write(pem(pki.inter.cert))
    return make_app(IDP_CERT_PROXY_ADDRESSES="10.9.8.7/32")


@pytest.fixture
def client_certificates(pki):
    """The relying parties' TLS client certificates, issued once by the test PKI (its OCSP server knows them)."""
    if "rp_tls" not in pki.certs:
        start, end = _validity_base()
        sans = [x509.DNSName("rp.example.vn"), x509.UniformResourceIdentifier("https://rp.example.vn/"),
                x509.IPAddress(ipaddress.ip_address("203.0.113.10")), x509.RFC822Name("it@rp.example.vn")]
        for label, ca, names in (("rp_tls", pki.inter, sans), ("other_tls", pki.inter, [x509.DNSName("other.vn")]),
                                 ("rp_untrusted", pki.other_root, sans)):
            key = ec.generate_private_key(ec.SECP256R1())
            subject = x509.Name.from_rfc4514_string(DN) if label == "rp_tls" else vn_name("Ứng dụng khác")
            cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca.cert.subject)
                    .public_key(key.public_key()).serial_number(x509.random_serial_number())
                    .not_valid_before(start - timedelta(days=1)).not_valid_after(end + timedelta(days=90))
                    .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                    .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False),
                                   critical=True)
                    .add_extension(x509.SubjectAlternativeName(names), critical=False)
                    .add_extension(x509.AuthorityInformationAccess([x509.AccessDescription(
                        x509.oid.AuthorityInformationAccessOID.OCSP,
                        x509.UniformResourceIdentifier(f"{pki.base_url}/ocsp/{ca.name}"))]), critical=False)
                    .sign(ca.key, hashes.SHA256()))
            pki.certs[label] = (cert, key)
    return pki


def self_signed(cn="rp.example.vn"):
    key = ec.generate_private_key(ec.SECP256R1())
    start, end = _validity_base()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start - timedelta(days=1))
            .not_valid_after(end + timedelta(days=30)).sign(key, hashes.SHA256()))
    return cert


def over_tls(cert):
    return {"headers": {"X-SSL-Client-Cert": quote(pem(cert))}, "environ_base": PROXY}


def client_credentials(client, client_id, cert=None, **extra):
    tls = over_tls(cert) if cert is not None else {"environ_base": PROXY}
    return client.post("/token", data={"grant_type": "client_credentials", "client_id": client_id, **extra}, **tls)


def tls_client(app, **meta):
    meta.setdefault("token_endpoint_auth_method", "tls_client_auth")
    return make_client(app, grant_types=["client_credentials"], redirect_uris=[], scope="openid profile", **meta)


def grants_of(app, client_id):
    with app.app_context():
        return db.session.query(Grant).filter_by(client_id=client_id).count()


@pytest.mark.parametrize("field, value", [
    ("tls_client_auth_subject_dn", DN), ("tls_client_auth_san_dns", "RP.example.vn"),
    ("tls_client_auth_san_uri", "https://rp.example.vn/"), ("tls_client_auth_san_ip", "203.0.113.10"),
    ("tls_client_auth_san_email", "it@rp.example.vn")])
def test_tls_client_auth_with_each_kind_of_subject(app, client, client_certificates, field, value):
    client_id, secret = tls_client(app, **{field: value})
    assert secret is None  # nothing to keep: the certificate is the credential
    cert = client_certificates.certs["rp_tls"][0]
    response = client_credentials(client, client_id, cert)
    assert response.status_code == 200, response.json
    assert response.headers["Cache-Control"] == "no-store"
    claims = decode(app, response.json["access_token"]).claims
    assert claims["client_id"] == client_id and claims["cnf"] == {"x5t#S256": thumbprint(cert)}  # RFC 8705 §3


@pytest.mark.parametrize("case", ["no certificate", "another certificate", "untrusted chain", "dn mismatch",
                                  "untrusted proxy", "garbage header"])
def test_tls_client_auth_refusals(app, client, client_certificates, case):
    meta = {"tls_client_auth_subject_dn": "CN=Ứng dụng khác,C=VN"} if case == "dn mismatch" \
        else {"tls_client_auth_san_dns": "rp.example.vn"}
    client_id, _ = tls_client(app, **meta)
    certs = client_certificates.certs
    if case == "no certificate":
        response = client_credentials(client, client_id)
    elif case == "untrusted proxy":
        response = client.post("/token", data={"grant_type": "client_credentials", "client_id": client_id},
                               headers=over_tls(certs["rp_tls"][0])["headers"],
                               environ_base={"REMOTE_ADDR": "203.0.113.9"})
    elif case == "garbage header":
        response = client.post("/token", data={"grant_type": "client_credentials", "client_id": client_id},
                               headers={"X-SSL-Client-Cert": "-----BEGIN%20CERTIFICATE-----"}, environ_base=PROXY)
    else:
        label = {"another certificate": "other_tls", "untrusted chain": "rp_untrusted",
                 "dn mismatch": "rp_tls"}[case]
        response = client_credentials(client, client_id, certs[label][0])
    assert response.status_code == 401 and response.json["error"] == "invalid_client", response.json
    assert "access_token" not in response.json and response.headers["Cache-Control"] == "no-store"


def test_tls_client_auth_in_the_code_flow_binds_the_tokens_and_refuses_before_spending_the_code(
        app, client, accounts, client_certificates):
    accounts(email="hoa@example.vn")
    client_id, _ = make_client(app, first_party=True, token_endpoint_auth_method="tls_client_auth",
                               tls_client_auth_san_dns="rp.example.vn")
    login(client, "hoa@example.vn")
    code = callback(client.get("/authorize", query_string=auth_params(client_id)))["code"]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "client_id": client_id}
    certs = client_certificates.certs
    refused = client.post("/token", data=form, **over_tls(certs["other_tls"][0]))
    assert refused.status_code == 401 and refused.json["error"] == "invalid_client"
    assert grants_of(app, client_id) == 0  # nothing issued
    tokens = client.post("/token", data=form, **over_tls(certs["rp_tls"][0]))
    assert tokens.status_code == 200, tokens.json
    expected = {"x5t#S256": thumbprint(certs["rp_tls"][0])}
    assert decode(app, tokens.json["access_token"]).claims["cnf"] == expected
    # The same authentication at the introspection endpoint (RFC 8705 §2 applies to every endpoint).
    info = client.post("/introspect", data={"token": tokens.json["access_token"], "client_id": client_id},
                       **over_tls(certs["rp_tls"][0]))
    assert info.status_code == 200 and info.json["active"] and info.json["cnf"] == expected
    assert client.post("/introspect", data={"token": tokens.json["access_token"], "client_id": client_id},
                       environ_base=PROXY).status_code == 401


@pytest.mark.parametrize("with_x5c", [False, True])
def test_self_signed_tls_client_auth(app, client, with_x5c):
    cert = self_signed()
    key = jwk.import_key(cert.public_key(), "EC").as_dict()
    if with_x5c:
        import base64
        from cryptography.hazmat.primitives.serialization import Encoding
        key["x5c"] = [base64.b64encode(cert.public_bytes(Encoding.DER)).decode()]
    client_id, _ = tls_client(app, token_endpoint_auth_method="self_signed_tls_client_auth", jwks={"keys": [key]})
    response = client_credentials(client, client_id, cert)
    assert response.status_code == 200, response.json
    assert decode(app, response.json["access_token"]).claims["cnf"] == {"x5t#S256": thumbprint(cert)}
    for refused in (client_credentials(client, client_id, self_signed()), client_credentials(client, client_id)):
        assert refused.status_code == 401 and refused.json["error"] == "invalid_client"


def test_a_secret_does_not_authenticate_a_tls_client(app, client, client_certificates):
    client_id, _ = tls_client(app, tls_client_auth_san_dns="rp.example.vn")
    response = client_credentials(client, client_id, client_secret="guess")
    assert response.status_code == 401 and response.json["error"] == "invalid_client"


def test_mtls_settings_through_the_registration_endpoint(app, client, runner, client_certificates):
    token = runner.invoke(args=["clients", "registration-token"]).output.strip()
    registered = client.post("/connect/register", json={
        "redirect_uris": [REDIRECT], "grant_types": ["client_credentials"], "response_types": [],
        "token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_san_dns": "rp.example.vn"},
        headers={"Authorization": f"Bearer {token}"})
    assert registered.status_code == 201, registered.json
    assert "client_secret" not in registered.json and registered.json["tls_client_auth_san_dns"] == "rp.example.vn"
    assert client_credentials(client, registered.json["client_id"],
                              client_certificates.certs["rp_tls"][0]).status_code == 200
