"""Trust store, validation and revocation status (:mod:`~idp.accounts.certificates.validation`,
``trust_store``, ``revocation_status``): chains, keys, OCSP and CRLs, ``idp trust``."""
from __future__ import annotations

import base64
import os
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from idp.accounts.certificates.validation import CertificateRejected, parse_presented, thumbprint
from tests.accounts.certificates.helpers import rejection, validate
from tests.accounts.certificates.test_pki import T0, pem, vn_name


def test_good_certificates_validate(app, pki):
    valid = validate(app, pki, "citizen")
    assert valid.thumbprint == thumbprint(pki.certs["citizen"][0]) and not valid.hardware
    assert validate(app, pki, "officer").hardware  # its policy OID says "key in a token"


@pytest.mark.parametrize("label, code", [
    ("expired", "expired"), ("not_yet_valid", "not_yet_valid"), ("wrong_ku", "key_usage"),
    ("rsa1024", "weak_key"), ("revoked_crl", "revoked"), ("revoked_ocsp", "revoked"),
    ("unreachable", "revocation_unavailable"),
])
def test_bad_certificates_are_refused(app, pki, label, code):
    assert rejection(app, pki, label) == code


def test_wrong_ca_and_missing_intermediate(app, pki):
    assert rejection(app, pki, "wrong_ca", chain=[]) == "untrusted"
    assert rejection(app, pki, "citizen", chain=[]) == "untrusted"  # issuing CA neither sent nor trusted


def test_unreachable_revocation_can_fail_open(make_app, trust_dir, pki):
    app = make_app(IDP_CERT_REVOCATION_FAIL_OPEN=True)
    assert validate(app, pki, "unreachable").revocation[0].startswith("unknown:")
    assert rejection(app, pki, "revoked_ocsp") == "revoked"  # a definite answer still counts


def test_revocation_answers_are_cached_until_next_update(app, pki, clock):
    validate(app, pki, "citizen")
    before = dict(pki.requests)
    assert validate(app, pki, "citizen").revocation == ["ocsp:cache", "ocsp:cache"]
    assert pki.requests == before
    with pytest.raises(CertificateRejected):
        validate(app, pki, "revoked_crl")
    crl_fetches = pki.requests["crl"]
    with pytest.raises(CertificateRejected):
        validate(app, pki, "revoked_crl")
    assert pki.requests["crl"] == crl_fetches  # the CRL came from the cache
    # Past every nextUpdate the answers are asked for again.
    later = T0 + timedelta(days=30)
    ocsp_before = pki.requests["ocsp"]
    with pytest.raises(CertificateRejected):  # the OCSP responder's answers are dated, and now stale
        validate(app, pki, "citizen", now=later)
    assert pki.requests["ocsp"] > ocsp_before


@pytest.mark.parametrize("encoding", ["pem", "der"])
def test_local_crl_is_used_first(app, pki, trust_dir, encoding):
    crl = pki.inter.crl()
    raw = crl.public_bytes(serialization.Encoding.PEM if encoding == "pem" else serialization.Encoding.DER)
    os.makedirs(os.path.join(trust_dir, "crl"), exist_ok=True)
    with open(os.path.join(trust_dir, "crl", "inter." + encoding), "wb") as fh:
        fh.write(raw)
    before = dict(pki.requests)
    assert validate(app, pki, "citizen").revocation[0] == "crl:local"
    assert rejection(app, pki, "revoked_crl") == "revoked"
    assert pki.requests["crl"] == before["crl"]


def test_url_rewrites_reach_the_real_responder(make_app, trust_dir, pki):
    from cryptography.hazmat.primitives.asymmetric import ec
    key = ec.generate_private_key(ec.SECP256R1())
    cert = pki.inter.issue(vn_name("X", uids=["CCCD:096301001234"]), key.public_key(),
                           ocsp_url="http://ocsp.ca.ptc/ocsp/inter", crl_url=None)
    pki.certs["rewritten"] = (cert, key)
    app = make_app(IDP_CERT_URL_REWRITES=f"http://ocsp.ca.ptc={pki.base_url}")
    assert validate(app, pki, "rewritten").revocation[0] == "ocsp"


