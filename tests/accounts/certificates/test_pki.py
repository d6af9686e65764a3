"""A test PKI shaped like Vietnam's, built with cryptography, and a real CRL/OCSP server on loopback.

A national-style root (RSA), an issuing CA (ECDSA P-256), subscriber certificates carrying UID
values (``CCCD:``, ``MST:``…), and the negative ones the issue lists. The server publishes each
CA's CRL (DER, and PEM as some CAs do) and answers OCSP requests (RFC 6960) for it. The other
certificate test modules import the fixtures from here; the tests below check the PKI itself
against cryptography's own parsers, so a wrong fixture cannot make the real tests pass.
"""
from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

from tests.conftest import free_port

T0 = datetime(2026, 11, 27, 8, 0, 0, tzinfo=timezone.utc)  # the test clock's start (tests/conftest.py)
HARDWARE_POLICY = "1.3.6.1.4.1.99999.1.1"  # "key in a USB token" in this test PKI


def _validity_base() -> tuple[datetime, datetime]:
    """Both the test clock and the wall clock (a real `idp serve`) must fall inside every window."""
    real = datetime.now(timezone.utc)
    return min(real, T0), max(real, T0)


def vn_name(cn: str, *, uids=(), org: str | None = None, province: str = "Cà Mau") -> x509.Name:
    rdns = [x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COUNTRY_NAME, "VN")]),
            x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, province)])]
    if org:
        rdns.append(x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)]))
    for uid in uids:
        rdns.append(x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.USER_ID, uid)]))
    rdns.append(x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
    return x509.Name(rdns)


def ec_key():
    return ec.generate_private_key(ec.SECP256R1())


@dataclass
class CA:
    name: str
    key: object
    cert: x509.Certificate
    base_url: str
    revoked_crl: set = field(default_factory=set)
    revoked_ocsp: set = field(default_factory=set)
    unknown_ocsp: set = field(default_factory=set)

    def issue(self, subject: x509.Name, public_key, *, ca=False, not_before=None, not_after=None,
              key_usage=None, ocsp_url="default", crl_url="default", policies=(), eku=None,
              issuer_ca: "CA | None" = None) -> x509.Certificate:
        start, end = _validity_base()
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(self.cert.subject)
                   .public_key(public_key).serial_number(x509.random_serial_number())
                   .not_valid_before(not_before or start - timedelta(days=30))
                   .not_valid_after(not_after or end + timedelta(days=365))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                                  critical=False))
        usage = key_usage or (dict(key_cert_sign=True, crl_sign=True) if ca
                              else dict(digital_signature=True, content_commitment=True))
        flags = dict(digital_signature=False, content_commitment=False, key_encipherment=False,
                     data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                     encipher_only=False, decipher_only=False)
        flags.update(usage)
        builder = builder.add_extension(x509.KeyUsage(**flags), critical=True)
        if ocsp_url:
            url = f"{self.base_url}/ocsp/{self.name}" if ocsp_url == "default" else ocsp_url
            builder = builder.add_extension(x509.AuthorityInformationAccess([x509.AccessDescription(
                x509.oid.AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(url))]), critical=False)
        if crl_url:
            url = f"{self.base_url}/crl/{self.name}.crl" if crl_url == "default" else crl_url
            builder = builder.add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
                [x509.UniformResourceIdentifier(url)], None, None, None)]), critical=False)
        if policies:
            builder = builder.add_extension(x509.CertificatePolicies([
                x509.PolicyInformation(x509.ObjectIdentifier(oid), None) for oid in policies]), critical=False)
        if eku:
            builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
        return builder.sign(self.key, hashes.SHA256())

    def crl(self, *, next_update=None) -> x509.CertificateRevocationList:
        start, end = _validity_base()
        builder = (x509.CertificateRevocationListBuilder().issuer_name(self.cert.subject)
                   .last_update(start - timedelta(hours=1)).next_update(next_update or end + timedelta(days=7)))
        for serial in sorted(self.revoked_crl):
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(start - timedelta(days=1)).build())
        return builder.sign(self.key, hashes.SHA256())


