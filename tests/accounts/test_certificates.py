"""Digital-signature certificates: identity parsing, trust, validation, revocation, binding, login at
level 3, removal, expiry warnings, the TLS client-certificate header and certificate-bound tokens."""
from __future__ import annotations

import base64
import json
import os
import re
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from idp.accounts.cert_identity import parse_subject
from idp.accounts.cert_models import BoundCertificate, CertificateChallenge, RevocationAnswer
from idp.accounts.cert_validation import CertificateRejected, parse_presented, thumbprint
from idp.accounts.models import SsoSession
from idp.db import db
from idp.events import AuditEvent
from tests.accounts.test_certificates_pki import HARDWARE_POLICY, T0, pem, pki, trust_dir, vn_name  # noqa: F401
from tests.conftest import CSRF_RE, PASSWORD, login, post_form
from tests.oidc.helpers import auth_params, basic, callback, decode, exchange, make_client

CHALLENGE_RE = re.compile(r'<code id="certificate-challenge">([^<]+)</code>')


@pytest.fixture
def app(make_app, trust_dir):
    return make_app(IDP_CERT_HARDWARE_POLICIES=HARDWARE_POLICY, IDP_CERT_PROXY_ADDRESSES="10.9.8.7/32")


def browser(app):
    """A test browser reading English (the Vietnamese texts come from the catalogues)."""
    made = app.test_client()
    made.set_cookie("motid_lang", "en")
    return made


@pytest.fixture
def client(app):
    return browser(app)


def page_state(client, path):
    """The challenge a page shows and its CSRF token (one GET: each GET issues a new challenge)."""
    page = client.get(path).get_data(as_text=True)
    return CHALLENGE_RE.search(page).group(1), CSRF_RE.search(page).group(1)


def challenge_of(client, path):
    return page_state(client, path)[0]


def submit(client, path, label, pki, **kwargs):
    challenge, token = page_state(client, path)
    return client.post(path, data={"csrf_token": token, "response": pki.signed(label, challenge, **kwargs)})


def bind(client, pki, label, **kwargs):
    return submit(client, "/account/security/certificates", label, pki, **kwargs)


def bound(app):
    with app.app_context():
        return [(row.account_id, row.thumbprint) for row in db.session.query(BoundCertificate)]


def tags(app, prefix="account:certificate"):
    with app.app_context():
        return [(e.tag, e.details) for e in db.session.query(AuditEvent).order_by(AuditEvent.id)
                if e.tag.startswith(prefix)]


def live_session(app):
    with app.app_context():
        row = db.session.query(SsoSession).filter(SsoSession.ended_at.is_(None)).one()
        return row.acr, row.amr, row.account_id


def validator(app):
    return app.extensions["idp.certificates"].validator


def validate(app, pki, label, chain=None, now=T0):
    cert, _ = pki.certs[label]
    with app.app_context():
        return validator(app).validate(cert, [pki.inter.cert] if chain is None else chain, now)


def rejection(app, pki, label, **kwargs):
    with pytest.raises(CertificateRejected) as info:
        validate(app, pki, label, **kwargs)
    return info.value.code


# -- identity: the replaceable UID parser ------------------------------------------------------------
def test_uid_values_are_multi_valued_and_normalised(pki):
    identity = parse_subject(pki.certs["officer"][0])
    assert identity.tax_codes == ["0100109106"] and identity.citizen_ids == ["096190000456"]


@pytest.mark.parametrize("uids, field, expected", [
    (["cccd: 096 301 001 234"], "citizen_ids", ["096301001234"]),
    (["CMND:381234567"], "legacy_ids", ["381234567"]),
    (["HC:c1234567"], "passports", ["C1234567"]),
    (["MST:0100109106-001"], "tax_codes", ["0100109106-001"]),
    (["MST:0101234567", "MNS:1047665"], "budget_codes", ["1047665"]),
    (["BHXH:7912345678"], "social_insurance", ["7912345678"]),
    (["CCCD:999301001234"], "other", ["CCCD:999301001234"]),  # not a province prefix
    (["PID:123", "no prefix"], "other", ["PID:123", "no prefix"]),
])
def test_uid_prefixes(uids, field, expected, pki):
    from cryptography.hazmat.primitives.asymmetric import ec
    key = ec.generate_private_key(ec.SECP256R1())
    cert = pki.inter.issue(vn_name("X", uids=uids), key.public_key())
    assert getattr(parse_subject(cert), field) == expected


