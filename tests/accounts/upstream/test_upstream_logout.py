"""Logout to and from the upstream (issue 14) against the real node oidc-provider: RP-initiated logout
there after MotID's (``/connect/logout`` and ``/logout``), and back-channel logout tokens from it."""
from __future__ import annotations

import html
import re
import time
import uuid
from types import SimpleNamespace
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import pytest
import requests
from joserfc import jwk, jwt
from sqlalchemy import select

from idp.accounts.models import SsoSession
from idp.accounts.upstream.models import UpstreamSession
from idp.db import db
from idp.oidc.models import LogoutDelivery
from tests.accounts.upstream.conftest import CLIENT_ID, LOGGED_OUT
from tests.accounts.upstream.test_upstream_login import _upstream
from tests.conftest import login, post_form
from tests.oidc.helpers import auth_params, callback, exchange
from tests.oidc.test_logout import logout_client

pytestmark = pytest.mark.interop
EVENT = "http://schemas.openid.net/event/backchannel-logout"
BYE = "https://rp.example.vn/bye"
XSRF_RE = re.compile(r'name="xsrf" value="([^"]+)"')


@pytest.fixture
def receiver():
    """A back-channel logout URI for the relying party: only the queued delivery is checked here."""
    return SimpleNamespace(url="http://127.0.0.1:9/backchannel-logout")


def _portal_login(app, client, node_op, receiver=None, **meta):
    """Log in through the upstream, then sign in to a first-party client; (client_id, its ID token)."""
    portal, secret = logout_client(app, receiver, **meta)
    assert _upstream(client, node_op).status_code == 302
    result = callback(client.get("/authorize", query_string=auth_params(portal)))
    return portal, exchange(client, portal, secret, result["code"]).json["id_token"]


def _upstream_session(app) -> UpstreamSession:
    with app.app_context():
        return db.session.scalars(select(UpstreamSession)).one()


def _live(app) -> int:
    with app.app_context():
        return len(db.session.scalars(select(SsoSession).where(SsoSession.ended_at.is_(None))).all())


def _confirm_at_upstream(node_op, location: str) -> str:
    """The person confirms the logout at the provider; where it sends the browser back."""
    page = node_op.browser.get(location, allow_redirects=False, timeout=10)
    assert page.status_code == 200, page.text[:300]
    action = urljoin(node_op.issuer, html.unescape(re.search(r'action="([^"]+)"', page.text).group(1)))
    response = node_op.browser.post(action, data={"xsrf": XSRF_RE.search(page.text).group(1), "logout": "yes"},
                                    allow_redirects=False, timeout=10)
    assert response.status_code in (302, 303), response.text[:300]
    return response.headers["location"]


def test_rp_initiated_logout_goes_through_the_upstream_and_back_to_the_client(app, client, vneid, node_op,
                                                                                 receiver):
    portal, id_token = _portal_login(app, client, node_op, receiver)
    row = _upstream_session(app)
    assert row.upstream_sid and row.subject == "hoa" and "eyJ" not in row.id_token  # encrypted at rest
    response = client.get("/connect/logout?" + urlencode({"id_token_hint": id_token, "state": "xyz",
                                                          "post_logout_redirect_uri": BYE}))
    assert response.status_code == 302 and response.headers["Location"].startswith(node_op.issuer + "/session/end?")
    query = {k: v[0] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()}
    assert query["post_logout_redirect_uri"] == LOGGED_OUT.format(name="vneid") and query["client_id"] == CLIENT_ID
    with app.app_context():
        hint = app.extensions["idp.master_key"].decrypt(row.id_token).decode()
        assert query["id_token_hint"] == hint
        assert db.session.query(LogoutDelivery).count() == 1  # the application is told, as before
    assert _live(app) == 0
    back = _confirm_at_upstream(node_op, response.headers["Location"])
    assert back.startswith(LOGGED_OUT.format(name="vneid") + "?")
    final = client.get(urlsplit(back).path + "?" + urlsplit(back).query)
    assert final.status_code == 302 and final.headers["Location"] == BYE + "?state=xyz"


def test_logout_page_goes_through_the_upstream_to_motids_logged_out_page(app, client, vneid, node_op):
    _upstream(client, node_op)
    response = post_form(client, "/logout", {})
    assert response.status_code == 302 and response.headers["Location"].startswith(node_op.issuer + "/session/end?")
    back = _confirm_at_upstream(node_op, response.headers["Location"])
    page = client.get(urlsplit(back).path + "?" + urlsplit(back).query)
    assert page.status_code == 200 and 'href="/login"' in page.get_data(as_text=True)
    assert client.get("/account").status_code == 302