def make_root(name: str, base_url: str, *, cn: str) -> CA:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = vn_name(cn, org="Bộ Khoa học và Công nghệ (thử nghiệm)", province="Hà Nội")
    start, end = _validity_base()
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start - timedelta(days=3650))
            .not_valid_after(end + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return CA(name, key, cert, base_url)


class Pki:
    """Everything the certificate tests use, built once per test session."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.requests = {"ocsp": 0, "crl": 0}
        self.root = make_root("root", base_url, cn="MotID Test National Root CA")
        inter_key = ec_key()
        inter_cert = self.root.issue(vn_name("MotID Test Issuing CA", org="MotID CA thử nghiệm"),
                                     inter_key.public_key(), ca=True)
        self.inter = CA("inter", inter_key, inter_cert, base_url)
        self.other_root = make_root("other", base_url, cn="Untrusted Root CA")
        self.cas = {ca.name: ca for ca in (self.root, self.inter, self.other_root)}
        self.certs: dict[str, tuple[x509.Certificate, object]] = {}
        start, end = _validity_base()
        self.leaf("citizen", ["CCCD:096301001234"], "NGUYỄN THỊ HOA")
        self.leaf("citizen_rsa", ["CCCD:096301001234"], "NGUYỄN THỊ HOA",
                  key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
        self.leaf("officer", ["MST:0100109106", "CCCD:096190000456"], "TRẦN MINH CHÂU",
                  org="Sở Thông tin và Truyền thông Cà Mau", policies=(HARDWARE_POLICY,))
        self.leaf("business", ["MST:0100109106"], "CÔNG TY TNHH THỬ NGHIỆM", org="CÔNG TY TNHH THỬ NGHIỆM")
        self.leaf("cmnd", ["CMND:381234567"], "LÊ VĂN TÁM")
        self.leaf("mismatch", ["CCCD:096301009999"], "NGUYỄN THỊ HOA")
        self.leaf("no_uid", [], "NGUYỄN THỊ HOA")
        self.leaf("expired", ["CCCD:096301001234"], "NGUYỄN THỊ HOA",
                  not_before=start - timedelta(days=400), not_after=start - timedelta(days=1))
        self.leaf("not_yet_valid", ["CCCD:096301001234"], "NGUYỄN THỊ HOA",
                  not_before=end + timedelta(days=10), not_after=end + timedelta(days=400))
        self.leaf("expiring", ["CCCD:096301001234"], "NGUYỄN THỊ HOA", not_after=T0 + timedelta(days=20))
        self.leaf("revoked_crl", ["CCCD:096301001234"], "NGUYỄN THỊ HOA", ocsp_url=None)
        self.leaf("revoked_ocsp", ["CCCD:096301001234"], "NGUYỄN THỊ HOA")
        self.leaf("wrong_ku", ["CCCD:096301001234"], "NGUYỄN THỊ HOA", key_usage=dict(key_encipherment=True))
        self.leaf("rsa1024", ["CCCD:096301001234"], "NGUYỄN THỊ HOA",
                  key=rsa.generate_private_key(public_exponent=65537, key_size=1024))
        self.leaf("unreachable", ["CCCD:096301001234"], "NGUYỄN THỊ HOA",
                  ocsp_url=f"http://127.0.0.1:{free_port()}/ocsp", crl_url=None)
        self.leaf("wrong_ca", ["CCCD:096301001234"], "NGUYỄN THỊ HOA", ca=self.other_root)
        self.inter.revoked_crl.add(self.certs["revoked_crl"][0].serial_number)
        self.inter.revoked_ocsp.add(self.certs["revoked_ocsp"][0].serial_number)

    def leaf(self, label, uids, cn, *, key=None, ca=None, org=None, **options):
        key = key or ec_key()
        cert = (ca or self.inter).issue(vn_name(cn, uids=uids, org=org), key.public_key(), **options)
        self.certs[label] = (cert, key)
        return cert, key

    def chain_pem(self, label: str) -> str:
        """The leaf and the issuing CA, as a holder's software presents them."""
        cert, _ = self.certs[label]
        issuer = self.other_root.cert if label == "wrong_ca" else self.inter.cert
        return pem(cert) + (pem(issuer) if label != "wrong_ca" else "")

    def signed(self, label: str, challenge: str, *, pss=False, chain=True, message: str | None = None) -> str:
        """What ``idp-sign`` prints, made with the test key (signing ``message`` instead, if given)."""
        cert, key = self.certs[label]
        data = (message if message is not None else challenge).encode()
        if isinstance(key, rsa.RSAPrivateKey):
            pad = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32) if pss else padding.PKCS1v15()
            signature = key.sign(data, pad, hashes.SHA256())
        else:
            signature = key.sign(data, ec.ECDSA(hashes.SHA256()))
        issuer = [] if label == "wrong_ca" or not chain else [pem(self.inter.cert)]
        return json.dumps({"challenge": challenge, "certificate": pem(cert), "chain": issuer,
                           "signature": base64.b64encode(signature).decode()})

    # -- what the server answers ----------------------------------------------------------------
    def ocsp_response(self, ca_name: str, body: bytes) -> bytes:
        ca = self.cas[ca_name]
        request = ocsp.load_der_ocsp_request(body)
        start, end = _validity_base()
        serial = request.serial_number
        issued = next((c for c, _ in self.certs.values() if c.serial_number == serial), None)
        if issued is None and ca_name == "root" and serial == self.inter.cert.serial_number:
            issued = self.inter.cert
        if issued is None:
            return ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED).public_bytes(
                serialization.Encoding.DER)
        if serial in ca.revoked_ocsp:
            status, when = ocsp.OCSPCertStatus.REVOKED, start - timedelta(days=1)
        elif serial in ca.unknown_ocsp:
            status, when = ocsp.OCSPCertStatus.UNKNOWN, None
        else:
            status, when = ocsp.OCSPCertStatus.GOOD, None
        builder = (ocsp.OCSPResponseBuilder()
                   .add_response(cert=issued, issuer=ca.cert, algorithm=hashes.SHA1(), cert_status=status,
                                 this_update=start - timedelta(hours=1), next_update=end + timedelta(days=2),
                                 revocation_time=when, revocation_reason=None if when is None
                                 else x509.ReasonFlags.key_compromise)
                   .responder_id(ocsp.OCSPResponderEncoding.HASH, ca.cert))
        return builder.sign(ca.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def start_server(pki_holder: dict):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _send(self, status, body=b"", ctype="application/octet-stream"):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):  # noqa: N802 (http.server's naming)
            pki = pki_holder["pki"]
            name = self.path.rsplit("/", 1)[-1]
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if not self.path.startswith("/ocsp/") or name not in pki.cas or \
                    self.headers.get("Content-Type") != "application/ocsp-request":
                return self._send(404)
            pki.requests["ocsp"] += 1
            self._send(200, pki.ocsp_response(name, body), "application/ocsp-response")

        def do_GET(self):  # noqa: N802
            pki = pki_holder["pki"]
            if not self.path.startswith("/crl/"):
                return self._send(404)
            name, _, ext = self.path.rsplit("/", 1)[-1].partition(".")
            if name not in pki.cas:
                return self._send(404)
            pki.requests["crl"] += 1
            crl = pki.cas[name].crl()
            encoding = serialization.Encoding.PEM if ext == "pem" else serialization.Encoding.DER
            self._send(200, crl.public_bytes(encoding), "application/pkix-crl")

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="session")
def pki():
    holder = {}
    server = start_server(holder)
    holder["pki"] = Pki(f"http://127.0.0.1:{server.server_address[1]}")
    yield holder["pki"]
    server.shutdown()


