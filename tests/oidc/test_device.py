"""Device Authorization Grant (RFC 8628) over HTTP: a kiosk starts the flow, a person approves on the
verification page, the kiosk polls the token endpoint; and every wrong turn on the way."""
from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from idp.db import db
from idp.oidc.models import DeviceAuthorization
from tests.conftest import CSRF_RE, PASSWORD, login
from tests.oidc.helpers import basic, decode, make_client
from tests.security.concurrency import at_once

DEVICE = "urn:ietf:params:oauth:grant-type:device_code"
KIOSK = "Ki-ốt Trung tâm Phục vụ hành chính công"
USER_CODE = re.compile(r"^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$")
CITIZEN = "096301001234"


@pytest.fixture
def person(accounts):
    return accounts(email="hoa@example.vn")


@pytest.fixture
def kiosk(app):
    """A public kiosk (client authentication ``none``) allowed the device code grant."""
    client_id, _ = make_client(app, client_name=KIOSK, redirect_uris=[], token_endpoint_auth_method="none",
                               grant_types=[DEVICE, "refresh_token"], scope="openid profile email offline_access")
    return client_id


def start(client, client_id, scope="openid profile", **extra):
    return client.post("/device/authorize", data={"client_id": client_id, "scope": scope, **extra})


def poll(client, client_id, device_code, headers=None):
    data = {"grant_type": DEVICE, "device_code": device_code}
    if headers is None:
        data["client_id"] = client_id
    return client.post("/token", data=data, headers=headers or {})


def assert_error(response, error, status=400):
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.json["error"] == error, response.json
    assert response.headers["Cache-Control"] == "no-store"


def submit_code(browser, user_code):
    page = browser.get("/device").get_data(as_text=True)
    token = CSRF_RE.search(page).group(1)
    return browser.post("/device", data={"csrf_token": token, "user_code": user_code})


def decide(browser, confirm_page: str, decision: str):
    token = CSRF_RE.search(confirm_page).group(1)
    user_code = re.search(r'name="user_code" value="([^"]+)"', confirm_page).group(1)
    return browser.post("/device", data={"csrf_token": token, "user_code": user_code, "decision": decision})


def approve(app, user_code, decision="allow", identifier=CITIZEN):
    browser = app.test_client()
    login(browser, identifier, PASSWORD)
    confirm = submit_code(browser, user_code)
    assert confirm.status_code == 200, confirm.get_data(as_text=True)
    return decide(browser, confirm.get_data(as_text=True), decision)


def test_discovery_advertises_the_device_flow(client):
    metadata = client.get("/.well-known/openid-configuration").json
    assert metadata["device_authorization_endpoint"] == "http://localhost/device/authorize"
    assert DEVICE in metadata["grant_types_supported"]


