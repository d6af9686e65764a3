"""Issue 11 item 1: every outbound call (request objects, jwks_uri, back-channel logout, OCSP and CRLs)
goes through idp/net.py: one total deadline, a size cap, no redirect to another origin, and only global
addresses after DNS resolution (loopback only when the issuer itself is loopback)."""
from __future__ import annotations

import time

import pytest
from joserfc import jwk, jwt

from idp import net
from tests.oidc.helpers import make_client
from tests.security.hostile import answer, drip, drip_headers, hostile, redirect_to


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.9.9.9", "::1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
    "0.0.0.0", "224.0.0.1", "240.0.0.1", "255.255.255.255", "fe80::1", "fc00::1", "::", "::ffff:10.0.0.1",
    "::ffff:127.0.0.1", "2002:7f00:1::1", "not-an-address"])
def test_non_global_addresses_are_refused(address):
    assert not net.address_allowed(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "203.162.4.191", "2001:4860:4860::8888"])
def test_global_addresses_are_allowed(address):
    assert net.address_allowed(address)


def test_loopback_only_when_allowed_and_never_private():
    assert net.address_allowed("127.0.0.1", allow_loopback=True)
    assert net.address_allowed("::ffff:127.0.0.1", allow_loopback=True)
    assert not net.address_allowed("10.0.0.1", allow_loopback=True)
    assert net.loopback_allowed({"IDP_ISSUER": "http://127.0.0.1:5000"})
    assert net.loopback_allowed({"IDP_ISSUER": "http://localhost"})
    assert not net.loopback_allowed({"IDP_ISSUER": "https://sso.camau.gov.vn"})


@pytest.mark.parametrize("spelling", ["127.0.0.1", "localhost", "2130706433", "0x7f.1", "127.1", "[::1]",
                                      "[::ffff:127.0.0.1]"])
def test_every_spelling_of_loopback_is_refused_before_connecting(spelling):
    with hostile(answer) as server:
        server.body = b"secret"
        with pytest.raises(net.FetchError, match="address not allowed|does not resolve"):
            net.request("GET", f"http://{spelling}:{server.port}/", max_bytes=100, allow_loopback=False)
        assert server.hits == 0


@pytest.mark.parametrize("behaviour", [drip, drip_headers])
def test_one_total_deadline_however_the_server_drips(behaviour):
    with hostile(behaviour) as server:
        started = time.monotonic()
        with pytest.raises(net.FetchError, match="deadline"):
            net.request("GET", server.url(), max_bytes=10**6, deadline=1, allow_loopback=True)
        assert time.monotonic() - started < 10  # the drip lasts a minute: the deadline, not the server, ended it


def test_size_cap():
    with hostile(answer) as server:
        server.body = b"x" * 2000
        with pytest.raises(net.FetchError, match="too large"):
            net.request("GET", server.url(), max_bytes=1000, allow_loopback=True)
        assert net.request("GET", server.url(), max_bytes=2000, allow_loopback=True).body == server.body


def test_redirects_stay_on_the_same_origin():
    with hostile(answer) as target:
        target.body = b"reached"
        with hostile(redirect_to(target.url("/elsewhere"))) as elsewhere:
            with pytest.raises(net.FetchError, match="another origin"):
                net.request("GET", elsewhere.url(), max_bytes=100, allow_loopback=True)
        assert target.hits == 0
        with hostile(redirect_to("/moved")) as same:
            with pytest.raises(net.FetchError, match="too many redirects"):
                net.request("GET", same.url(), max_bytes=100, allow_loopback=True)
            assert same.hits == net.MAX_REDIRECTS + 1


def test_credentials_and_other_schemes_are_refused():
    for url in ("file:///etc/passwd", "gopher://127.0.0.1/", "http://user:pw@127.0.0.1/", "http:///nohost"):
        with pytest.raises(net.FetchError):
            net.request("GET", url, max_bytes=100, allow_loopback=True)


def test_a_jwks_uri_on_loopback_is_not_fetched_in_production(make_app):
    """private_key_jwt with a jwks_uri an attacker pointed at an internal service: invalid_client, no fetch."""
    app = make_app(IDP_ISSUER="https://idp.example.vn", SERVER_NAME="idp.example.vn")
    key = jwk.ECKey.generate_key("P-256", auto_kid=True)
    with hostile(answer) as server:
        server.body = b'{"keys": []}'
        client_id, _ = make_client(app, token_endpoint_auth_method="private_key_jwt",
                                   jwks_uri=server.url("/jwks.json", host="localhost"),
                                   grant_types=["client_credentials"], redirect_uris=[])
        now = int(time.time())
        assertion = jwt.encode({"alg": "ES256", "kid": key.kid},
                               {"iss": client_id, "sub": client_id, "aud": "https://idp.example.vn/token",
                                "jti": "j-1", "iat": now, "exp": now + 60}, key, algorithms=["ES256"])
        response = app.test_client().post("/token", data={
            "grant_type": "client_credentials", "client_assertion": assertion,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"})
        assert response.status_code == 401 and response.json["error"] == "invalid_client"
        assert server.hits == 0


def test_ocsp_and_crl_fetches_go_through_the_guard(make_app):
    from idp.accounts.certificates.revocation_status import RevocationChecker
    app = make_app(IDP_ISSUER="https://idp.example.vn", SERVER_NAME="idp.example.vn")
    with hostile(answer) as server, app.app_context():
        checker = RevocationChecker(trust=None, config=app.config)
        with pytest.raises(net.FetchError, match="address not allowed"):
            checker._fetch("GET", server.url("/crl/inter.crl"), None, 1000, {})
        assert server.hits == 0
