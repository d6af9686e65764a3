"""Removing a bound certificate, expiry warnings and the housekeeping jobs ``idp worker`` runs."""
from __future__ import annotations

import re

import pytest

from idp.accounts.certificates.models import BoundCertificate
from idp.db import db
from tests.accounts.certificates.helpers import (bind, bound, challenge_of, holder_of_an_expiring_certificate,
                                                 logged_in_with_a_second_factor, tags)
from tests.conftest import PASSWORD, at_once


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


def test_purge_and_a_bad_parser_setting(make_app, trust_dir, runner, client, clock):
    from idp.config import ConfigError
    challenge_of(client, "/login/certificate")  # made at the test clock's time, long before the wall clock's
    result = runner.invoke(args=["certs", "purge"])
    assert result.exit_code == 0 and result.output.startswith("1 challenge"), result.output
    with pytest.raises(ConfigError):
        make_app(IDP_CERT_IDENTITY_PARSER="no.such.module:parse")


def test_two_workers_at_once_send_each_warning_once(make_app, trust_dir, smtp, pki, monkeypatch):
    """Both workers find the certificate before either claims it; one UPDATE decides who mails."""
    import threading

    from idp.accounts.certificates import cli as certs_cli
    from idp.accounts.certificates.service import CertificateService
    from idp.db import utcnow
    app = make_app(IDP_SMTP_URL=smtp.url)
    holder_of_an_expiring_certificate(app, pki)
    barrier = threading.Barrier(2, timeout=20)
    found = CertificateService.expiring

    def expiring(self, now):
        rows = found(self, now)
        barrier.wait()
        return rows

    monkeypatch.setattr(CertificateService, "expiring", expiring)
    sent, failures = at_once(app, lambda: certs_cli.send_expiry_warnings((app.config.get("CLOCK") or utcnow)()))
    assert not failures and sorted(sent) == [0, 1]
    assert len(smtp.messages) == 1
    assert [tag for tag, _ in tags(app)].count("account:certificate:expiry_warning") == 1
