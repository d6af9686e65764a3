"""Binding a certificate to an account by proof of possession (the security page and
``idp accounts bind-certificate``)."""
from __future__ import annotations

import json

import pytest

from idp.accounts.certificates.models import BoundCertificate, CertificateChallenge
from idp.accounts.certificates.validation import CertificateRejected, thumbprint
from idp.db import db
from tests.accounts.certificates.helpers import (bind, bound, browser, challenge_of,
                                                 logged_in_with_a_second_factor, page_state, tags)
from tests.accounts.certificates.test_pki import T0
from tests.conftest import login, post_form


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


def test_challenges_are_stored_as_digests(app, client, accounts):
    accounts()
    challenge = challenge_of(client, "/login/certificate")
    with app.app_context():
        stored = [row.digest for row in db.session.query(CertificateChallenge)]
    assert stored and challenge.split()[-1] not in stored