def test_a_forged_state_coming_back_lands_on_motids_page(client, vneid):
    page = client.get("/login/upstream/vneid/logged-out?state=" + "x" * 40)
    assert page.status_code == 200 and "Location" not in page.headers


def test_frontchannel_frames_then_the_upstream(app, client, vneid, node_op):
    _, id_token = _portal_login(app, client, node_op, frontchannel_logout_uri="https://rp.example.vn/fc")
    page = client.get("/connect/logout?" + urlencode({"id_token_hint": id_token}))
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "https://rp.example.vn/fc" in text
    assert html.escape(node_op.issuer + "/session/end?") in text


def test_a_session_not_from_an_upstream_logs_out_as_before(app, client, accounts, vneid):
    accounts(email="lan@example.vn")
    portal, secret = logout_client(app)
    login(client, "lan@example.vn")
    result = callback(client.get("/authorize", query_string=auth_params(portal)))
    id_token = exchange(client, portal, secret, result["code"]).json["id_token"]
    response = client.get("/connect/logout?" + urlencode({"id_token_hint": id_token, "state": "xyz",
                                                          "post_logout_redirect_uri": BYE}))
    assert response.status_code == 302 and response.headers["Location"] == BYE + "?state=xyz"


# -- back-channel logout from the upstream ----------------------------------------------------------------

def _claims(node_op, **extra) -> dict:
    claims = {"iss": node_op.issuer, "aud": CLIENT_ID, "iat": int(time.time()), "jti": str(uuid.uuid4()),
              "events": {EVENT: {}}}
    claims.update(extra)
    return {k: v for k, v in claims.items() if v is not None}


def _signed(node_op, **extra) -> str:
    return node_op.admin("logout-token", _claims(node_op, **extra))["logout_token"]


def _post(client, token, name="vneid"):
    return client.post(f"/login/upstream/{name}/backchannel-logout", data={"logout_token": token})


def test_a_logout_token_ends_the_session_and_the_applications_are_told(app, client, vneid, node_op,
                                                                         receiver):
    _portal_login(app, client, node_op, receiver)
    token = _signed(node_op, sid=_upstream_session(app).upstream_sid, sub="hoa")
    response = _post(client, token)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert _live(app) == 0 and client.get("/account").status_code == 302
    with app.app_context():
        assert db.session.query(LogoutDelivery).count() == 1
    replay = _post(client, token)
    assert replay.status_code == 400 and replay.json == {"error": "invalid_request"}
    assert replay.headers["Cache-Control"] == "no-store"


def test_only_a_sub_ends_every_session_of_that_subject(app, client, vneid, node_op):
    _upstream(client, node_op)
    client.delete_cookie("motid_sso")
    _upstream(client, node_op)
    assert _live(app) == 2
    assert _post(client, _signed(node_op, sub="hoa")).status_code == 200
    assert _live(app) == 0


def test_no_matching_session_is_nothing_to_do(app, client, vneid, node_op):
    _upstream(client, node_op)
    assert _post(client, _signed(node_op, sid="another-upstream-session")).status_code == 200
    assert _post(client, _signed(node_op, sub="someone-else")).status_code == 200
    assert _live(app) == 1


@pytest.mark.parametrize("extra", [
    {"nonce": "n-1"}, {"iss": "https://vneid.example.vn"}, {"aud": "another-client"}, {"events": None},
    {"events": {"http://schemas.openid.net/event/other": {}}}, {"jti": None}, {"sid": None, "sub": None},
    {"iat": int(time.time()) + 3600}, {"iat": int(time.time()) - 3600}, {"exp": int(time.time()) - 600},
])
def test_a_bad_logout_token_is_refused(app, client, vneid, node_op, extra):
    _upstream(client, node_op)
    token = _signed(node_op, **{"sid": _upstream_session(app).upstream_sid, **extra})
    response = _post(client, token)
    assert response.status_code == 400 and response.json == {"error": "invalid_request"}
    assert _live(app) == 1


def test_a_forged_signature_and_an_unknown_upstream_are_refused(app, client, vneid, node_op):
    _upstream(client, node_op)
    kid = requests.get(node_op.issuer + "/jwks", timeout=10).json()["keys"][0]["kid"]
    forged = jwt.encode({"alg": "RS256", "kid": kid, "typ": "logout+jwt"},
                        _claims(node_op, sub="hoa"), jwk.RSAKey.generate_key(2048))
    assert _post(client, forged).status_code == 400
    assert _post(client, _signed(node_op, sub="hoa"), name="nowhere").status_code == 400
    assert _post(client, "not-a-jwt").status_code == 400 and _post(client, None).status_code == 400
    assert _live(app) == 1
