"""The TLS client certificate through the proxy header, and RFC 8705 certificate-bound tokens."""
from __future__ import annotations

import re

import pytest

from idp.accounts.certificates.validation import thumbprint
from tests.accounts.certificates.helpers import header_for, live_session, tags, tls_login
from tests.conftest import login
from tests.oidc.helpers import auth_params, basic, callback, decode, exchange, make_client


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
