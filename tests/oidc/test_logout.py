"""Single sign-on across clients and single logout (RP-initiated, back-channel, front-channel)."""
from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from joserfc import jwk, jwt

from idp.db import db
from idp.oidc import delivery
from idp.oidc.models import LogoutDelivery, SessionClient
from tests.conftest import CSRF_RE, at_once, login, post_form
from tests.oidc.helpers import auth_params, basic, callback, code_for, decode, exchange, make_client

LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"


class Receiver(BaseHTTPRequestHandler):
    """A relying party's back-channel endpoint: records tokens, answers with a chosen status."""

    status = 200
    delay = 0.0
    received: list = []

    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("Content-Length", 0))
        body = parse_qs(self.rfile.read(length).decode())
        type(self).received.append(body.get("logout_token", [None])[0])
        time.sleep(type(self).delay)
        self.send_response(type(self).status)
        self.send_header("Cache-Control", "no-store")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    Receiver.status, Receiver.delay, Receiver.received = 200, 0.0, []
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.url = f"http://127.0.0.1:{server.server_port}/backchannel-logout"
    yield server
    server.shutdown()


@pytest.fixture
def person(accounts):
    return accounts(email="hoa@example.vn")


def logout_client(app, receiver=None, **meta):
    extra = {"post_logout_redirect_uris": ["https://rp.example.vn/bye"]}
    if receiver is not None:
        extra.update(backchannel_logout_uri=receiver.url, backchannel_logout_session_required=True)
    extra.update(meta)
    return make_client(app, first_party=True, **extra)


def test_second_client_signs_in_silently_with_the_same_sid(app, client, person):
    portal, portal_secret = logout_client(app)
    dossier, dossier_secret = logout_client(app)
    code, _ = code_for(app, client, portal)
    first = decode(app, exchange(client, portal, portal_secret, code).json["id_token"]).claims
    result = callback(client.get("/authorize", query_string=auth_params(dossier, prompt="none")))
    second = decode(app, exchange(client, dossier, dossier_secret, result["code"]).json["id_token"]).claims
    assert first["sid"] == second["sid"] and first["sub"] == second["sub"]
    with app.app_context():
        assert {row.client_id for row in db.session.query(SessionClient)} == {portal, dossier}


def test_consent_rules_still_apply_to_a_second_client(app, client, person):
    portal, _ = logout_client(app)
    third_party, _ = make_client(app)
    code_for(app, client, portal)
    result = callback(client.get("/authorize", query_string=auth_params(third_party, prompt="none")))
    assert result["error"] == "consent_required"


def end_session(client, **params):
    return client.get("/connect/logout?" + urlencode(params))


def test_rp_initiated_logout_with_hint_redirects_with_state(app, client, person, receiver):
    portal, secret = logout_client(app, receiver)
    code, _ = code_for(app, client, portal)
    id_token = exchange(client, portal, secret, code).json["id_token"]
    response = end_session(client, id_token_hint=id_token, post_logout_redirect_uri="https://rp.example.vn/bye",
                           state="xyz")
    assert response.status_code == 302 and response.headers["Location"] == "https://rp.example.vn/bye?state=xyz"
    assert client.get("/account").status_code == 302
    with app.app_context():
        assert db.session.query(LogoutDelivery).count() == 1
        delivery.deliver_due(app.config["CLOCK"]())
    [token] = Receiver.received
    claims = decode(app, token).claims
    assert claims["aud"] == portal and claims["sid"] and claims["events"] == {LOGOUT_EVENT: {}}
    assert "nonce" not in claims and claims["jti"] and claims["exp"] > claims["iat"]