def test_common_name_is_never_identity(pki):
    assert parse_subject(pki.certs["no_uid"][0]).is_empty


def test_parser_is_replaceable(make_app, trust_dir, pki, accounts):
    app = make_app(IDP_CERT_IDENTITY_PARSER="tests.accounts.test_certificates:pretend_parser")
    assert app.extensions["idp.certificates"].parse_identity is pretend_parser


def pretend_parser(certificate):
    return parse_subject(certificate)


# -- trust store and validation ---------------------------------------------------------------------
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


# -- binding --------------------------------------------------------------------------------------
def test_citizen_binds_a_certificate(app, client, accounts, pki):
    ids = accounts(email="hoa@example.vn")
    login(client, "hoa@example.vn")
    response = bind(client, pki, "citizen")
    assert response.status_code == 302
    assert bound(app) == [(ids["id"], thumbprint(pki.certs["citizen"][0]))]
    page = client.get("/account/security/certificates").get_data(as_text=True)
    assert "MotID Test Issuing CA" in page and format(pki.certs["citizen"][0].serial_number, "x") in page
    assert tags(app)[-1][0] == "account:certificate:bind"


def test_rsa_pkcs1_and_pss_signatures(app, client, accounts, pki):
    accounts()
    login(client, "096301001234")
    assert bind(client, pki, "citizen_rsa", pss=True).status_code == 302
    assert bind(client, pki, "citizen").status_code == 302
    assert len(bound(app)) == 2


@pytest.mark.parametrize("label, message", [
    ("mismatch", "does not match your account"), ("cmnd", "administrator"),
    ("no_uid", "does not carry an identity number"), ("expired", "has expired"), ("revoked_ocsp", "revoked"),
    ("wrong_ca", "not issued by a certification authority MotID trusts"),
    ("wrong_ku", "not meant for digital signatures"), ("rsa1024", "too weak"), ("unreachable", "try again later"),
])
def test_refused_bindings_bind_nothing(app, client, accounts, pki, label, message):
    accounts()
    login(client, "096301001234")
    response = bind(client, pki, label)
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert bound(app) == []
    assert tags(app)[-1][0] == "account:certificate:bind_failure"


def test_signature_over_another_challenge_and_replays(app, client, accounts, pki, clock):
    accounts()
    login(client, "096301001234")
    path = "/account/security/certificates"
    challenge, token = page_state(client, path)
    wrong = pki.signed("citizen", challenge, message=challenge + "x")
    assert client.post(path, data={"csrf_token": token, "response": wrong}).status_code == 400
    assert tags(app)[-1][1]["reason"] == "signature"
    # The same challenge again, now correctly signed: it was spent by the failed attempt.
    again = pki.signed("citizen", challenge)
    with client.session_transaction() as s:
        s["cert_bind_challenge"] = challenge
    assert client.post(path, data={"csrf_token": token, "response": again}).status_code == 400
    assert tags(app)[-1][1]["reason"] == "challenge"
    # An expired challenge.
    challenge, token = page_state(client, path)
    clock.advance(seconds=301)
    response = client.post(path, data={"csrf_token": token, "response": pki.signed("citizen", challenge)})
    assert response.status_code == 400 and tags(app)[-1][1]["reason"] == "challenge"
    assert bound(app) == []


def test_login_challenge_cannot_bind(app, client, accounts, pki):
    accounts()
    login_challenge = challenge_of(browser(app), "/login/certificate")
    login(client, "096301001234")
    _, token = page_state(client, "/account/security/certificates")
    with client.session_transaction() as s:
        s["cert_bind_challenge"] = login_challenge
    response = client.post("/account/security/certificates",
                           data={"csrf_token": token, "response": pki.signed("citizen", login_challenge)})
    assert response.status_code == 400 and bound(app) == []
    assert tags(app)[-1][1]["reason"] == "challenge"


