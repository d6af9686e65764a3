"""Fixtures of the certificate tests: an application trusting the test PKI, a browser, a bound holder."""
from __future__ import annotations

import os

import pytest

from tests.accounts.certificates.helpers import bind, browser
from tests.accounts.certificates.test_pki import HARDWARE_POLICY, pem, pki, trust_dir  # noqa: F401  (fixtures)
from tests.conftest import login, post_form


@pytest.fixture
def app(make_app, trust_dir):
    return make_app(IDP_CERT_HARDWARE_POLICIES=HARDWARE_POLICY, IDP_CERT_PROXY_ADDRESSES="10.9.8.7/32")


@pytest.fixture
def client(app):
    return browser(app)


@pytest.fixture
def citizen_with_certificate(app, accounts, pki):
    ids = accounts(email="hoa@example.vn")
    holder = browser(app)
    login(holder, "hoa@example.vn")
    assert bind(holder, pki, "citizen").status_code == 302
    post_form(holder, "/logout", {})
    return ids


@pytest.fixture
def tls_app(app, trust_dir, pki):
    with open(os.path.join(trust_dir, "inter.pem"), "w") as fh:  # the header carries the leaf alone
        fh.write(pem(pki.inter.cert))
    return app