def test_without_hint_the_person_confirms(app, client, person):
    login(client, "hoa@example.vn")
    page = end_session(client)
    assert page.status_code == 200 and "_motid_logout" in page.get_data(as_text=True)
    assert client.get("/account").status_code == 200  # nothing happened yet
    token = CSRF_RE.search(page.get_data(as_text=True)).group(1)
    forged = client.post("/connect/logout", data={"_motid_logout": "yes"})
    assert forged.status_code == 200 and client.get("/account").status_code == 200  # no CSRF token: asked again
    done = client.post("/connect/logout", data={"_motid_logout": "yes", "csrf_token": token})
    assert done.status_code == 200 and client.get("/account").status_code == 302


@pytest.mark.parametrize("uri", ["https://evil.example/", "https://rp.example.vn/bye/", "https://rp.example.vn/cb"])
def test_unregistered_post_logout_redirect_is_refused(app, client, person, uri):
    portal, _ = logout_client(app)
    login(client, "hoa@example.vn")
    response = end_session(client, client_id=portal, post_logout_redirect_uri=uri)
    assert response.status_code == 400 and "Location" not in response.headers
    assert client.get("/account").status_code == 200


def test_modified_or_foreign_hint_is_refused(app, client, person):
    portal, secret = logout_client(app)
    code, _ = code_for(app, client, portal)
    id_token = exchange(client, portal, secret, code).json["id_token"]
    header, payload, signature = id_token.split(".")
    tampered = ".".join([header, payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB"), signature])
    foreign = jwt.encode({"alg": "ES256"}, decode(app, id_token).claims, jwk.ECKey.generate_key("P-256"))
    for hint in (tampered, foreign, "not-a-jwt"):
        response = end_session(client, id_token_hint=hint, post_logout_redirect_uri="https://rp.example.vn/bye")
        assert response.status_code == 400 and "Location" not in response.headers
    assert client.get("/account").status_code == 200


def test_hint_of_another_person_does_not_end_their_session(app, person, accounts):
    accounts(citizen_id="096301009999", email="lan@example.vn")
    portal, secret = logout_client(app)
    hoa, lan = app.test_client(), app.test_client()
    code, _ = code_for(app, hoa, portal)
    hoa_token = exchange(hoa, portal, secret, code).json["id_token"]
    login(lan, "lan@example.vn")
    page = end_session(lan, id_token_hint=hoa_token)
    assert page.status_code == 200 and "_motid_logout" in page.get_data(as_text=True)  # Lan is asked, not logged out
    assert hoa.get("/account").status_code == 200 and lan.get("/account").status_code == 200


def test_client_id_must_match_hint(app, client, person):
    portal, secret = logout_client(app)
    other, _ = logout_client(app)
    code, _ = code_for(app, client, portal)
    id_token = exchange(client, portal, secret, code).json["id_token"]
    assert end_session(client, id_token_hint=id_token, client_id=other).status_code == 400


def test_backchannel_delivery(app, client, person, receiver):
    portal, secret = logout_client(app, receiver)
    code_for(app, client, portal)
    post_form(client, "/logout", {})
    with app.app_context():
        assert delivery.deliver_due(app.config["CLOCK"]()) == 1
        row = db.session.query(LogoutDelivery).one()
        assert row.delivered_at is not None and row.attempts == 1
    [token] = Receiver.received
    assert decode(app, token).claims["aud"] == portal


def test_failing_client_is_retried_with_backoff_then_given_up(app, client, person, receiver, clock):
    Receiver.status = 500
    portal, _ = logout_client(app, receiver)
    code_for(app, client, portal)
    post_form(client, "/logout", {})
    with app.app_context():
        for attempt in range(1, delivery.MAX_ATTEMPTS + 1):
            assert delivery.deliver_due(clock()) == 1
            row = db.session.query(LogoutDelivery).one()
            assert row.attempts == attempt and row.last_error == "HTTP 500"
            assert delivery.deliver_due(clock()) == 0  # not due again yet
            clock.advance(seconds=delivery.BACKOFF_CAP_SECONDS + 1)
        assert row.failed_at is not None
        assert delivery.deliver_due(clock()) == 0
    assert len(Receiver.received) == delivery.MAX_ATTEMPTS
    # Every retry carries a freshly signed token, never an expired one.
    issued = [decode(app, token).claims["iat"] for token in Receiver.received]
    assert issued == sorted(set(issued))


def test_slow_or_unreachable_client_does_not_block(app, client, person, receiver):
    app.config["IDP_OUTBOUND_DEADLINE_SECONDS"] = 1
    Receiver.delay = 3
    slow, _ = logout_client(app, receiver)
    dead, _ = logout_client(app, backchannel_logout_uri="http://127.0.0.1:1/logout")
    code_for(app, client, slow)
    callback(client.get("/authorize", query_string=auth_params(dead, prompt="none")))
    post_form(client, "/logout", {})
    assert Receiver.received == []  # the person's page never waits for clients: the outbox sends later
    with app.app_context():
        assert {row.client_id for row in db.session.query(LogoutDelivery)} == {slow, dead}
        assert delivery.deliver_due(app.config["CLOCK"]()) == 2
        errors = {row.client_id: row.last_error for row in db.session.query(LogoutDelivery)}
    assert errors[slow] == "deadline passed" and errors[dead] == "transport: ConnectionRefusedError"


def test_refresh_tokens_end_with_the_session_except_offline(app, client, person):
    portal, secret = logout_client(app)
    code, _ = code_for(app, client, portal, scope="openid offline_access")
    offline = exchange(client, portal, secret, code).json
    callback(client.get("/authorize", query_string=auth_params(portal, prompt="none")))
    login(client, "hoa@example.vn")  # replaces the session: the old one ends
    alive = client.post("/token", data={"grant_type": "refresh_token", "refresh_token": offline["refresh_token"]},
                        headers=basic(portal, secret))
    assert alive.status_code == 200


def test_online_tokens_end_with_the_session(app, client, person):
    portal, secret = logout_client(app)
    code, _ = code_for(app, client, portal)
    online = exchange(client, portal, secret, code).json
    post_form(client, "/logout", {})
    assert client.get("/userinfo", headers={"Authorization": "Bearer " + online["access_token"]}).status_code == 401


def test_frontchannel_iframes_on_the_logged_out_page(app, client, person):
    portal, _ = logout_client(app, frontchannel_logout_uri="https://rp.example.vn/fc",
                              frontchannel_logout_session_required=True)
    code, _ = code_for(app, client, portal)
    page = post_form(client, "/logout", {})
    text = page.get_data(as_text=True)
    assert '<iframe src="https://rp.example.vn/fc?iss=http%3A%2F%2Flocalhost&amp;sid=' in text
    assert "frame-src https://rp.example.vn" in page.headers["Content-Security-Policy"]


def test_sessions_page_lists_and_ends_sessions(app, person):
    portal, _ = logout_client(app)
    phone, laptop = app.test_client(), app.test_client()
    code_for(app, phone, portal)
    login(laptop, "hoa@example.vn", headers={"User-Agent": "Mozilla/5.0 (Windows NT 10.0) Chrome/120.0"})
    page = laptop.get("/account/sessions").get_data(as_text=True)
    assert page.count("<section") == 2 and "Cổng dịch vụ công" in page and "Chrome" in page
    token = CSRF_RE.search(page).group(1)
    laptop.post("/account/sessions/end", data={"csrf_token": token, "which": "others"})
    assert phone.get("/account").status_code == 302 and laptop.get("/account").status_code == 200
    laptop.post("/account/sessions/end", data={"csrf_token": token, "which": "all"})
    assert laptop.get("/account").status_code == 302


def test_cannot_end_another_persons_session(app, person, accounts):
    accounts(citizen_id="096301009999", email="lan@example.vn")
    hoa, lan = app.test_client(), app.test_client()
    login(hoa, "hoa@example.vn")
    login(lan, "lan@example.vn")
    with app.app_context():
        from idp.accounts.models import SsoSession
        hoa_sid = db.session.query(SsoSession).filter(SsoSession.ended_at.is_(None)).order_by(SsoSession.created_at).first().sid
    token = CSRF_RE.search(lan.get("/account/sessions").get_data(as_text=True)).group(1)
    lan.post("/account/sessions/end", data={"csrf_token": token, "which": hoa_sid})
    assert hoa.get("/account").status_code == 200


def test_expired_sessions_are_swept_and_announced(app, client, person, receiver, clock, runner):
    portal, _ = logout_client(app, receiver)
    code_for(app, client, portal)
    clock.advance(minutes=31)
    with app.app_context():
        assert app.extensions["idp.sessions"].sweep_expired(clock()) == 1
        assert db.session.query(LogoutDelivery).count() == 1


def test_two_workers_sweeping_at_once_announce_each_session_once(app, client, person, receiver, clock,
                                                                  monkeypatch):
    """Both sweeps find the session before either ends it; one UPDATE decides which one announces it."""
    from sqlalchemy.orm import Session as OrmSession
    portal, _ = logout_client(app, receiver)
    code_for(app, client, portal)
    clock.advance(minutes=31)
    barrier = threading.Barrier(2, timeout=20)
    scalars = OrmSession.scalars

    class Rows(list):
        def all(self):
            return list(self)

    def found_then_wait(self, statement, *args, **kwargs):
        rows = Rows(scalars(self, statement, *args, **kwargs).all())
        if "sso_sessions" in str(statement) and threading.current_thread() is not threading.main_thread():
            barrier.wait()
        return rows

    monkeypatch.setattr(OrmSession, "scalars", found_then_wait)
    ended, failures = at_once(app, lambda: app.extensions["idp.sessions"].sweep_expired(clock()))
    monkeypatch.undo()
    assert not failures and sorted(ended) == [0, 1]
    with app.app_context():
        assert db.session.query(LogoutDelivery).count() == 1


def test_password_change_and_admin_action_notify_clients(app, client, person, receiver, runner):
    portal, _ = logout_client(app, receiver)
    other = app.test_client()
    code_for(app, other, portal)
    login(client, "hoa@example.vn")
    post_form(client, "/account/password", {"current_password": "Mật-khẩu-rất-an-toàn-42",
                                            "password": "Một-mật-khẩu-mới-2026", "confirm": "Một-mật-khẩu-mới-2026"})
    with app.app_context():
        assert db.session.query(LogoutDelivery).count() == 1  # the other browser's session ended
    third = app.test_client()
    login(third, "hoa@example.vn", "Một-mật-khẩu-mới-2026")
    callback(third.get("/authorize", query_string=auth_params(portal)))
    assert runner.invoke(args=["accounts", "disable", "hoa@example.vn"]).exit_code == 0
    with app.app_context():
        assert db.session.query(LogoutDelivery).count() == 2  # the administrator's action too


def test_worker_command_delivers(app, client, person, receiver, runner):
    portal, _ = logout_client(app, receiver)
    code_for(app, client, portal)
    post_form(client, "/logout", {})
    from idp.cli import main
    result = runner.invoke(main, args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    listing = runner.invoke(args=["deliveries", "list"]).output
    assert "delivered" in listing and portal in listing


def test_discovery_advertises_logout(client):
    meta = client.get("/.well-known/openid-configuration").json
    assert meta["end_session_endpoint"] == "http://localhost/connect/logout"
    assert meta["backchannel_logout_supported"] and meta["backchannel_logout_session_supported"]
    assert meta["frontchannel_logout_supported"] and meta["frontchannel_logout_session_supported"]


def test_administrator_ends_an_accounts_sessions(app, client, person, receiver, runner):
    portal, _ = logout_client(app, receiver)
    code_for(app, client, portal)
    result = runner.invoke(args=["accounts", "end-sessions", "hoa@example.vn"])
    assert result.exit_code == 0 and "1 session(s) ended" in result.output
    assert client.get("/account").status_code == 302
    with app.app_context():
        assert db.session.query(LogoutDelivery).count() == 1