@pytest.mark.parametrize("text", ["", "not json", "{}", json.dumps({"challenge": 1}), "x" * 70000,
                                  json.dumps({"challenge": "a", "certificate": "garbage", "signature": "AA=="}),
                                  json.dumps({"challenge": "a", "certificate": "x", "signature": "!!", "chain": 3})])
def test_garbage_responses(app, client, accounts, text):
    accounts()
    login(client, "096301001234")
    response = post_form(client, "/account/security/certificates", {"response": text})
    assert response.status_code in (200, 400) and bound(app) == []


def test_uploaded_file_works_like_pasted_text(app, client, accounts, pki):
    import io
    accounts()
    login(client, "096301001234")
    challenge, token = page_state(client, "/account/security/certificates")
    data = {"csrf_token": token,
            "response_file": (io.BytesIO(pki.signed("citizen", challenge).encode()), "signed.json")}
    assert client.post("/account/security/certificates", data=data,
                       content_type="multipart/form-data").status_code == 302
    assert len(bound(app)) == 1


def test_one_certificate_one_account(app, client, accounts, pki):
    accounts()
    accounts(kind="officer", citizen_id="096190000456", email="chau@camau.gov.vn")
    login(client, "096301001234")
    assert bind(client, pki, "citizen").status_code == 302
    assert "already bound to your account" in bind(client, pki, "citizen").get_data(as_text=True)
    # Another account cannot take it (even if it were to match its number).
    with app.app_context():
        from idp.accounts.models import Account
        other = db.session.query(Account).filter_by(email="chau@camau.gov.vn").one()
        service = app.extensions["idp.certificates"]
        with app.test_request_context():
            challenge = service.issue_challenge("bind", now=T0, account=other)
            with pytest.raises(CertificateRejected) as info:
                service.bind(other, pki.signed("citizen", challenge), now=T0)
    assert info.value.code in ("bound_elsewhere", "identity_mismatch")


def test_business_binds_by_tax_code(app, client, accounts, pki):
    accounts(kind="business", tax_code="0100109106", business_name="Công ty TNHH Thử nghiệm",
             email="ketoan@thunghiem.vn")
    login(client, "ketoan@thunghiem.vn")
    assert bind(client, pki, "citizen").status_code == 400  # a personal certificate: no MST
    assert bind(client, pki, "business").status_code == 302


def logged_in_with_a_second_factor(app, client, accounts, clock, **fields):
    """An account with an authenticator app, logged in with its password and a code (level 2)."""
    import pyotp
    accounts(**fields)
    with app.app_context():
        from idp.accounts.models import Account
        account = db.session.query(Account).one()
        secret = pyotp.random_base32()
        app.extensions["idp.totp"].enable(account, secret, pyotp.TOTP(secret).at(clock.now), now=clock.now)
        db.session.commit()
    clock.advance(seconds=31)
    login(client, fields["email"])
    post_form(client, "/login/second-factor", {"code": pyotp.TOTP(secret).at(clock.now)})
    return secret


def test_officer_certificate_with_two_uids(app, client, accounts, pki, clock):
    logged_in_with_a_second_factor(app, client, accounts, clock, kind="officer", citizen_id="096190000456",
                                   email="chau@camau.gov.vn")
    assert bind(client, pki, "officer").status_code == 302


