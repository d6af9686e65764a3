"""The reference signing tool (``idp-sign`` / ``idp certs sign-challenge``) with a real PKCS#11 token
(SoftHSM2, installed by ``scripts/install-softhsm.sh`` when missing), a PKCS#12 file and PEM files.

The token's keys are generated on the token and never leave it; the test CA certifies their public
keys, and the certificates are stored on the token beside them, as a CA's USB token holds them.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import load_der_public_key, pkcs12

from idp.accounts.certificates.models import BoundCertificate
from motid_sign.command import sign_command
from idp.db import db
from tests.accounts.certificates.helpers import bound, browser, page_state
from tests.accounts.certificates.test_pki import HARDWARE_POLICY, pem, pki, trust_dir, vn_name  # noqa: F401
from tests.conftest import login

ROOT = Path(__file__).resolve().parents[3]
PIN, SO_PIN, LABEL = "246810", "13579113", "motid-test"
MODULES = ("/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
           "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so", "/usr/local/lib/softhsm/libsofthsm2.so")


def ensure_softhsm() -> str:
    if shutil.which("softhsm2-util") is None:
        result = subprocess.run(["bash", str(ROOT / "scripts" / "install-softhsm.sh")], capture_output=True,
                                text=True, timeout=900)
        if result.returncode != 0:
            pytest.fail("scripts/install-softhsm.sh failed:\n" + result.stdout[-2000:] + result.stderr[-2000:])
    module = next((m for m in MODULES if os.path.exists(m)), None)
    if module is None:
        pytest.fail("softhsm2 is installed but libsofthsm2.so was not found")
    return module


@pytest.fixture(scope="module")
def token(tmp_path_factory, pki):
    """A SoftHSM2 token holding an EC P-256 and an RSA-2048 key, each with its certificate."""
    pkcs11 = pytest.importorskip("pkcs11")
    from pkcs11 import Attribute, CertificateType, KeyType, ObjectClass
    from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters
    from pkcs11.util.rsa import encode_rsa_public_key

    module = ensure_softhsm()
    folder = tmp_path_factory.mktemp("softhsm")
    (folder / "tokens").mkdir()
    conf = folder / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {folder / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)  # read by the library when it is loaded, here and in idp-sign
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", LABEL, "--pin", PIN, "--so-pin", SO_PIN],
                   check=True, capture_output=True, timeout=60)
    lib = pkcs11.lib(module)
    with lib.get_token(token_label=LABEL).open(rw=True, user_pin=PIN) as session:
        params = session.create_domain_parameters(
            KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")}, local=True)
        ec_pub, _ = params.generate_keypair(store=True, label="chu-ky-so", id=b"\x01")
        rsa_pub, _ = session.generate_keypair(KeyType.RSA, 2048, store=True, label="rsa-key", id=b"\x02")
        public_keys = {"token_ec": load_der_public_key(encode_ec_public_key(ec_pub)),
                       "token_rsa": load_der_public_key(encode_rsa_public_key(rsa_pub))}
        for (label, public_key), key_id in zip(public_keys.items(), (b"\x01", b"\x02")):
            cert = pki.inter.issue(vn_name("NGUYỄN THỊ HOA", uids=["CCCD:096301001234"]), public_key,
                                   policies=(HARDWARE_POLICY,))
            pki.certs[label] = (cert, None)
            session.create_object({Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.TOKEN: True,
                                   Attribute.CERTIFICATE_TYPE: CertificateType.X_509, Attribute.ID: key_id,
                                   Attribute.LABEL: "cert-" + label, Attribute.SUBJECT: cert.subject.public_bytes(),
                                   Attribute.VALUE: cert.public_bytes(serialization.Encoding.DER)})
    chain = folder / "chain.pem"
    chain.write_text(pem(pki.inter.cert))
    return {"module": module, "conf": str(conf), "chain": str(chain)}


def idp_sign(token, *args, challenge):
    """``idp-sign`` as a holder runs it: a separate process, the PIN from the environment."""
    env = {**os.environ, "SOFTHSM2_CONF": token["conf"], "TOKEN_PIN": PIN}
    result = subprocess.run([sys.executable, "-m", "motid_sign", "--pkcs11-module", token["module"],
                             "--token-label", LABEL, "--pin-env", "TOKEN_PIN", "--chain", token["chain"],
                             "--challenge", challenge, *args], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def app(make_app, trust_dir):
    return make_app(IDP_CERT_HARDWARE_POLICIES=HARDWARE_POLICY)


@pytest.mark.parametrize("args", [["--key-label", "chu-ky-so"], ["--key-id", "02"], ["--key-id", "02", "--pss"]])
def test_bind_and_log_in_with_a_usb_token(app, accounts, token, args, pki):
    accounts()
    holder = browser(app)
    login(holder, "096301001234")
    challenge, csrf = page_state(holder, "/account/security/certificates")
    signed = idp_sign(token, *args, challenge=challenge)
    document = json.loads(signed)
    assert set(document) == {"challenge", "certificate", "chain", "signature"} and document["challenge"] == challenge
    response = holder.post("/account/security/certificates", data={"csrf_token": csrf, "response": signed})
    assert response.status_code == 302, response.get_data(as_text=True)[-800:]
    assert len(bound(app)) == 1
    # And log in with it from a kiosk.
    kiosk = browser(app)
    challenge, csrf = page_state(kiosk, "/login/certificate")
    response = kiosk.post("/login/certificate", data={"csrf_token": csrf,
                                                      "response": idp_sign(token, *args, challenge=challenge)})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.query(BoundCertificate).one().last_used_at is not None
    sessions = live_session_rows(app)
    assert ("urn:motid:loa:3", ["hwk"]) in sessions


def live_session_rows(app):
    from idp.accounts.models import SsoSession
    with app.app_context():
        return [(row.acr, row.amr) for row in db.session.query(SsoSession).filter(SsoSession.ended_at.is_(None))]


def test_wrong_pin_and_missing_key_fail_cleanly(token):
    env = {**os.environ, "SOFTHSM2_CONF": token["conf"], "TOKEN_PIN": "000000"}
    base = [sys.executable, "-m", "motid_sign", "--pkcs11-module", token["module"], "--token-label", LABEL,
            "--pin-env", "TOKEN_PIN", "--challenge", "MotID login http://localhost abc"]
    wrong_pin = subprocess.run(base, env=env, capture_output=True, text=True, timeout=60)
    assert wrong_pin.returncode != 0 and "could not sign" in wrong_pin.stderr and "Traceback" not in wrong_pin.stderr
    env["TOKEN_PIN"] = PIN
    missing = subprocess.run(base + ["--key-label", "nothing-here"], env=env, capture_output=True, text=True,
                             timeout=60)
    assert missing.returncode != 0 and "Traceback" not in missing.stderr
    not_motid = subprocess.run(base[:-1] + ["something else"], env=env, capture_output=True, text=True, timeout=60)
    assert not_motid.returncode != 0


def test_pkcs12_and_pem_files(app, accounts, pki, tmp_path):
    accounts()
    cert, key = pki.certs["citizen_rsa"]
    p12 = tmp_path / "hoa.p12"
    p12.write_bytes(pkcs12.serialize_key_and_certificates(
        b"hoa", key, cert, [pki.inter.cert], serialization.BestAvailableEncryption(b"mat-khau-p12")))
    cli = app.test_cli_runner()
    holder = browser(app)
    login(holder, "096301001234")
    challenge, csrf = page_state(holder, "/account/security/certificates")
    result = cli.invoke(sign_command, ["--pkcs12", str(p12), "--pin-stdin", "--challenge", challenge],
                        input="mat-khau-p12\n")
    assert result.exit_code == 0, result.output
    assert holder.post("/account/security/certificates",
                       data={"csrf_token": csrf, "response": result.output}).status_code == 302
    # PEM key and certificate, through `idp certs sign-challenge`, the challenge on standard input.
    cert, key = pki.certs["citizen"]
    key_file, cert_file = tmp_path / "key.pem", tmp_path / "cert.pem"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    cert_file.write_text(pki.chain_pem("citizen"))
    challenge, csrf = page_state(holder, "/account/security/certificates")
    result = app.test_cli_runner().invoke(args=["certs", "sign-challenge", "--key", str(key_file), "--certificate",
                                                str(cert_file)], input=challenge + "\n")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["chain"] == [pem(pki.inter.cert)]
    assert holder.post("/account/security/certificates",
                       data={"csrf_token": csrf, "response": result.output}).status_code == 302
    assert len(bound(app)) == 2
    wrong = cli.invoke(sign_command, ["--pkcs12", str(p12), "--pin-stdin", "--challenge", challenge], input="x\n")
    assert wrong.exit_code != 0 and "could not be opened" in wrong.output
    assert cli.invoke(sign_command, ["--challenge", challenge]).exit_code != 0  # no key source