@pytest.fixture
def trust_dir(config, pki):
    """keys/trust/ of the test app, holding the test root only (holders present the issuing CA)."""
    import os
    folder = os.path.join(config["IDP_KEYS_PATH"], "trust")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "root.pem"), "w") as fh:
        fh.write(pem(pki.root.cert))
    return folder


# -- the PKI itself ---------------------------------------------------------------------------------
def test_subscriber_certificates_carry_uid_values(pki):
    officer, _ = pki.certs["officer"]
    values = [a.value for a in officer.subject.get_attributes_for_oid(NameOID.USER_ID)]
    assert values == ["MST:0100109106", "CCCD:096190000456"]
    assert officer.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "VN"
    # UTF8String, as Vietnamese CAs encode it
    assert b"\x0c\x11CCCD:096190000456" in officer.public_bytes(serialization.Encoding.DER)


def test_ocsp_responder_speaks_rfc_6960(pki):
    import requests
    cert, _ = pki.certs["revoked_ocsp"]
    request = ocsp.OCSPRequestBuilder().add_certificate(cert, pki.inter.cert, hashes.SHA1()).build()
    answer = requests.post(f"{pki.base_url}/ocsp/inter", data=request.public_bytes(serialization.Encoding.DER),
                           headers={"Content-Type": "application/ocsp-request"}, timeout=5)
    response = ocsp.load_der_ocsp_response(answer.content)
    assert answer.headers["Content-Type"] == "application/ocsp-response"
    assert response.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert response.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert response.serial_number == cert.serial_number


def test_crl_is_published_in_der_and_pem(pki):
    import requests
    der = requests.get(f"{pki.base_url}/crl/inter.crl", timeout=5).content
    pem_crl = requests.get(f"{pki.base_url}/crl/inter.pem", timeout=5).content
    for crl in (x509.load_der_x509_crl(der), x509.load_pem_x509_crl(pem_crl)):
        assert crl.is_signature_valid(pki.inter.cert.public_key())
        assert crl.get_revoked_certificate_by_serial_number(pki.certs["revoked_crl"][0].serial_number)

