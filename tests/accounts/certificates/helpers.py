"""What the certificate tests share: a test browser reading English, the challenge a page shows, signed
responses posted to the binding and login pages, and the audit events and sessions they leave."""
from __future__ import annotations

import re

import pytest

from idp.accounts.certificates.models import BoundCertificate
from idp.accounts.certificates.validation import CertificateRejected
from idp.accounts.models import SsoSession
from idp.db import db
from idp.events import AuditEvent
from tests.accounts.certificates.test_pki import T0, pem
from tests.conftest import CSRF_RE, PASSWORD, login, post_form

CHALLENGE_RE = re.compile(r'<code id="certificate-challenge">([^<]+)</code>')


def browser(app):
    """A test browser reading English (the Vietnamese texts come from the catalogues)."""
    made = app.test_client()
    made.set_cookie("motid_lang", "en")
    return made


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


def cert_login(client, pki, label, path="/login/certificate"):
    return submit(client, path, label, pki)


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


def header_for(label, pki):
    from urllib.parse import quote
    return {"X-SSL-Client-Cert": quote(pem(pki.certs[label][0]))}


def tls_login(client, pki, label, addr="10.9.8.7", path="/login/certificate/tls"):
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                      client.get("/login/certificate").get_data(as_text=True)).group(1)
    return client.post(path, data={"csrf_token": token}, headers=header_for(label, pki),
                       environ_base={"REMOTE_ADDR": addr})
