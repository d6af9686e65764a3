"""What protects MotID and the upstreams around an upstream login: the rate limits on starting one and on
back-channel logout, a page (502 or 504) in the person's language within the outbound deadline when the
upstream is down or silent, the JWKS refetch floor against tokens with made-up kids, and the worker's
purges of upstream sessions and logout tokens."""
from __future__ import annotations

import json
import secrets
import threading
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from joserfc import jwk, jwt
from sqlalchemy import select
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

from idp.accounts.models import SsoSession
from idp.accounts.upstream.models import UpstreamLogin, UpstreamLogoutToken, UpstreamSession
from idp.accounts.upstream.registry import UpstreamRegistry
from idp.db import db
from idp.events import AuditEvent
from idp.worker import run
from tests.conftest import free_port

VI_DOWN = "Dịch vụ định danh không phản hồi. Vui lòng thử lại sau ít phút."
EN_DOWN = "The identity service is not responding. Please try again in a few minutes."


def register(app, name="zalo", **settings):
    with app.app_context():
        UpstreamRegistry.from_app().add(name, **settings)


def zalo_at(app, token_endpoint: str, authorization_endpoint="https://oauth.zaloapp.com/v4/permission"):
    """A Zalo-profile provider (no discovery: starting a login fetches nothing) whose token endpoint is
    ``token_endpoint``."""
    register(app, "zalo", profile="zalo", client_id="4143902110000000000", client_secret="zalo-secret",
             endpoints={"authorization_endpoint": authorization_endpoint, "token_endpoint": token_endpoint,
                        "userinfo_endpoint": token_endpoint})


def rejections(app):
    with app.app_context():
        return [e.details for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))
                if e.tag == "account:upstream:reject"]


def callback_after_start(client, name="zalo"):
    """Start a login and come back with a code, as the upstream would send the browser."""
    started = client.get(f"/login/upstream/{name}?next=/account")
    assert started.status_code == 302, started.get_data(as_text=True)
    state = parse_qs(urlsplit(started.headers["Location"]).query)["state"][0]
    began = time.monotonic()
    response = client.get(f"/login/upstream/{name}/callback?code=upstream-code&state={state}")
    return response, time.monotonic() - began


# -- an upstream that is down or silent ------------------------------------------------------------------------
def test_a_token_endpoint_that_is_down_is_a_502_page_in_the_persons_language(make_app):
    app = make_app(IDP_OUTBOUND_DEADLINE_SECONDS=1)
    zalo_at(app, f"http://127.0.0.1:{free_port()}/v4/access_token")  # nothing listens there
    response, took = callback_after_start(app.test_client())
    assert response.status_code == 502 and took < 1.5
    page = response.get_data(as_text=True)
    assert VI_DOWN in page and 'data-problem="unavailable"' in page
    english = app.test_client()
    english.set_cookie("motid_lang", "en")
    response, _ = callback_after_start(english)
    assert response.status_code == 502 and EN_DOWN in response.get_data(as_text=True)
    assert [(r["error"], r["reason"].split(": ", 1)[1]) for r in rejections(app)] == \
        [("unavailable", "transport: ConnectionRefusedError")] * 2


def test_a_silent_token_endpoint_is_a_504_page_within_the_deadline(make_app, silent_server):
    app = make_app(IDP_OUTBOUND_DEADLINE_SECONDS=1)
    zalo_at(app, silent_server + "/v4/access_token")
    response, took = callback_after_start(app.test_client())
    assert response.status_code == 504 and 0.9 < took < 2.5  # the deadline, not a hang
    assert VI_DOWN in response.get_data(as_text=True)
    assert rejections(app)[-1]["error"] == "unavailable" and rejections(app)[-1]["reason"].endswith("deadline passed")
    with app.app_context():  # the state was used up by the attempt: nothing half-done to finish later
        assert db.session.scalar(select(UpstreamLogin.consumed_at)) is not None