def test_administrator_binds_a_cmnd_certificate(app, runner, accounts, pki, tmp_path):
    accounts(citizen_id="096301001234")
    challenge = runner.invoke(args=["accounts", "bind-certificate", "096301001234", "--challenge"]).output.strip()
    assert challenge.startswith("MotID bind ")
    signed = tmp_path / "signed.json"
    signed.write_text(pki.signed("cmnd", challenge))
    refused = runner.invoke(args=["accounts", "bind-certificate", "096301001234", "--response", str(signed)])
    assert refused.exit_code != 0 and "needs_admin" in refused.output
    challenge = runner.invoke(args=["accounts", "bind-certificate", "096301001234", "--challenge"]).output.strip()
    signed.write_text(pki.signed("cmnd", challenge))
    result = runner.invoke(args=["accounts", "bind-certificate", "096301001234", "--response", str(signed),
                                 "--confirm-legacy-id"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.query(BoundCertificate).one().legacy_confirmed
    listing = runner.invoke(args=["certs", "list", "096301001234"]).output
    assert thumbprint(pki.certs["cmnd"][0]) in listing
    assert runner.invoke(args=["accounts", "bind-certificate", "096301001234"]).exit_code != 0
    cert_id = listing.split("\t")[0]
    assert runner.invoke(args=["certs", "remove", "096301001234", cert_id]).exit_code == 0
    assert bound(app) == []


# -- login with a signed challenge -------------------------------------------------------------------
@pytest.fixture
def citizen_with_certificate(app, accounts, pki):
    ids = accounts(email="hoa@example.vn")
    holder = browser(app)
    login(holder, "hoa@example.vn")
    assert bind(holder, pki, "citizen").status_code == 302
    post_form(holder, "/logout", {})
    return ids


def cert_login(client, pki, label, path="/login/certificate"):
    return submit(client, path, label, pki)


def test_login_with_a_certificate_is_level_3(app, client, citizen_with_certificate, pki):
    response = cert_login(client, pki, "citizen")
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    assert live_session(app)[:2] == ("urn:motid:loa:3", ["swk"])


def test_hardware_token_certificate_gives_hwk(app, client, accounts, pki, clock):
    accounts(kind="officer", citizen_id="096190000456", email="chau@camau.gov.vn")
    with app.app_context():
        from idp.accounts.models import Account
        account = db.session.query(Account).one()
        service = app.extensions["idp.certificates"]
        challenge = service.issue_challenge("bind", now=clock.now, account=account)
        service.bind(account, pki.signed("officer", challenge), now=clock.now)
    assert cert_login(client, pki, "officer").status_code == 302
    assert live_session(app)[:2] == ("urn:motid:loa:3", ["hwk"])


def test_password_then_certificate_is_mfa(app, client, citizen_with_certificate, pki):
    login(client, "hoa@example.vn")
    assert live_session(app)[:2] == ("urn:motid:loa:1", ["pwd"])
    assert cert_login(client, pki, "citizen").status_code == 302
    assert live_session(app)[:2] == ("urn:motid:loa:3", ["pwd", "swk", "mfa"])


def test_unbound_and_bad_certificates_do_not_log_in(app, client, citizen_with_certificate, pki):
    response = cert_login(client, pki, "citizen_rsa")  # valid, same person, but never bound
    assert response.status_code == 400 and "not bound to any account" in response.get_data(as_text=True)
    assert cert_login(client, pki, "expired").status_code == 400
    assert client.get_cookie("motid_sso") is None
    reasons = [d["reason"] for t, d in tags(app) if t == "account:certificate:login_failure"]
    assert reasons == ["not_bound", "expired"]


def test_a_revoked_or_expired_bound_certificate_stops_working(app, client, citizen_with_certificate, pki, clock):
    serial = pki.certs["citizen"][0].serial_number
    pki.inter.revoked_ocsp.add(serial)
    try:
        with app.app_context():
            db.session.execute(db.delete(RevocationAnswer))  # forget the cached "good"
            db.session.commit()
        response = cert_login(client, pki, "citizen")
        assert response.status_code == 400 and "revoked" in response.get_data(as_text=True)
    finally:
        pki.inter.revoked_ocsp.discard(serial)
    clock.now = pki.certs["citizen"][0].not_valid_after_utc + timedelta(seconds=1)
    response = cert_login(client, pki, "citizen")
    assert response.status_code == 400 and "has expired" in response.get_data(as_text=True)


def test_disabled_account_cannot_log_in_with_its_certificate(app, client, runner, citizen_with_certificate, pki):
    runner.invoke(args=["accounts", "disable", "hoa@example.vn"])
    assert cert_login(client, pki, "citizen").status_code == 400


def test_login_challenge_is_per_browser_and_single_use(app, client, citizen_with_certificate, pki):
    other = browser(app)
    challenge, _ = page_state(other, "/login/certificate")
    signed = pki.signed("citizen", challenge)
    _, token = page_state(client, "/login/certificate")
    # Shown to another browser: refused here, and spent nowhere.
    assert client.post("/login/certificate", data={"csrf_token": token, "response": signed}).status_code == 400
    assert tags(app)[-1][1]["reason"] == "challenge"
    _, other_token = page_state(other, "/login/certificate")  # that browser now holds a new challenge
    assert other.post("/login/certificate", data={"csrf_token": other_token, "response": signed}).status_code == 400
    assert client.get_cookie("motid_sso") is None and other.get_cookie("motid_sso") is None


def test_acr_values_level_3_steps_up_with_the_certificate(app, client, citizen_with_certificate, pki):
    client_id, secret = make_client(app, first_party=True)
    login(client, "hoa@example.vn")
    response = client.get("/authorize", query_string=auth_params(client_id, acr_values="urn:motid:loa:3"))
    assert response.headers["Location"].startswith("/login/certificate?next=")
    back = cert_login(client, pki, "citizen", path=response.headers["Location"])
    result = callback(client.get(back.headers["Location"]))
    claims = decode(app, exchange(client, client_id, secret, result["code"]).json["id_token"]).claims
    assert claims["acr"] == "urn:motid:loa:3" and claims["amr"] == ["pwd", "swk", "mfa"]


def test_level_3_without_a_certificate_is_unmet(app, client, accounts):
    accounts(email="hoa@example.vn")
    client_id, _ = make_client(app, first_party=True)
    login(client, "hoa@example.vn")
    result = callback(client.get("/authorize", query_string=auth_params(client_id, acr_values="urn:motid:loa:3")))
    assert result["error"] == "unmet_authentication_requirements"


def test_discovery(client):
    document = client.get("/.well-known/openid-configuration").json
    assert "urn:motid:loa:3" in document["acr_values_supported"]
    assert document["tls_client_certificate_bound_access_tokens"] is True


def test_login_page_links_to_certificate_login(client):
    assert "/login/certificate" in client.get("/login").get_data(as_text=True)


# -- removal and expiry ------------------------------------------------------------------------------
def test_removal_needs_password_and_second_factor(app, client, accounts, pki, clock):
    import pyotp
    secret = logged_in_with_a_second_factor(app, client, accounts, clock, email="hoa@example.vn")
    bind(client, pki, "citizen")
    with app.app_context():
        cert_id = db.session.query(BoundCertificate).one().id
    path = f"/account/security/certificates/{cert_id}/remove"
    clock.advance(seconds=31)
    page = "/account/security/certificates"
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', client.get(page).get_data(as_text=True))
    client.post(path, data={"csrf_token": token.group(1), "password": PASSWORD, "code": "000000"})
    client.post(path, data={"csrf_token": token.group(1), "password": "wrong-password-1",
                            "code": pyotp.TOTP(secret).at(clock.now)})
    assert len(bound(app)) == 1
    client.post(path, data={"csrf_token": token.group(1), "password": PASSWORD,
                            "code": pyotp.TOTP(secret).at(clock.now)})
    assert bound(app) == []
    assert [t for t, _ in tags(app)][-3:] == ["account:certificate:remove_failure",
                                              "account:certificate:remove_failure", "account:certificate:remove"]


def holder_of_an_expiring_certificate(app, pki):
    """A citizen with two bound certificates, one of them expiring within the warning period."""
    with app.app_context():
        from idp.accounts.models import Account
        from idp.accounts.services import NewAccount
        account = app.extensions["idp.accounts"].create(NewAccount(
            kind="citizen", full_name="Nguyễn Thị Hoa", citizen_id="096301001234", email="hoa@example.vn",
            password=PASSWORD, email_verified=True), now=T0)
        service = app.extensions["idp.certificates"]
        for label in ("expiring", "citizen"):
            with app.test_request_context():
                service.bind(account, pki.signed(label, service.issue_challenge("bind", now=T0, account=account)),
                             now=T0)
        assert db.session.query(Account).count() == 1
    app.config["CLOCK"] = None


def test_expiry_warning_is_sent_once(make_app, trust_dir, smtp, pki):
    app = make_app(IDP_SMTP_URL=smtp.url)
    holder_of_an_expiring_certificate(app, pki)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["certs", "warn-expiring"])
    assert result.exit_code == 0 and "1 warning" in result.output, result.output
    body = smtp.messages[-1].get_body().get_content()
    assert smtp.messages[-1]["To"] == "hoa@example.vn" and "MotID Test Issuing CA" in body
    assert format(pki.certs["expiring"][0].serial_number, "x") in body
    assert "0 warning" in runner.invoke(args=["certs", "warn-expiring"]).output
    assert len(smtp.messages) == 1


def test_the_worker_sends_expiry_warnings_without_a_cron_job(make_app, trust_dir, smtp, pki):
    from idp.worker import run
    app = make_app(IDP_SMTP_URL=smtp.url, IDP_HOUSEKEEPING_SECONDS=3600)
    holder_of_an_expiring_certificate(app, pki)
    run(app, once=True)  # what `idp worker` does on its first round
    assert len(smtp.messages) == 1 and smtp.messages[0]["To"] == "hoa@example.vn"
    assert format(pki.certs["expiring"][0].serial_number, "x") in smtp.messages[0].get_body().get_content()
    run(app, once=True)
    assert len(smtp.messages) == 1  # once per certificate
    assert [tag for tag, _ in tags(app)].count("account:certificate:expiry_warning") == 1


def test_a_failing_housekeeping_job_does_not_stop_the_others(make_app, trust_dir, smtp, pki):
    from idp.worker import run
    app = make_app(IDP_SMTP_URL=smtp.url)
    holder_of_an_expiring_certificate(app, pki)

    def broken(moment):
        raise RuntimeError("disk full")
    app.extensions["idp.housekeeping"].insert(0, broken)
    run(app, once=True)
    assert len(smtp.messages) == 1


# -- TLS client certificate through the proxy header and RFC 8705 tokens ----------------------------
def header_for(label, pki):
    from urllib.parse import quote
    return {"X-SSL-Client-Cert": quote(pem(pki.certs[label][0]))}


def tls_login(client, pki, label, addr="10.9.8.7", path="/login/certificate/tls"):
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                      client.get("/login/certificate").get_data(as_text=True)).group(1)
    return client.post(path, data={"csrf_token": token}, headers=header_for(label, pki),
                       environ_base={"REMOTE_ADDR": addr})


