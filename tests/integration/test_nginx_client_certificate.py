"""A real nginx (installed by ``scripts/install-nginx.sh`` when missing) terminating TLS with
``ssl_verify_client optional_no_ca`` in front of a real ``idp serve``: log in with a TLS client
certificate, get certificate-bound tokens (RFC 8705), and see a forged header refused.

The server certificate comes from a TLS test CA made here with cryptography; the person's
certificate from the Vietnamese-shaped test PKI, whose CRL/OCSP server runs on loopback.
"""
from __future__ import annotations

import http.client
import ipaddress
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from idp.accounts.certificates.validation import thumbprint
from tests.accounts.certificates.test_pki import _validity_base, pem, pki  # noqa: F401
from tests.conftest import PASSWORD, free_port
from tests.oidc.helpers import hidden_fields

ROOT = Path(__file__).resolve().parents[2]
CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')
REDIRECT = "https://rp.example.vn/cb"


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if found is None:
        result = subprocess.run(["bash", str(ROOT / "scripts" / "install-nginx.sh")], capture_output=True, text=True,
                                timeout=900)
        if result.returncode != 0:
            pytest.fail("scripts/install-nginx.sh failed:\n" + result.stdout[-2000:] + result.stderr[-2000:])
        found = shutil.which("nginx") or "/usr/sbin/nginx"
    return found