def test_a_der_certificate_ending_in_a_whitespace_byte_is_read_whole(pki):
    """DER is binary: a signature whose last byte happens to be 0x20 or 0x0a must not be trimmed."""
    from cryptography.hazmat.primitives.asymmetric import ec
    key = ec.generate_private_key(ec.SECP256R1())
    for _ in range(2000):  # about 1 signature in 43 ends in one of the 6 whitespace bytes
        cert = pki.inter.issue(vn_name("Trần Văn Bình", uids=["CCCD:096301001234"]), key.public_key(),
                               ocsp_url=None, crl_url=None)
        der = cert.public_bytes(serialization.Encoding.DER)
        if der[-1:].isspace():
            break
    else:
        pytest.fail("no certificate ending in a whitespace byte was made")
    assert parse_presented(der)[0] == cert


def test_chain_in_the_wrong_order_and_garbage(pki):
    text = pem(pki.inter.cert) + pem(pki.certs["citizen"][0])
    leaf, others = parse_presented(text)
    assert leaf == pki.certs["citizen"][0] and others == [pki.inter.cert]
    der = pki.certs["citizen"][0].public_bytes(serialization.Encoding.DER)
    assert parse_presented(der)[0] == pki.certs["citizen"][0]
    assert parse_presented(base64.b64encode(der))[0] == pki.certs["citizen"][0]
    for garbage in (b"", b"hello", der[:100], pem(pki.certs["citizen"][0])[:300].encode(), os.urandom(2000),
                    pem(pki.inter.cert).encode()):
        with pytest.raises(CertificateRejected) as info:
            parse_presented(garbage)
        assert info.value.code == "malformed"
    with pytest.raises(CertificateRejected) as info:
        parse_presented(b"0" * (65 * 1024))
    assert info.value.code == "too_large"


def test_trust_commands(app, runner, pki, tmp_path):
    der = tmp_path / "other.cer"
    der.write_bytes(pki.other_root.cert.public_bytes(serialization.Encoding.DER))
    inter = tmp_path / "inter.pem"
    inter.write_text(pem(pki.inter.cert))
    result = runner.invoke(args=["trust", "add", str(der), str(inter)])
    assert result.exit_code == 0, result.output
    assert "anchor" in result.output and "intermediate" in result.output
    listing = runner.invoke(args=["trust", "list"]).output
    assert listing.count("anchor") == 2 and "MotID Test Issuing CA" in listing
    # With the issuing CA trusted, a holder may send the leaf alone.
    assert validate(app, pki, "citizen", chain=[]).thumbprint
    leaf_file = tmp_path / "leaf.pem"
    leaf_file.write_text(pem(pki.certs["citizen"][0]))
    assert runner.invoke(args=["trust", "add", str(leaf_file)]).exit_code != 0  # not a CA
    garbage = tmp_path / "garbage.pem"
    garbage.write_bytes(b"-----BEGIN CERTIFICATE-----\nnonsense\n-----END CERTIFICATE-----\n")
    assert runner.invoke(args=["trust", "add", str(garbage)]).exit_code != 0
    fp = pki.other_root.cert.fingerprint(hashes.SHA256()).hex()
    assert runner.invoke(args=["trust", "remove", fp[:12]]).exit_code == 0
    assert "Untrusted Root CA" not in runner.invoke(args=["trust", "list"]).output
    assert runner.invoke(args=["trust", "remove", "zz"]).exit_code != 0
    check = tmp_path / "citizen.pem"
    check.write_text(pki.chain_pem("citizen"))
    assert runner.invoke(args=["certs", "check", str(check)]).output.startswith("valid")
    check.write_text(pki.chain_pem("revoked_ocsp"))
    assert "revoked" in runner.invoke(args=["certs", "check", str(check)]).output
    crl = tmp_path / "inter.crl"
    crl.write_bytes(pki.inter.crl().public_bytes(serialization.Encoding.DER))
    assert runner.invoke(args=["trust", "add", "--crl", str(crl)]).exit_code == 0
    assert "crl" in runner.invoke(args=["trust", "list"]).output


def test_x5t_s256_matches_rfc_8705(pki):
    import hashlib
    cert = pki.certs["citizen"][0]
    raw = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest()
    assert thumbprint(cert) == base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    assert isinstance(cert, x509.Certificate)