@pytest.fixture
def tls_app(app, trust_dir, pki):
    with open(os.path.join(trust_dir, "inter.pem"), "w") as fh:  # the header carries the leaf alone
        fh.write(pem(pki.inter.cert))
    return app


def test_header_from_an_untrusted_address_is_refused(tls_app, client, citizen_with_certificate, pki):
    response = tls_login(client, pki, "citizen", addr="10.0.0.1")
    assert response.status_code == 302 and client.get_cookie("motid_sso") is None
    assert tags(tls_app)[-1][1]["reason"] == "untrusted_proxy"
    assert "secure connection" in client.get("/login/certificate").get_data(as_text=True)


def test_tls_client_certificate_login(tls_app, client, citizen_with_certificate, pki):
    response = tls_login(client, pki, "citizen")
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    assert live_session(tls_app)[:2] == ("urn:motid:loa:3", ["swk"])
    assert tls_login(client, pki, "citizen").status_code == 302  # again, in the same session
    assert live_session(tls_app)[:2] == ("urn:motid:loa:3", ["swk"])


def test_tls_login_without_a_certificate(tls_app, client, citizen_with_certificate, pki):
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                      client.get("/login/certificate").get_data(as_text=True)).group(1)
    client.post("/login/certificate/tls", data={"csrf_token": token}, environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert tags(tls_app)[-1][1]["reason"] == "no_certificate"
    tls_login(client, pki, "revoked_ocsp")
    assert tags(tls_app)[-1][1]["reason"] == "revoked" and client.get_cookie("motid_sso") is None


def test_certificate_bound_tokens(tls_app, client, citizen_with_certificate, pki):
    app = tls_app
    client_id, secret = make_client(app, first_party=True, tls_client_certificate_bound_access_tokens=True)
    plain_id, plain_secret = make_client(app, first_party=True)
    tls_login(client, pki, "citizen")
    expected = thumbprint(pki.certs["citizen"][0])
    result = callback(client.get("/authorize", query_string=auth_params(client_id)))
    tokens = exchange(client, client_id, secret, result["code"]).json
    access = decode(app, tokens["access_token"]).claims
    assert access["cnf"] == {"x5t#S256": expected} and access["acr"] == "urn:motid:loa:3"
    info = client.post("/introspect", data={"token": tokens["access_token"]}, headers=basic(client_id, secret)).json
    assert info["active"] and info["cnf"] == {"x5t#S256": expected}
    # The UserInfo endpoint is a protected resource: it wants the same certificate.
    bearer = {"Authorization": "Bearer " + tokens["access_token"]}
    assert client.get("/userinfo", headers=bearer).status_code == 401
    assert client.get("/userinfo", headers={**bearer, **header_for("citizen", pki)},
                      environ_base={"REMOTE_ADDR": "10.9.8.7"}).status_code == 200
    # A client that did not register for bound tokens keeps bearer tokens.
    result = callback(client.get("/authorize", query_string=auth_params(plain_id)))
    plain = exchange(client, plain_id, plain_secret, result["code"]).json
    assert "cnf" not in decode(app, plain["access_token"]).claims


def test_client_certificate_at_the_token_endpoint(tls_app, client, citizen_with_certificate, pki):
    app = tls_app
    client_id, secret = make_client(app, first_party=True, tls_client_certificate_bound_access_tokens=True)
    login(client, "hoa@example.vn")  # a password login: the binding comes from the client's own certificate
    result = callback(client.get("/authorize", query_string=auth_params(client_id)))
    refused = exchange(client, client_id, secret, result["code"])
    assert refused.status_code == 400 and refused.json["error"] == "invalid_request"
    result = callback(client.get("/authorize", query_string=auth_params(client_id)))
    response = client.post("/token", data={"grant_type": "authorization_code", "code": result["code"],
                                           "redirect_uri": "https://rp.example.vn/cb"},
                           headers={**basic(client_id, secret), **header_for("business", pki)},
                           environ_base={"REMOTE_ADDR": "10.9.8.7"})
    claims = decode(app, response.json["access_token"]).claims
    assert claims["cnf"] == {"x5t#S256": thumbprint(pki.certs["business"][0])}


def test_tokens_requested_over_mutual_tls_are_bound_without_the_flag(tls_app, client, citizen_with_certificate,
                                                                    pki):
    """A certificate login through mTLS in the person's own client: the token request comes over the
    same TLS connection, so the tokens carry cnf even though the client did not register the flag."""
    app = tls_app
    client_id, secret = make_client(app, first_party=True)
    tls_login(client, pki, "citizen")
    result = callback(client.get("/authorize", query_string=auth_params(
        client_id, scope="openid profile offline_access", prompt="consent")))
    over_tls = {"environ_base": {"REMOTE_ADDR": "10.9.8.7"}}
    tokens = client.post("/token", data={"grant_type": "authorization_code", "code": result["code"],
                                         "redirect_uri": "https://rp.example.vn/cb"},
                         headers={**basic(client_id, secret), **header_for("citizen", pki)}, **over_tls).json
    expected = {"x5t#S256": thumbprint(pki.certs["citizen"][0])}
    access = decode(app, tokens["access_token"]).claims
    assert access["cnf"] == expected and access["acr"] == "urn:motid:loa:3"
    info = client.post("/introspect", data={"token": tokens["access_token"]}, headers=basic(client_id, secret)).json
    assert info["active"] and info["cnf"] == expected
    bearer = {"Authorization": "Bearer " + tokens["access_token"]}
    assert client.get("/userinfo", headers=bearer).status_code == 401
    assert client.get("/userinfo", headers={**bearer, **header_for("business", pki)}, **over_tls).status_code == 401
    assert client.get("/userinfo", headers={**bearer, **header_for("citizen", pki)}, **over_tls).status_code == 200
    # Refreshed access tokens keep the binding, whatever the refresh request presents.
    refreshed = client.post("/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                            headers=basic(client_id, secret)).json
    assert decode(app, refreshed["access_token"]).claims["cnf"] == expected


def test_a_certificate_header_from_an_untrusted_address_binds_nothing(tls_app, client, citizen_with_certificate,
                                                                     pki):
    client_id, secret = make_client(tls_app, first_party=True)
    tls_login(client, pki, "citizen")
    result = callback(client.get("/authorize", query_string=auth_params(client_id)))
    response = client.post("/token", data={"grant_type": "authorization_code", "code": result["code"],
                                           "redirect_uri": "https://rp.example.vn/cb"},
                           headers={**basic(client_id, secret), **header_for("citizen", pki)},
                           environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert response.status_code == 200 and "cnf" not in decode(tls_app, response.json["access_token"]).claims


@pytest.mark.parametrize("header", ["garbage", "-----BEGIN CERTIFICATE-----%0AMIIB%0A-----END CERTIFICATE-----",
                                    "%ff%fe%00", "A" * 20000, "(null)", "%0A%0A"])
def test_a_bad_certificate_header_at_the_token_and_userinfo_endpoints(tls_app, client, citizen_with_certificate,
                                                                      pki, header):
    """From a trusted proxy, a header that holds no usable certificate binds nothing and breaks nothing."""
    client_id, secret = make_client(tls_app, first_party=True)
    bound_id, bound_secret = make_client(tls_app, first_party=True, tls_client_certificate_bound_access_tokens=True)
    login(client, "hoa@example.vn")
    over_tls = {"headers_extra": {"X-SSL-Client-Cert": header}, "environ_base": {"REMOTE_ADDR": "10.9.8.7"}}

    def token(cid, csecret):
        result = callback(client.get("/authorize", query_string=auth_params(cid)))
        return client.post("/token", data={"grant_type": "authorization_code", "code": result["code"],
                                           "redirect_uri": "https://rp.example.vn/cb"},
                           headers={**basic(cid, csecret), **over_tls["headers_extra"]},
                           environ_base=over_tls["environ_base"])
    plain = token(client_id, secret)
    assert plain.status_code == 200 and "cnf" not in decode(tls_app, plain.json["access_token"]).claims
    refused = token(bound_id, bound_secret)  # registered for bound tokens, and no certificate to bind to
    assert refused.status_code == 400 and refused.json["error"] == "invalid_request"
    info = client.get("/userinfo", headers={"Authorization": "Bearer " + plain.json["access_token"],
                                            **over_tls["headers_extra"]}, environ_base=over_tls["environ_base"])
    assert info.status_code == 200


def test_registration_accepts_the_flag_as_a_boolean_only(app):
    from idp.oidc.clients import InvalidClientMetadata, validate_metadata
    meta = {"redirect_uris": ["https://rp.example.vn/cb"]}
    assert validate_metadata({**meta, "tls_client_certificate_bound_access_tokens": True})[
        "tls_client_certificate_bound_access_tokens"] is True
    with pytest.raises(InvalidClientMetadata):
        validate_metadata({**meta, "tls_client_certificate_bound_access_tokens": "yes"})


def test_challenges_are_stored_as_digests(app, client, accounts):
    accounts()
    challenge = challenge_of(client, "/login/certificate")
    with app.app_context():
        stored = [row.digest for row in db.session.query(CertificateChallenge)]
    assert stored and challenge.split()[-1] not in stored


def test_x5t_s256_matches_rfc_8705(pki):
    import hashlib
    cert = pki.certs["citizen"][0]
    raw = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest()
    assert thumbprint(cert) == base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    assert isinstance(cert, x509.Certificate)


def test_purge_and_a_bad_parser_setting(make_app, trust_dir, runner, client, clock):
    from idp.config import ConfigError
    challenge_of(client, "/login/certificate")  # made at the test clock's time, long before the wall clock's
    result = runner.invoke(args=["certs", "purge"])
    assert result.exit_code == 0 and result.output.startswith("1 challenge"), result.output
    with pytest.raises(ConfigError):
        make_app(IDP_CERT_IDENTITY_PARSER="no.such.module:parse")


def test_certificate_completes_a_pending_password_login(app, client, citizen_with_certificate, pki, clock):
    import pyotp
    with app.app_context():
        from idp.accounts.models import Account
        account = db.session.query(Account).one()
        secret = pyotp.random_base32()
        app.extensions["idp.totp"].enable(account, secret, pyotp.TOTP(secret).at(clock.now), now=clock.now)
        db.session.commit()
    assert login(client, "hoa@example.vn").headers["Location"] == "/login/second-factor"
    assert cert_login(client, pki, "citizen").status_code == 302  # the certificate instead of the code
    assert live_session(app)[:2] == ("urn:motid:loa:3", ["pwd", "swk", "mfa"])
