"""Logging in with a signed challenge: level 3, step-up, a second factor after a password."""
from __future__ import annotations

from datetime import timedelta

from idp.accounts.certificates.models import RevocationAnswer
from idp.db import db
from tests.accounts.certificates.helpers import browser, cert_login, live_session, page_state, tags
from tests.conftest import login
from tests.oidc.helpers import auth_params, callback, decode, exchange, make_client


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