def tls_server_files(folder: Path) -> Path:
    """A TLS test CA and a server certificate for 127.0.0.1; returns the CA file for the clients."""
    start, end = _validity_base()
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "MotID test TLS CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(start - timedelta(days=1))
          .not_valid_after(end + timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start - timedelta(days=1)).not_valid_after(end + timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    (folder / "server.pem").write_text(pem(cert))
    (folder / "server.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                          serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()))
    (folder / "tls-ca.pem").write_text(pem(ca))
    return folder / "tls-ca.pem"


NGINX_CONF = """
{user}
daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {dir}/tmp-body;
    proxy_temp_path {dir}/tmp-proxy;
    fastcgi_temp_path {dir}/tmp-fastcgi;
    uwsgi_temp_path {dir}/tmp-uwsgi;
    scgi_temp_path {dir}/tmp-scgi;
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name 127.0.0.1;  # the issuer's host (docs/nginx.conf)
        ssl_certificate {dir}/server.pem;
        ssl_certificate_key {dir}/server.key;
        # nginx proves the client holds the key; MotID judges the certificate (chain, revocation).
        ssl_verify_client optional_no_ca;
        location / {{
            proxy_pass http://127.0.0.1:{app_port};
            proxy_set_header Host $host:$server_port;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto https;
            proxy_set_header X-Forwarded-Host $host:$server_port;
            # Always set, so a client's own header of this name never reaches MotID.
            proxy_set_header X-SSL-Client-Cert $ssl_client_escaped_cert;
        }}
    }}
}}
"""


def wait_for(url: str, process, what: str, **kwargs) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            requests.get(url, timeout=1, **kwargs)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    process.kill()
    pytest.fail(f"{what} did not start: " + (process.stderr.read().decode()[-2000:] if process.stderr else ""))


def run_idp(env, *args, stdin=None) -> str:
    result = subprocess.run([sys.executable, "-m", "idp", *args], env=env, capture_output=True, text=True,
                            input=stdin, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip()


@pytest.fixture(scope="module")
def stack(tmp_path_factory, pki):
    """nginx (TLS, client certificates) → idp serve → SQLite, with one citizen whose certificate is bound;
    one for the module (each test uses its own browser session and clients)."""
    tmp_path = tmp_path_factory.mktemp("nginx-stack")
    nginx = nginx_binary()
    app_port, tls_port = free_port(), free_port()
    base = f"https://127.0.0.1:{tls_port}"
    trust = tmp_path / "keys" / "trust"
    trust.mkdir(parents=True)
    (trust / "root.pem").write_text(pem(pki.root.cert))
    (trust / "issuing-ca.pem").write_text(pem(pki.inter.cert))  # nginx forwards the leaf alone
    env = {**os.environ, "IDP_ISSUER": base, "IDP_KEYS_PATH": str(tmp_path / "keys"),
           "IDP_INSTANCE_PATH": str(tmp_path / "inst"), "IDP_DATABASE_URL": "", "IDP_ARGON2_TIME_COST": "1",
           "IDP_ARGON2_MEMORY_KIB": "1024", "IDP_PROXY_HOPS": "1", "IDP_CERT_PROXY_ADDRESSES": "127.0.0.1"}
    run_idp(env, "db", "upgrade")
    run_idp(env, "accounts", "create", "--kind", "citizen", "--citizen-id", "096301001234", "--name",
            "Nguyễn Thị Hoa", "--email", "hoa@example.vn", "--password-stdin", stdin=PASSWORD + "\n")
    challenge = run_idp(env, "accounts", "bind-certificate", "096301001234", "--challenge")
    signed = tmp_path / "signed.json"
    signed.write_text(pki.signed("citizen", challenge))
    run_idp(env, "accounts", "bind-certificate", "096301001234", "--response", str(signed))
    token = run_idp(env, "clients", "registration-token")

    app = subprocess.Popen([sys.executable, "-m", "idp", "serve", "--port", str(app_port), "--workers", "1",
                            "--no-worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_for(f"http://127.0.0.1:{app_port}/healthz", app, "idp serve")
    ca_file = tls_server_files(tmp_path)
    conf = tmp_path / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=tmp_path, port=tls_port, app_port=app_port,
                                      user="user root;" if os.geteuid() == 0 else ""))
    proxy = subprocess.Popen([nginx, "-e", str(tmp_path / "error.log"), "-p", str(tmp_path), "-c", str(conf)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_for(base + "/healthz", proxy, "nginx", verify=str(ca_file))
    cert, key = pki.certs["citizen"]
    (tmp_path / "citizen.pem").write_text(pem(cert))
    (tmp_path / "citizen.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                             serialization.PrivateFormat.PKCS8,
                                                             serialization.NoEncryption()))
    yield {"base": base, "ca": str(ca_file), "app_port": app_port, "registration_token": token,
           "client_cert": (str(tmp_path / "citizen.pem"), str(tmp_path / "citizen.key")),
           "thumbprint": thumbprint(cert), "error_log": tmp_path / "error.log"}
    proxy.terminate()
    app.terminate()
    proxy.wait(timeout=20)
    app.wait(timeout=20)


def browser(stack, with_certificate: bool) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would override session.verify
    session.verify = stack["ca"]
    session.cookies.set("motid_lang", "en", domain="127.0.0.1")
    if with_certificate:
        session.cert = stack["client_cert"]
    return session


def tls_login(stack, session) -> requests.Response:
    page = session.get(stack["base"] + "/login/certificate")
    assert page.status_code == 200, page.text[-500:]
    token = CSRF.search(page.text.split('action="/login/certificate/tls', 1)[1]).group(1)
    # Flask-WTF checks the Referer of HTTPS form posts (WTF_CSRF_SSL_STRICT); see the report on
    # Referrer-Policy: no-referrer, with which a real browser sends none.
    return session.post(stack["base"] + "/login/certificate/tls", data={"csrf_token": token}, allow_redirects=False,
                        headers={"Referer": page.url})


def test_login_with_a_tls_client_certificate_through_nginx(stack):
    holder = browser(stack, with_certificate=True)
    response = tls_login(stack, holder)
    assert response.status_code == 302 and response.headers["Location"].endswith("/account"), response.text[-500:]
    assert "motid_sso" in holder.cookies
    home = holder.get(stack["base"] + "/account")
    assert home.status_code == 200 and "Nguyễn Thị Hoa" in home.text

    # A browser that presents no certificate is not logged in.
    anonymous = browser(stack, with_certificate=False)
    refused = tls_login(stack, anonymous)
    assert refused.status_code == 302 and "motid_sso" not in anonymous.cookies
    assert "did not present a certificate" in anonymous.get(stack["base"] + "/login/certificate").text


def test_forged_header_from_an_untrusted_address_is_refused(stack):
    # Straight to gunicorn, from a loopback address that is not the proxy's.
    cert_header = quote(open(stack["client_cert"][0]).read())
    connection = http.client.HTTPConnection("127.0.0.1", stack["app_port"], timeout=10,
                                            source_address=("127.0.0.9", 0))
    connection.request("GET", "/login/certificate", headers={"Cookie": "motid_lang=en"})
    page = connection.getresponse()
    body = page.read().decode()
    cookie = page.getheader("Set-Cookie").split(";", 1)[0]
    token = CSRF.search(body.split('action="/login/certificate/tls', 1)[1]).group(1)
    connection.request("POST", "/login/certificate/tls", body=f"csrf_token={quote(token)}",
                       headers={"Content-Type": "application/x-www-form-urlencoded", "X-SSL-Client-Cert": cert_header,
                                "Cookie": cookie + "; motid_lang=en", "X-Forwarded-For": "127.0.0.1"})
    answer = connection.getresponse()
    answer.read()
    assert answer.status == 302 and "motid_sso" not in (answer.getheader("Set-Cookie") or "")
    connection.close()


def test_certificate_bound_tokens_through_nginx(stack):
    registered = requests.post(stack["base"] + "/connect/register", verify=stack["ca"], json={
        "redirect_uris": [REDIRECT], "client_name": "Ứng dụng ký số tại quầy",
        "grant_types": ["authorization_code"], "tls_client_certificate_bound_access_tokens": True},
        headers={"Authorization": "Bearer " + stack["registration_token"]})
    assert registered.status_code == 201, registered.text
    client = registered.json()
    assert client["tls_client_certificate_bound_access_tokens"] is True
    holder = browser(stack, with_certificate=True)
    assert tls_login(stack, holder).status_code == 302
    params = {"response_type": "code", "client_id": client["client_id"], "redirect_uri": REDIRECT,
              "scope": "openid profile", "state": "s-1", "nonce": "n-1", "acr_values": "urn:motid:loa:3"}
    response = holder.get(stack["base"] + "/authorize", params=params, allow_redirects=False)
    if response.status_code == 200:  # consent for a dynamically registered client
        response = holder.post(stack["base"] + "/authorize", data={**hidden_fields(response.text),
                                                                   "_motid_consent": "allow"}, allow_redirects=False)
    assert response.status_code == 302 and response.headers["Location"].startswith(REDIRECT), response.text[-500:]
    code = parse_qs(urlsplit(response.headers["Location"]).query)["code"][0]
    auth = (client["client_id"], client["client_secret"])
    tokens = requests.post(stack["base"] + "/token", verify=stack["ca"], auth=auth, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}).json()
    info = requests.post(stack["base"] + "/introspect", verify=stack["ca"], auth=auth,
                         data={"token": tokens["access_token"]}).json()
    assert info["active"] and info["cnf"] == {"x5t#S256": stack["thumbprint"]} and info["acr"] == "urn:motid:loa:3"
    bearer = {"Authorization": "Bearer " + tokens["access_token"]}
    assert requests.get(stack["base"] + "/userinfo", verify=stack["ca"], headers=bearer).status_code == 401
    with_cert = requests.get(stack["base"] + "/userinfo", verify=stack["ca"], headers=bearer,
                             cert=stack["client_cert"])
    assert with_cert.status_code == 200 and with_cert.json()["name"] == "Nguyễn Thị Hoa"


def test_tokens_requested_over_mutual_tls_carry_cnf_through_nginx(stack):
    """A certificate login whose token request also comes over mutual TLS (the person's own client, e.g.
    a kiosk app on their token): the tokens are bound to that certificate although the client did not
    register tls_client_certificate_bound_access_tokens; the same request without a certificate gets a
    bearer token."""
    registered = requests.post(stack["base"] + "/connect/register", verify=stack["ca"], json={
        "redirect_uris": [REDIRECT], "client_name": "Ki-ốt dịch vụ công", "grant_types": ["authorization_code"]},
        headers={"Authorization": "Bearer " + stack["registration_token"]})
    assert registered.status_code == 201, registered.text
    client = registered.json()
    holder = browser(stack, with_certificate=True)
    assert tls_login(stack, holder).status_code == 302
    auth = (client["client_id"], client["client_secret"])

    def tokens(**tls):
        params = {"response_type": "code", "client_id": client["client_id"], "redirect_uri": REDIRECT,
                  "scope": "openid profile", "state": "s-2", "nonce": "n-2"}
        response = holder.get(stack["base"] + "/authorize", params=params, allow_redirects=False)
        if response.status_code == 200:  # consent for a dynamically registered client
            response = holder.post(stack["base"] + "/authorize", data={**hidden_fields(response.text),
                                                                       "_motid_consent": "allow"},
                                   allow_redirects=False)
        code = parse_qs(urlsplit(response.headers["Location"]).query)["code"][0]
        return requests.post(stack["base"] + "/token", verify=stack["ca"], auth=auth, data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}, **tls).json()

    def introspect(access_token):
        return requests.post(stack["base"] + "/introspect", verify=stack["ca"], auth=auth,
                             data={"token": access_token}).json()

    bound = tokens(cert=stack["client_cert"])["access_token"]
    assert introspect(bound)["cnf"] == {"x5t#S256": stack["thumbprint"]}
    bearer = {"Authorization": "Bearer " + bound}
    assert requests.get(stack["base"] + "/userinfo", verify=stack["ca"], headers=bearer).status_code == 401
    assert requests.get(stack["base"] + "/userinfo", verify=stack["ca"], headers=bearer,
                        cert=stack["client_cert"]).status_code == 200
    plain = tokens()["access_token"]
    assert "cnf" not in introspect(plain)
    assert requests.get(stack["base"] + "/userinfo", verify=stack["ca"],
                        headers={"Authorization": "Bearer " + plain}).status_code == 200