def test_whole_flow_kiosk_phone_and_tokens(app, client, kiosk, person, clock):
    started = start(client, kiosk, scope="openid profile offline_access")
    assert started.status_code == 200 and started.headers["Cache-Control"] == "no-store"
    body = started.json
    assert set(body) == {"device_code", "user_code", "verification_uri", "verification_uri_complete",
                         "expires_in", "interval"}
    assert USER_CODE.match(body["user_code"]), body["user_code"]
    assert body["verification_uri"] == "http://localhost/device"
    assert body["verification_uri_complete"] == "http://localhost/device?user_code=" + body["user_code"]
    assert body["expires_in"] == 600 and body["interval"] == 5
    assert_error(poll(client, kiosk, body["device_code"]), "authorization_pending")

    # The phone opens verification_uri_complete: the login page first, then back with the code filled in.
    phone = app.test_client()
    path = urlsplit(body["verification_uri_complete"])
    detour = phone.get(f"{path.path}?{path.query}")
    assert detour.status_code == 302 and "/login?" in detour.headers["Location"]
    target = parse_qs(urlsplit(detour.headers["Location"]).query)["next"][0]
    assert target == f"/device?user_code={body['user_code']}"
    back = login(phone, CITIZEN, PASSWORD, query_string={"next": target})
    assert back.status_code == 302 and back.headers["Location"].endswith(target)
    page = phone.get(target).get_data(as_text=True)
    assert f'value="{body["user_code"]}"' in page and 'lang="vi"' in page

    # Typed in lower case without the dash: the same code. The page names the kiosk and what it asks.
    confirm = submit_code(phone, body["user_code"].lower().replace("-", ""))
    text = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and KIOSK in text and "Nguyễn Thị Hoa" in text
    assert body["user_code"] in text and "Họ tên, ngày sinh, giới tính và ngôn ngữ của bạn" in text
    done = decide(phone, text, "allow")
    assert done.status_code == 200 and "Đã kết nối thiết bị" in done.get_data(as_text=True)

    clock.advance(seconds=5)
    tokens = poll(client, kiosk, body["device_code"])
    assert tokens.status_code == 200, tokens.json
    assert tokens.headers["Cache-Control"] == "no-store"
    assert set(tokens.json) >= {"access_token", "refresh_token", "id_token", "expires_in", "token_type"}
    assert tokens.json["scope"] == "openid profile offline_access"
    claims = decode(app, tokens.json["id_token"]).claims
    assert claims["sub"] == person["sub"] and claims["aud"] == kiosk and claims["iss"] == "http://localhost"
    assert claims["acr"] == "urn:motid:loa:1" and claims["amr"] == ["pwd"] and claims["sid"]
    assert claims["auth_time"] == int(clock.now.timestamp()) - 5
    access = decode(app, tokens.json["access_token"]).claims
    assert access["client_id"] == kiosk and access["sid"] == claims["sid"] and access["acr"] == claims["acr"]
    userinfo = client.get("/userinfo", headers={"Authorization": "Bearer " + tokens.json["access_token"]})
    assert userinfo.status_code == 200 and userinfo.json["name"] == "Nguyễn Thị Hoa"
    refreshed = client.post("/token", data={"grant_type": "refresh_token", "client_id": kiosk,
                                            "refresh_token": tokens.json["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.json

    # Used twice: invalid_grant, and what the first use produced is revoked.
    clock.advance(seconds=5)
    assert_error(poll(client, kiosk, body["device_code"]), "invalid_grant")
    again = client.post("/token", data={"grant_type": "refresh_token", "client_id": kiosk,
                                        "refresh_token": refreshed.json["refresh_token"]})
    assert_error(again, "invalid_grant")
    assert client.get("/userinfo", headers={"Authorization": "Bearer " + tokens.json["access_token"]}
                      ).status_code == 401


def test_no_refresh_token_without_offline_access_and_no_id_token_without_openid(app, client, kiosk, person):
    started = start(client, kiosk, scope="profile").json
    assert approve(app, started["user_code"]).status_code == 200
    tokens = poll(client, kiosk, started["device_code"]).json
    assert "access_token" in tokens and "refresh_token" not in tokens and "id_token" not in tokens


def test_polling_too_fast_gets_slow_down_and_a_longer_interval(app, client, kiosk, clock):
    started = start(client, kiosk).json
    assert_error(poll(client, kiosk, started["device_code"]), "authorization_pending")
    clock.advance(seconds=2)
    assert_error(poll(client, kiosk, started["device_code"]), "slow_down")
    clock.advance(seconds=5)  # the old interval is not enough any more: 10 s now
    assert_error(poll(client, kiosk, started["device_code"]), "slow_down")
    clock.advance(seconds=15)  # 15 s now, and 15 s have passed
    assert_error(poll(client, kiosk, started["device_code"]), "authorization_pending")
    with app.app_context():
        assert db.session.scalar(select(DeviceAuthorization.interval)) == 15


def test_denied_then_every_later_poll_is_access_denied(app, client, kiosk, person, clock):
    started = start(client, kiosk).json
    done = approve(app, started["user_code"], decision="deny")
    assert done.status_code == 200 and "Đã từ chối yêu cầu" in done.get_data(as_text=True)
    for _ in range(3):
        clock.advance(seconds=5)
        assert_error(poll(client, kiosk, started["device_code"]), "access_denied")


def test_expired_device_code_and_user_code(app, client, kiosk, person, clock):
    started = start(client, kiosk).json
    clock.advance(seconds=601)
    assert_error(poll(client, kiosk, started["device_code"]), "expired_token")
    browser = app.test_client()
    login(browser, CITIZEN, PASSWORD)
    wrong = submit_code(browser, started["user_code"])
    assert wrong.status_code == 400 and "không hợp lệ" in wrong.get_data(as_text=True)


def test_approved_after_expiry_is_refused_and_expired_approval_is_not_redeemed(app, client, kiosk, person, clock):
    started = start(client, kiosk).json
    assert approve(app, started["user_code"]).status_code == 200
    clock.advance(seconds=601)
    assert_error(poll(client, kiosk, started["device_code"]), "expired_token")


def test_wrong_or_guessed_user_codes_get_one_clear_answer(app, client, kiosk, person):
    start(client, kiosk)
    browser = app.test_client()
    login(browser, CITIZEN, PASSWORD)
    pages = [submit_code(browser, guess) for guess in ("BCDF-GHJK", "AAAA-1111", "x" * 300, "")]
    assert {page.status_code for page in pages} == {400}
    texts = {re.sub(r'value="[^"]*"', "", page.get_data(as_text=True)) for page in pages}
    assert len(texts) == 1  # the same page whatever the guess, so nothing tells codes apart
    assert "Mã này không hợp lệ, đã hết hạn hoặc đã được dùng" in texts.pop()


def test_user_code_guessing_is_rate_limited_per_address_and_globally(make_app, accounts):
    app = make_app(IDP_DEVICE_CODE_LIMIT_PER_IP="3/minute", IDP_DEVICE_CODE_LIMIT_GLOBAL="5/minute")
    accounts()
    browser = app.test_client()
    login(browser, CITIZEN, PASSWORD)
    answers = [submit_code(browser, "BCDF-GHJK").status_code for _ in range(4)]
    assert answers == [400, 400, 400, 429]
    other = app.test_client()
    login(other, CITIZEN, PASSWORD, environ_base={"REMOTE_ADDR": "10.0.0.2"})
    token = CSRF_RE.search(other.get("/device", environ_base={"REMOTE_ADDR": "10.0.0.2"}).get_data(as_text=True))
    answers = [other.post("/device", data={"csrf_token": token.group(1), "user_code": "BCDF-GHJK"},
                          environ_base={"REMOTE_ADDR": f"10.0.0.{n}"}).status_code for n in (2, 3, 4)]
    assert answers == [400, 400, 429]  # 5 of the global limit used: any address is refused now


def test_a_user_code_is_approved_once(app, client, kiosk, person, clock):
    started = start(client, kiosk).json
    browser = app.test_client()
    login(browser, CITIZEN, PASSWORD)
    confirm = submit_code(browser, started["user_code"]).get_data(as_text=True)
    assert decide(browser, confirm, "allow").status_code == 200
    second = decide(browser, confirm, "allow")
    assert second.status_code == 400 and "không hợp lệ" in second.get_data(as_text=True)
    changed = decide(browser, confirm, "deny")  # nor changed afterwards
    assert changed.status_code == 400
    assert poll(client, kiosk, started["device_code"]).status_code == 200


def test_the_decision_needs_the_csrf_token_and_a_login(app, client, kiosk, person):
    started = start(client, kiosk).json
    anonymous = client.post("/device", data={"user_code": started["user_code"], "decision": "allow"})
    assert anonymous.status_code == 400  # no CSRF token: refused before anything else
    browser = app.test_client()
    login(browser, CITIZEN, PASSWORD)
    forged = browser.post("/device", data={"user_code": started["user_code"], "decision": "allow"})
    assert forged.status_code == 400
    odd = browser.post("/device", data={"csrf_token": CSRF_RE.search(browser.get("/device").get_data(
        as_text=True)).group(1), "user_code": started["user_code"], "decision": "maybe"})
    assert odd.status_code == 400
    assert_error(poll(client, kiosk, started["device_code"]), "authorization_pending")


def test_another_clients_device_code_is_invalid_grant_and_left_alone(app, client, kiosk, person):
    other, _ = make_client(app, redirect_uris=[], token_endpoint_auth_method="none", grant_types=[DEVICE])
    started = start(client, kiosk).json
    assert approve(app, started["user_code"]).status_code == 200
    assert_error(poll(client, other, started["device_code"]), "invalid_grant")
    assert poll(client, kiosk, started["device_code"]).status_code == 200


def test_clients_without_the_grant_type_are_refused(app, client, kiosk):
    web_id, secret = make_client(app)  # authorization_code and refresh_token only
    assert_error(client.post("/device/authorize", data={"scope": "openid"}, headers=basic(web_id, secret)),
                 "unauthorized_client")
    started = start(client, kiosk).json
    assert_error(client.post("/token", data={"grant_type": DEVICE, "device_code": started["device_code"]},
                             headers=basic(web_id, secret)), "unauthorized_client")


def test_bad_device_authorization_requests(app, client, kiosk):
    confidential, secret = make_client(app, redirect_uris=[], grant_types=[DEVICE], scope="openid profile")
    assert start(client, confidential, scope="openid", client_secret="wrong").status_code == 401
    assert_error(client.post("/device/authorize", data={"scope": "openid"}, headers=basic(confidential, "nope")),
                 "invalid_client", 401)
    assert_error(start(client, "no-such-client"), "invalid_client", 401)
    assert_error(start(client, kiosk, scope=""), "invalid_scope")
    assert_error(start(client, kiosk, scope="openid citizen_id"), "invalid_scope")
    ok = client.post("/device/authorize", data={"scope": "openid"}, headers=basic(confidential, secret))
    assert ok.status_code == 200 and USER_CODE.match(ok.json["user_code"])
    assert_error(start(client, kiosk, scope=["openid", "profile"]), "invalid_request")  # repeated (RFC 6749 §3.2)
    assert_error(poll(client, kiosk, [ok.json["device_code"], "x"]), "invalid_request")
    assert_error(poll(client, kiosk, ""), "invalid_request")
    assert_error(poll(client, kiosk, "x" * 5000), "invalid_grant")
    assert_error(poll(client, kiosk, "never-issued"), "invalid_grant")


def test_expired_requests_are_purged_by_the_housekeeping(app, client, kiosk, clock):
    start(client, kiosk)
    jobs = app.extensions["idp.retention.jobs"]  # run by `idp purge` and the worker's housekeeping
    purge = next(job for job in jobs if job.__module__ == "idp.oidc.device")
    with app.app_context():
        assert purge(clock.now) == 0
        assert purge(clock.now + timedelta(days=1, minutes=11)) == 1
        assert db.session.scalar(select(DeviceAuthorization)) is None


def test_ten_polls_at_once_after_approval_one_gets_tokens(make_app, accounts):
    apps = [make_app(), make_app()]  # two processes' worth of connection pools
    app = apps[0]
    accounts(email="hoa@example.vn")
    kiosk_id, _ = make_client(app, redirect_uris=[], token_endpoint_auth_method="none",
                              grant_types=[DEVICE, "refresh_token"], scope="openid offline_access")
    started = start(app.test_client(), kiosk_id, scope="openid offline_access").json
    assert approve(app, started["user_code"]).status_code == 200

    def redeem(n):
        response = poll(apps[n % 2].test_client(), kiosk_id, started["device_code"])
        return response.status_code, response.get_json(silent=True) or {}

    answers = at_once([lambda n=n: redeem(n) for n in range(10)])
    winners = [body for status, body in answers if status == 200]
    losers = [(status, body) for status, body in answers if status != 200]
    assert len(winners) == 1, answers
    assert all(status == 400 and body["error"] == "invalid_grant" for status, body in losers), losers


def test_a_client_requiring_a_second_factor_sends_the_person_to_step_up_first(app, client, person):
    kiosk_id, _ = make_client(app, redirect_uris=[], token_endpoint_auth_method="none", grant_types=[DEVICE],
                              default_acr_values=["urn:motid:loa:2"])
    started = start(client, kiosk_id).json
    browser = app.test_client()
    login(browser, CITIZEN, PASSWORD)
    detour = submit_code(browser, started["user_code"])
    assert detour.status_code == 302
    location = urlsplit(detour.headers["Location"])
    assert location.path == "/login/second-factor"
    assert parse_qs(location.query)["next"] == ["/device?user_code=" + started["user_code"].replace("-", "")]
    token = CSRF_RE.search(browser.get("/device").get_data(as_text=True)).group(1)
    forced = browser.post("/device", data={"csrf_token": token, "user_code": started["user_code"],
                                           "decision": "allow"})
    assert forced.status_code == 302  # the decision itself is refused at level 1 too
    assert_error(poll(client, kiosk_id, started["device_code"]), "authorization_pending")


def test_the_claims_parameter_puts_the_name_in_the_id_token(app, client, kiosk, person):
    bad = start(client, kiosk, scope="openid", claims="{not json")
    assert_error(bad, "invalid_request")
    started = start(client, kiosk, scope="openid", claims='{"id_token": {"name": null}}').json
    browser = app.test_client()
    login(browser, CITIZEN, PASSWORD)
    confirm = submit_code(browser, started["user_code"]).get_data(as_text=True)
    assert "Họ tên, ngày sinh, giới tính và ngôn ngữ của bạn" in confirm  # the name's scope is asked for too
    assert decide(browser, confirm, "allow").status_code == 200
    tokens = poll(client, kiosk, started["device_code"]).json
    claims = decode(app, tokens["id_token"]).claims
    assert claims["name"] == "Nguyễn Thị Hoa" and claims["sub"] == person["sub"] and tokens["scope"] == "openid"
