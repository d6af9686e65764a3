"""Zalo (OAuth 2 with PKCE, no ID token) gives a level-1 identity and never a personal number; an
upstream that is down or slow gives a typed error within the outbound deadline, never a hang."""
from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from idp.accounts.assurance import LOA1
from idp.accounts.upstream import flow
from idp.accounts.upstream.errors import TokenRejected, UpstreamUnavailable
from idp.accounts.upstream.registry import UpstreamRegistry
from tests.accounts.upstream.zalo_server import APP_ID, SECRET_KEY
from tests.conftest import free_port

pytestmark = pytest.mark.interop


def _register_zalo(app, server, secret=SECRET_KEY):
    endpoints = {"authorization_endpoint": server.base + "/v4/permission",
                 "token_endpoint": server.base + "/v4/access_token",
                 "userinfo_endpoint": server.base + "/v2.0/me?fields=id,name,picture"}
    with app.app_context():
        UpstreamRegistry.from_app().add("zalo", profile="zalo", client_id=APP_ID, client_secret=secret,
                                        endpoints=endpoints)


def _zalo_login(app, server) -> dict:
    with app.app_context():
        url = flow.begin("zalo", "/account/security")
    query = parse_qs(urlsplit(url).query)
    assert set(query) == {"app_id", "redirect_uri", "code_challenge", "state"}
    response = requests.get(url, allow_redirects=False, timeout=10)
    assert response.status_code == 302
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


def test_zalo_gives_a_level_one_identity_without_a_citizen_id(app, zalo_server):
    _register_zalo(app, zalo_server)
    zalo_server.user["SoDinhDanh"] = "096301001234"  # whatever Zalo sent, it asserts no personal number
    args = _zalo_login(app, zalo_server)
    with app.app_context():
        identity = flow.finish("zalo", args)
    assert (identity.provider, identity.subject, identity.acr, identity.amr) == \
        ("zalo", "8123456789012345678", LOA1, ("fed",))
    assert identity.citizen_id is None and identity.name == "Nguyễn Thị Hoa"
    assert identity.picture == "https://s120-ava-talk.zadn.vn/a/b/c.jpg" and identity.next_url == "/account/security"


def test_zalo_refusing_the_secret_key_is_a_token_error(app, zalo_server):
    _register_zalo(app, zalo_server, secret="not-the-secret")
    args = _zalo_login(app, zalo_server)
    with app.app_context(), pytest.raises(TokenRejected, match="-14002"):
        flow.finish("zalo", args)


def _register(app, issuer):
    with app.app_context():
        UpstreamRegistry.from_app().add("vneid", profile="vneid", issuer=issuer, client_id="a", client_secret="s")


def test_an_unreachable_upstream_is_a_typed_error(app):
    _register(app, f"http://127.0.0.1:{free_port()}")
    with app.app_context(), pytest.raises(UpstreamUnavailable, match="transport"):
        flow.begin("vneid", "/")


def test_a_slow_upstream_fails_within_the_deadline(make_app, silent_server):
    app = make_app(IDP_OUTBOUND_DEADLINE_SECONDS=1)
    _register(app, silent_server)
    started = time.monotonic()
    with app.app_context(), pytest.raises(UpstreamUnavailable, match="deadline passed"):
        flow.begin("vneid", "/")
    assert time.monotonic() - started < 2.5
