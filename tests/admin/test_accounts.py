"""Account administration in the console and the API: search, create, edit, status, password,
sessions, second factor, roles and recent events."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from idp.accounts.models import Account, SsoSession
from idp.db import db
from idp.events import AuditEvent
from idp.oidc.claims import account_claims
from idp.oidc.models import LogoutDelivery, SessionClient
from tests.admin.conftest import admin_login
from tests.conftest import CSRF_RE, PASSWORD, login
from tests.oidc.helpers import make_client

API = "/admin/api/v1"


@pytest.fixture
def app(make_app, smtp):
    return make_app(IDP_SMTP_URL=smtp.url)


def csrf(browser, page="/admin/accounts/new"):
    return CSRF_RE.search(browser.get(page).get_data(as_text=True)).group(1)


def tags(app):
    with app.app_context():
        return [e.tag for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def account(app, world, label):
    with app.app_context():
        found = db.session.get(Account, world.people[label]["id"])
        db.session.expunge(found)
        return found


# -- search --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("query", ["Người an_phu_officer", "nguoi an phu officer", "NGƯỜI AN", "096190000222",
                                   "cb.anphu@camau.gov.vn"])
def test_search_by_name_prefix_or_identifier(app, world, token, query):
    response = app.test_client().get(f"{API}/accounts", query_string={"q": query}, headers=token("province"))
    assert world.people["an_phu_officer"]["sub"] in [item["sub"] for item in response.json["items"]]


def test_search_by_phone_in_any_form(app, world, accounts, token):
    created = accounts(kind="officer", citizen_id=None, email=None, phone="0912345678", full_name="Trần Văn Điện",
                       unit_id=world.units["31234"])
    for query in ("0912 345 678", "+84912345678", "trần văn đ", "tran van dien"):
        items = app.test_client().get(f"{API}/accounts", query_string={"q": query},
                                      headers=token("province")).json["items"]
        assert [i["sub"] for i in items] == [created["sub"]], query


def test_search_pages_with_a_cursor(app, world, token):
    client, headers = app.test_client(), token("province")
    first = client.get(f"{API}/accounts?q=nguoi&limit=4", headers=headers)
    assert len(first.json["items"]) == 4 and first.json["next_cursor"]
    assert 'rel="next"' in first.headers["Link"]
    second = client.get(f"{API}/accounts?q=nguoi&limit=4&cursor={first.json['next_cursor']}", headers=headers)
    seen = [i["sub"] for i in first.json["items"] + second.json["items"]]
    assert len(seen) == len(set(seen)) == 8
    third = client.get(f"{API}/accounts?q=nguoi&limit=4&cursor={second.json['next_cursor']}", headers=headers)
    assert len(third.json["items"]) == 1 and third.json["next_cursor"] is None


def test_an_oversized_page_is_refused_not_cut(app, world, token):
    response = app.test_client().get(f"{API}/accounts?limit=1000", headers=token("province"))
    assert response.status_code == 400 and response.json["reason"] == "page_too_large"
    with app.app_context():
        refused = db.session.scalars(select(AuditEvent).where(AuditEvent.tag == "admin:request:refuse")).one()
        assert refused.details["limit"] == 1000


def test_the_name_index_is_used(app, world):
    from idp.admin.search import AccountQuery, statement
    with app.app_context():
        dialect = db.engine.dialect.name
        stmt = statement(AccountQuery(text="nguyen van"), dialect)
        compiled = stmt.compile(db.engine, compile_kwargs={"literal_binds": True})
        prefix = "EXPLAIN QUERY PLAN " if dialect == "sqlite" else "EXPLAIN "
        with db.engine.connect() as conn:
            if dialect == "postgresql":
                conn.exec_driver_sql("SET enable_seqscan = off")
            plan = " ".join(str(row) for row in conn.exec_driver_sql(prefix + str(compiled)))
        assert "ix_accounts_name_key" in plan, plan


# -- create, edit ------------------------------------------------------------------------------------------
def test_create_an_officer_in_the_console_emails_a_password_link(app, world, browser, smtp, clock):
    b = browser("an_phu_admin")
    response = b.post("/admin/accounts/new", data={
        "csrf_token": csrf(b), "full_name": "Võ Thị Lan", "unit_id": world.units["31234.VP"],
        "email": "lan.vo@camau.gov.vn", "citizen_id": "096195000777", "position": "Văn thư"})
    assert response.status_code == 302
    with app.app_context():
        created = db.session.scalar(select(Account).where(Account.email == "lan.vo@camau.gov.vn"))
        assert (created.kind, created.unit_id, created.password_hash) == ("officer", world.units["31234.VP"], None)
    link = smtp.last_link("/password/reset/")
    assert smtp.messages[-1]["To"] == "lan.vo@camau.gov.vn"
    assert link


def test_create_shows_field_errors(app, world, browser):
    b = browser("an_phu_admin")
    response = b.post("/admin/accounts/new", data={"csrf_token": csrf(b), "full_name": "Võ Thị Lan",
                                                   "unit_id": world.units["31234"], "email": "cb.anphu@camau.gov.vn"})
    assert response.status_code == 422
    assert "Địa chỉ email này đã được sử dụng" in response.get_data(as_text=True)


def test_edit_with_a_stale_etag_changes_nothing(app, world, token):
    client, headers = app.test_client(), token("province")
    sub = world.people["an_phu_officer"]["sub"]
    etag = client.get(f"{API}/accounts/{sub}", headers=headers).headers["ETag"]
    missing = client.patch(f"{API}/accounts/{sub}", json={"position": "Phó chủ tịch"}, headers=headers)
    assert missing.status_code == 428 and missing.json["reason"] == "missing_if_match"
    first = client.patch(f"{API}/accounts/{sub}", json={"position": "Phó chủ tịch"},
                         headers={**headers, "If-Match": etag})
    assert first.status_code == 200 and first.json["position"] == "Phó chủ tịch"
    stale = client.patch(f"{API}/accounts/{sub}", json={"position": "Chủ tịch"}, headers={**headers, "If-Match": etag})
    assert stale.status_code == 412 and stale.json["reason"] == "stale_etag"
    assert account(app, world, "an_phu_officer").position == "Phó chủ tịch"
    assert tags(app).count("admin:request:refuse") == 2


def test_edit_checks_every_field_before_writing(app, world, token):
    client, headers = app.test_client(), token("province")
    sub = world.people["an_phu_officer"]["sub"]
    etag = client.get(f"{API}/accounts/{sub}", headers=headers).headers["ETag"]
    response = client.patch(f"{API}/accounts/{sub}", json={"full_name": "Tên Mới", "phone": "12"},
                            headers={**headers, "If-Match": etag})
    assert response.status_code == 422 and set(response.json["errors"]) == {"phone"}
    assert account(app, world, "an_phu_officer").full_name == "Người an_phu_officer"


def test_console_edit_detects_a_concurrent_change(app, world, browser):
    b = browser("province")
    sub = world.people["an_phu_officer"]["sub"]
    page = b.get(f"/admin/accounts/{sub}/edit").get_data(as_text=True)
    etag = re.search(r'name="etag" type="hidden" value="([^"]+)"', page).group(1)
    token = CSRF_RE.search(page).group(1)
    form = {"csrf_token": token, "etag": etag, "full_name": "Người A", "email": "cb.anphu@camau.gov.vn",
            "phone": "", "position": "", "unit_id": world.units["31234"], "locale": "vi"}
    assert b.post(f"/admin/accounts/{sub}/edit", data=form).status_code == 302
    assert b.post(f"/admin/accounts/{sub}/edit", data={**form, "full_name": "Người B"}).status_code == 412
    assert account(app, world, "an_phu_officer").full_name == "Người A"


# -- status, password, sessions, second factor ------------------------------------------------------------
def test_disable_ends_sessions_and_tells_the_applications(app, world, clock):
    officer = world.people["an_phu_officer"]
    officer_browser = admin_login(app.test_client(), clock, officer)
    client_id, _ = make_client(app, backchannel_logout_uri="https://rp.example.vn/logout")
    with app.app_context():
        sid = db.session.scalar(select(SsoSession.sid).where(SsoSession.account_id == officer["id"]))
        db.session.add(SessionClient(sid=sid, client_id=client_id, first_at=clock(), last_at=clock()))
        db.session.commit()
    admin = admin_login(app.test_client(), clock, world.people["an_phu_admin"])
    response = admin.post(f"/admin/accounts/{officer['sub']}/disable", data={"csrf_token": csrf(admin)})
    assert response.status_code == 302
    assert officer_browser.get("/account").status_code == 302  # logged out
    with app.app_context():
        delivery = db.session.scalar(select(LogoutDelivery))
        assert (delivery.client_id, delivery.sid) == (client_id, sid)
    assert login(app.test_client(), officer["login"]).status_code == 200  # refused: disabled
    enable = admin.post(f"/admin/accounts/{officer['sub']}/enable", data={"csrf_token": csrf(admin)})
    assert enable.status_code == 302 and account(app, world, "an_phu_officer").status == "active"


def test_unlock_lifts_a_lockout(app, world, token):
    for _ in range(5):
        login(app.test_client(), world.people["an_phu_officer"]["login"], "wrong password 123")
    assert account(app, world, "an_phu_officer").status == "locked"
    response = app.test_client().post(f"{API}/accounts/{world.people['an_phu_officer']['sub']}/unlock",
                                      headers=token("an_phu_admin"))
    assert response.status_code == 200 and account(app, world, "an_phu_officer").status == "active"
    again = app.test_client().post(f"{API}/accounts/{world.people['an_phu_officer']['sub']}/unlock",
                                   headers=token("an_phu_admin"))
    assert again.status_code == 409


def test_force_password_reset(app, world, token, smtp):
    sub = world.people["an_phu_officer"]["sub"]
    response = app.test_client().post(f"{API}/accounts/{sub}/password-reset", headers=token("an_phu_admin"))
    assert response.json == {"ok": True, "link_sent": True}
    assert smtp.last_link("/password/reset/")
    assert login(app.test_client(), world.people["an_phu_officer"]["login"], PASSWORD).status_code == 200  # refused
    assert "admin:password:force_reset" in tags(app)


def test_force_password_reset_without_email_changes_nothing(app, world, accounts, token):
    created = accounts(kind="officer", citizen_id="096190000999", email=None, unit_id=world.units["31234"])
    response = app.test_client().post(f"{API}/accounts/{created['sub']}/password-reset",
                                      headers=token("an_phu_admin"))
    assert response.status_code == 409 and response.json["reason"] == "no_email"
    with app.app_context():
        assert db.session.get(Account, created["id"]).password_hash is not None


def test_end_sessions(app, world, clock, token):
    officer = world.people["an_phu_officer"]
    one = admin_login(app.test_client(), clock, officer)
    response = app.test_client().post(f"{API}/accounts/{officer['sub']}/end-sessions", headers=token("an_phu_admin"))
    assert response.json == {"ok": True, "sessions_ended": 1}
    assert one.get("/account").status_code == 302


def test_reset_second_factor(app, world, token, smtp):
    sub = world.people["an_phu_officer"]["sub"]
    response = app.test_client().post(f"{API}/accounts/{sub}/second-factor-reset", headers=token("an_phu_admin"))
    assert response.status_code == 200
    assert not account(app, world, "an_phu_officer").totp_secret
    assert "account:totp:admin_reset" in tags(app)
    again = app.test_client().post(f"{API}/accounts/{sub}/second-factor-reset", headers=token("an_phu_admin"))
    assert again.status_code == 409
    # The next login asks to enrol again.
    assert login(app.test_client(), world.people["an_phu_officer"]["login"]).headers["Location"].startswith(
        "/account/security/totp")


def test_disabling_oneself_is_refused(app, world, token):
    response = app.test_client().post(f"{API}/accounts/{world.people['province']['sub']}/disable",
                                      headers=token("province"))
    assert response.status_code == 409 and response.json["reason"] == "self"


# -- roles and events ----------------------------------------------------------------------------------------
def test_role_given_in_the_console_reaches_the_claims(app, world, browser):
    b = browser("an_phu_admin")
    sub = world.people["an_phu_officer"]["sub"]
    page = b.get(f"/admin/accounts/{sub}").get_data(as_text=True)
    assert "one_stop.receiver" in page and "idp.admin" not in page.split("Give the role")[0][-2000:]
    response = b.post(f"/admin/accounts/{sub}/roles", data={"csrf_token": csrf(b, f"/admin/accounts/{sub}"),
                                                            "role": "one_stop.receiver",
                                                            "unit_id": world.units["31234"]})
    assert response.status_code == 302
    with app.app_context():
        claims = account_claims(db.session.get(Account, world.people["an_phu_officer"]["id"]))
    assert claims["roles"] == ["one_stop.receiver"]
    revoke = b.post(f"/admin/accounts/{sub}/roles/one_stop.receiver/revoke",
                    data={"csrf_token": csrf(b, f"/admin/accounts/{sub}")})
    assert revoke.status_code == 302
    with app.app_context():
        assert "roles" not in account_claims(db.session.get(Account, world.people["an_phu_officer"]["id"]))


def test_account_events_are_listed(app, world, token, browser):
    sub = world.people["an_phu_officer"]["sub"]
    app.test_client().post(f"{API}/accounts/{sub}/end-sessions", headers=token("an_phu_admin"))
    events = app.test_client().get(f"{API}/accounts/{sub}/events", headers=token("an_phu_admin")).json["items"]
    assert events[0]["tag"] == "admin:session:end_all"
    assert events[0]["actor"] == world.people["an_phu_admin"]["sub"]
    assert "admin:session:end_all" in browser("an_phu_admin").get(f"/admin/accounts/{sub}").get_data(as_text=True)