def test_a_silent_or_down_discovery_at_the_start_is_504_or_502(make_app, silent_server):
    app = make_app(IDP_OUTBOUND_DEADLINE_SECONDS=1)
    register(app, "vneid", profile="vneid", issuer=silent_server, client_id="a", client_secret="s")
    register(app, "dvcqg", profile="dvcqg", issuer=f"http://127.0.0.1:{free_port()}", client_id="a",
             client_secret="s")
    client = app.test_client()
    began = time.monotonic()
    slow = client.get("/login/upstream/vneid")
    assert slow.status_code == 504 and time.monotonic() - began < 2.5 and VI_DOWN in slow.get_data(as_text=True)
    assert client.get("/login/upstream/dvcqg").status_code == 502
    with app.app_context():
        assert db.session.query(UpstreamLogin).count() == 0  # nothing stored before the upstream answered
    assert [(r["provider"], r["error"], r["step"], r["reason"].rsplit(": ", 1)[1]) for r in rejections(app)] == [
        ("vneid", "unavailable", "start", "deadline passed"),
        ("dvcqg", "unavailable", "start", "ConnectionRefusedError")]


# -- rate limits ---------------------------------------------------------------------------------------------
def test_starting_upstream_logins_is_limited_per_address(make_app, clock):
    app = make_app(IDP_LOGIN_LIMIT_PER_IP="3/minute")
    zalo_at(app, "https://oauth.zaloapp.com/v4/access_token")
    client = app.test_client()
    assert [client.get("/login/upstream/zalo").status_code for _ in range(4)] == [302, 302, 302, 429]
    with app.app_context():
        assert db.session.query(UpstreamLogin).count() == 3  # the refused start stored no pending login
    other = app.test_client()
    assert other.get("/login/upstream/zalo", environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 302
    clock.advance(seconds=61)
    assert client.get("/login/upstream/zalo").status_code == 302


def test_backchannel_logout_is_limited_per_address(make_app, clock):
    app = make_app(IDP_LOGIN_LIMIT_PER_IP="2/minute")
    register(app, "vneid", profile="vneid", issuer="https://sso.dancuquocgia.gov.vn/realms/vneid", client_id="a",
             client_secret="s")
    client = app.test_client()
    answers = [client.post("/login/upstream/vneid/backchannel-logout", data={"logout_token": "x.y.z"})
               for _ in range(3)]
    assert [a.status_code for a in answers] == [400, 400, 429]
    assert answers[0].json == {"error": "invalid_request"} and answers[0].headers["Cache-Control"] == "no-store"
    assert len(rejections(app)) == 2  # the refused request cost no token check
    clock.advance(seconds=61)
    assert client.post("/login/upstream/vneid/backchannel-logout", data={"logout_token": "x.y.z"}).status_code == 400


# -- the JWKS refetch floor ----------------------------------------------------------------------------------
class CountingOP:
    """Discovery and a JWKS on loopback, counting how often the JWKS is fetched."""

    def __init__(self):
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.key = jwk.RSAKey.generate_key(2048, {"kid": "published", "use": "sig", "alg": "RS256"})
        self.jwks_fetches = 0
        self._server = make_server("127.0.0.1", self.port, self._app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _app(self, environ, start_response):
        path = environ["PATH_INFO"]
        if path == "/.well-known/openid-configuration":
            body = {"issuer": self.issuer, "authorization_endpoint": self.issuer + "/auth",
                    "token_endpoint": self.issuer + "/token", "jwks_uri": self.issuer + "/jwks"}
        elif path == "/jwks":
            self.jwks_fetches += 1
            body = {"keys": [self.key.as_dict(private=False)]}
        else:
            return Response(status=404)(environ, start_response)
        return Response(json.dumps(body), mimetype="application/json")(environ, start_response)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._thread.join(5)


def made_up_kid_token(op, now) -> str:
    """A logout token signed with a key the upstream never published, under a random kid."""
    key = jwk.RSAKey.generate_key(2048)
    claims = {"iss": op.issuer, "aud": "a", "iat": int(now.timestamp()), "jti": secrets.token_hex(8), "sub": "x",
              "events": {"http://schemas.openid.net/event/backchannel-logout": {}}}
    return jwt.encode({"alg": "RS256", "kid": secrets.token_hex(8)}, claims, key)


def test_made_up_kids_refetch_the_jwks_at_most_once_per_floor_per_provider(make_app, clock):
    app = make_app(IDP_UPSTREAM_JWKS_REFETCH_SECONDS=30)
    client = app.test_client()
    with CountingOP() as op:
        for name in ("vneid", "vneid-2"):
            register(app, name, profile="vneid", issuer=op.issuer, client_id="a", client_secret="s")

        def flood(name, count):
            answers = {client.post(f"/login/upstream/{name}/backchannel-logout",
                                   data={"logout_token": made_up_kid_token(op, clock.now)}).status_code
                       for _ in range(count)}
            assert answers == {400}

        flood("vneid", 6)
        assert op.jwks_fetches == 2  # the first fetch, then one refetch for the first unknown kid
        flood("vneid-2", 3)
        assert op.jwks_fetches == 4  # another provider has its own floor
        clock.advance(seconds=29)
        flood("vneid", 3)
        assert op.jwks_fetches == 4
        clock.advance(seconds=2)
        flood("vneid", 3)
        assert op.jwks_fetches == 5  # the floor has passed: one more refetch, then the floor again
    reasons = {r["reason"] for r in rejections(app)}
    assert reasons == {"logout_token signed with an unknown key"}


def test_a_key_rotated_after_the_floor_is_found_by_the_next_refetch(make_app, clock):
    app = make_app(IDP_UPSTREAM_JWKS_REFETCH_SECONDS=30)
    client = app.test_client()
    with CountingOP() as op:
        register(app, "vneid", profile="vneid", issuer=op.issuer, client_id="a", client_secret="s")
        client.post("/login/upstream/vneid/backchannel-logout", data={"logout_token": made_up_kid_token(op, clock.now)})
        assert op.jwks_fetches == 2
        op.key = jwk.RSAKey.generate_key(2048, {"kid": "rotated", "use": "sig", "alg": "RS256"})
        claims = {"iss": op.issuer, "aud": "a", "iat": int(clock.now.timestamp()), "jti": "j1", "sub": "hoa",
                  "events": {"http://schemas.openid.net/event/backchannel-logout": {}}}
        token = jwt.encode({"alg": "RS256", "kid": "rotated"}, claims, op.key)
        floored = client.post("/login/upstream/vneid/backchannel-logout", data={"logout_token": token})
        assert floored.status_code == 400 and op.jwks_fetches == 2  # within the floor: the cached keys only
        clock.advance(seconds=31)
        claims.update(iat=int(clock.now.timestamp()), jti="j2")
        token = jwt.encode({"alg": "RS256", "kid": "rotated"}, claims, op.key)
        accepted = client.post("/login/upstream/vneid/backchannel-logout", data={"logout_token": token})
        assert accepted.status_code == 200 and op.jwks_fetches == 3


# -- the worker's purges ---------------------------------------------------------------------------------------
def _session(account_id, now, *, ended=False) -> SsoSession:
    return SsoSession(id=secrets.token_hex(32), sid=secrets.token_hex(16), account_id=account_id, auth_time=now,
                      amr=["fed"], acr="urn:motid:loa:2", created_at=now, last_seen_at=now,
                      expires_at=now + timedelta(hours=12), ended_at=now if ended else None,
                      end_reason="logout" if ended else None)


def test_the_worker_purges_upstream_sessions_and_logout_tokens(app, accounts, clock):
    """Upstream sessions go with their SSO session's end; a logout token's jti is kept exactly as long as
    the token could still be accepted (its replay window), then goes."""
    account_id = accounts()["id"]
    with app.app_context():
        live, ended = _session(account_id, clock()), _session(account_id, clock(), ended=True)
        db.session.add_all([live, ended])
        db.session.flush()
        for row in (live, ended):
            db.session.add(UpstreamSession(sso_session_id=row.id, provider="vneid", upstream_sid="s-" + row.sid,
                                           subject="hoa", created_at=clock()))
        db.session.add_all([
            UpstreamLogoutToken(provider="vneid", jti="old", expires_at=clock() + timedelta(minutes=1)),
            UpstreamLogoutToken(provider="vneid", jti="new", expires_at=clock() + timedelta(minutes=11))])
        db.session.commit()
        live_id, ended_id = live.id, ended.id

    def left():
        with app.app_context():
            return (sorted(db.session.scalars(select(UpstreamSession.sso_session_id))),
                    sorted(db.session.scalars(select(UpstreamLogoutToken.jti))))

    run(app, once=True)
    assert left() == ([live_id], ["new", "old"])  # the ended session's row went; both tokens still count
    assert ended_id != live_id
    clock.advance(minutes=1)
    run(app, once=True)
    assert left() == ([live_id], ["new"])  # expires_at reached: gone
    clock.advance(minutes=10)
    run(app, once=True)
    assert left() == ([live_id], [])
    with app.app_context():  # the live session's upstream row stays until that session ends
        db.session.get(SsoSession, live_id).ended_at = clock()
        db.session.commit()
    run(app, once=True)
    assert left() == ([], [])
