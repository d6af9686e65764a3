"""Every permission boundary, by console, by API and by guessed identifiers; every refusal recorded."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from idp.accounts import assurance
from idp.accounts.models import Account, AccountRole
from idp.admin.authz import ADMIN_SCOPES as AUTHZ_SCOPES
from idp.db import db
from idp.events import AuditEvent
from idp.oidc.clients import ADMIN_SCOPES
from idp.security import new_identifier
from tests.conftest import CSRF_RE
from tests.oidc.helpers import make_client

API = "/admin/api/v1"


def refusals(app, reason=None):
    with app.app_context():
        rows = db.session.scalars(select(AuditEvent).where(AuditEvent.tag == "admin:request:refuse")).all()
        return [r.details for r in rows if reason is None or r.details["reason"] == reason]


def post_action(browser, page, path, data=None):
    token = CSRF_RE.search(browser.get(page).get_data(as_text=True))
    token = token.group(1) if token else CSRF_RE.search(browser.get("/admin/accounts/new").get_data(as_text=True)).group(1)
    return browser.post(path, data={"csrf_token": token, **(data or {})})


def status_of(app, label, world):
    with app.app_context():
        return db.session.get(Account, world.people[label]["id"]).status


def test_scopes_are_the_same_list_everywhere():
    assert set(ADMIN_SCOPES) == set(AUTHZ_SCOPES)


# -- who gets into the console ------------------------------------------------------------------------
def test_anonymous_is_sent_to_login(client, world):
    response = client.get("/admin/accounts")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=/admin/accounts")


def test_an_officer_without_an_admin_role_is_refused_and_recorded(app, browser):
    response = browser("an_phu_officer").get("/admin/")
    assert response.status_code == 403
    assert refusals(app, "not_admin")


def test_a_session_below_level_2_must_step_up_first(app, world, clock):
    client = app.test_client()
    with app.test_request_context():
        account = db.session.get(Account, world.people["province"]["id"])
        app.extensions["idp.sessions"].login(account, amr=["pwd"], acr=assurance.LOA1, now=clock())
        from flask import g
        cookie = g.set_sso_cookie
    client.set_cookie("motid_sso", cookie, domain="localhost")
    response = client.get("/admin/accounts?q=x")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login/second-factor?next=/admin/accounts")


# -- a commune administrator stays in their commune -----------------------------------------------------
def test_commune_admin_sees_own_commune_and_its_units_only(app, world, browser):
    page = browser("an_phu_admin").get("/admin/accounts?q=nguoi").get_data(as_text=True)
    assert world.people["an_phu_officer"]["sub"] in page
    assert world.people["an_phu_office"]["sub"] in page  # a unit below the commune
    assert world.people["tan_loc_officer"]["sub"] not in page
    assert world.people["citizen"]["sub"] not in page
    assert world.people["province"]["sub"] not in page


@pytest.mark.parametrize("label", ["tan_loc_officer", "citizen", "province"])
def test_commune_admin_cannot_read_others_by_ui_or_api(app, world, browser, token, label):
    sub = world.people[label]["sub"]
    assert browser("an_phu_admin").get(f"/admin/accounts/{sub}").status_code == 404
    response = app.test_client().get(f"{API}/accounts/{sub}", headers=token("an_phu_admin"))
    assert response.status_code == 404 and response.mimetype == "application/problem+json"
    assert response.json["reason"] == "out_of_scope"
    # Searching by their exact ID number finds nothing either.
    listed = app.test_client().get(f"{API}/accounts?q={world.people[label]['login']}", headers=token("an_phu_admin"))
    assert listed.json["items"] == []


def test_a_guessed_identifier_is_answered_like_another_communes_officer(app, world, token):
    guessed = app.test_client().get(f"{API}/accounts/{new_identifier(24)}", headers=token("an_phu_admin"))
    other = app.test_client().get(f"{API}/accounts/{world.people['tan_loc_officer']['sub']}",
                                  headers=token("an_phu_admin"))
    assert guessed.status_code == other.status_code == 404
    assert guessed.json["detail"] == other.json["detail"]


@pytest.mark.parametrize("what", ["disable", "unlock", "password-reset", "end-sessions", "second-factor-reset"])
def test_commune_admin_cannot_change_another_communes_officer(app, world, browser, token, what):
    sub = world.people["tan_loc_officer"]["sub"]
    b = browser("an_phu_admin")
    response = post_action(b, "/admin/accounts/new", f"/admin/accounts/{sub}/{what}")
    assert response.status_code == 404
    api = app.test_client().post(f"{API}/accounts/{sub}/{what}", headers=token("an_phu_admin"))
    assert api.status_code == 404
    assert status_of(app, "tan_loc_officer", world) == "active"
    assert len(refusals(app, "out_of_scope")) >= 2


def test_commune_admin_cannot_edit_or_move_people_out_of_their_area(app, world, token):
    client = app.test_client()
    own = world.people["an_phu_officer"]["sub"]
    read = client.get(f"{API}/accounts/{own}", headers=token("an_phu_admin"))
    moved = client.patch(f"{API}/accounts/{own}", json={"unit_id": world.units["31240"]},
                         headers={**token("an_phu_admin"), "If-Match": read.headers["ETag"]})
    assert moved.status_code == 422 and moved.json["reason"] == "unit_out_of_scope"
    other = world.people["tan_loc_officer"]["sub"]
    patched = client.patch(f"{API}/accounts/{other}", json={"full_name": "X"},
                           headers={**token("an_phu_admin"), "If-Match": "*"})
    assert patched.status_code == 404
    created = client.post(f"{API}/accounts", json={"full_name": "Lê Văn Mới", "unit_id": world.units["31240"],
                                                   "email": "moi@camau.gov.vn"}, headers=token("an_phu_admin"))
    assert created.status_code == 422 and created.json["reason"] == "unit_out_of_scope"


def test_commune_admin_manages_own_officers(app, world, browser):
    sub = world.people["an_phu_office"]["sub"]
    b = browser("an_phu_admin")
    page = b.get(f"/admin/accounts/{sub}").get_data(as_text=True)
    assert f"/admin/accounts/{sub}/disable" in page
    response = post_action(b, f"/admin/accounts/{sub}", f"/admin/accounts/{sub}/disable")
    assert response.status_code == 302
    assert status_of(app, "an_phu_office", world) == "disabled"


def test_a_peer_administrator_is_visible_but_not_changeable(app, world, browser):
    with app.app_context():
        role = db.session.scalar(select(AccountRole).where(AccountRole.account_id == world.people["an_phu_admin"]["id"]))
        db.session.add(AccountRole(account_id=world.people["an_phu_office"]["id"], role_id=role.role_id,
                                   unit_id=world.units["31234"]))
        db.session.commit()
    sub = world.people["an_phu_office"]["sub"]
    b = browser("an_phu_admin")
    page = b.get(f"/admin/accounts/{sub}").get_data(as_text=True)
    assert "/disable" not in page  # the page hides what the server refuses
    assert post_action(b, f"/admin/accounts/{sub}", f"/admin/accounts/{sub}/disable").status_code == 403
    assert status_of(app, "an_phu_office", world) == "active"


# -- roles: nobody raises themselves ---------------------------------------------------------------------
def test_granting_oneself_a_role_is_refused(app, world, token):
    me = world.people["an_phu_admin"]["sub"]
    response = app.test_client().post(f"{API}/accounts/{me}/roles", json={"role": "idp.admin"},
                                      headers=token("an_phu_admin"))
    assert response.status_code in (403, 409)
    with app.app_context():
        codes = {g.role.code for g in db.session.get(Account, world.people["an_phu_admin"]["id"]).roles}
    assert codes == {"idp.unit_admin"}
    assert refusals(app)


def test_unit_admin_cannot_give_higher_roles_or_roles_elsewhere(app, world, token):
    client = app.test_client()
    sub = world.people["an_phu_officer"]["sub"]
    for role in ("idp.admin", "idp.auditor", "idp.client_manager"):
        response = client.post(f"{API}/accounts/{sub}/roles", json={"role": role}, headers=token("an_phu_admin"))
        assert response.status_code == 403 and response.json["reason"] == "higher_role", role
    elsewhere = client.post(f"{API}/accounts/{sub}/roles", json={"role": "one_stop.receiver",
                                                                 "unit_id": world.units["31240"]},
                            headers=token("an_phu_admin"))
    assert elsewhere.status_code == 422
    ok = client.post(f"{API}/accounts/{sub}/roles", json={"role": "one_stop.receiver"}, headers=token("an_phu_admin"))
    assert ok.status_code == 201
    assert [r["code"] for r in ok.json["roles"]] == ["one_stop.receiver"]
    assert len(refusals(app, "higher_role")) == 3


def test_unit_admin_may_delegate_within_their_commune(app, world, token):
    sub = world.people["an_phu_office"]["sub"]
    response = app.test_client().post(f"{API}/accounts/{sub}/roles",
                                      json={"role": "idp.unit_admin", "unit_id": world.units["31234.VP"]},
                                      headers=token("an_phu_admin"))
    assert response.status_code == 201


def test_automation_cannot_make_administrators_or_see_citizens_ids(app, world):
    from tests.admin.conftest import mint_token
    headers = {"Authorization": "Bearer " + mint_token(app, scope="admin:accounts")}
    client = app.test_client()
    citizen = client.get(f"{API}/accounts/{world.people['citizen']['sub']}", headers=headers)
    assert citizen.status_code == 200 and citizen.json["personal_data_masked"]
    assert citizen.json["citizen_id"] != world.people["citizen"]["login"]
    grant = client.post(f"{API}/accounts/{world.people['an_phu_officer']['sub']}/roles",
                        json={"role": "idp.unit_admin"}, headers=headers)
    assert grant.status_code == 403
    disable_admin = client.post(f"{API}/accounts/{world.people['province']['sub']}/disable", headers=headers)
    assert disable_admin.status_code == 403


# -- tokens and scopes -------------------------------------------------------------------------------------
def test_api_needs_a_token(app, world):
    response = app.test_client().get(f"{API}/accounts")
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.mimetype == "application/problem+json"
    bad = app.test_client().get(f"{API}/accounts", headers={"Authorization": "Bearer abc.def.ghi"})
    assert bad.status_code == 401


def test_a_token_without_the_needed_scope_is_refused_and_recorded(app, world, token):
    client = app.test_client()
    none = client.get(f"{API}/accounts", headers=token("province", scope="openid profile"))
    assert none.status_code == 403 and none.json["reason"] == "insufficient_scope"
    wrong = client.get(f"{API}/accounts", headers=token("province", scope="admin:clients"))
    assert wrong.status_code == 403 and wrong.json["reason"] == "insufficient_scope"
    assert "insufficient_scope" in wrong.headers["WWW-Authenticate"]
    audit = client.get(f"{API}/audit/events", headers=token("province", scope="admin:accounts"))
    assert audit.status_code == 403
    assert len(refusals(app, "insufficient_scope")) == 3


def test_an_administrators_token_needs_level_2(app, world, token):
    response = app.test_client().get(f"{API}/accounts", headers=token("province", acr=assurance.LOA1))
    assert response.status_code == 401 and response.json["reason"] == "insufficient_user_authentication"


def test_a_non_administrators_token_is_refused(app, world, token):
    response = app.test_client().get(f"{API}/accounts", headers=token("an_phu_officer"))
    assert response.status_code == 403 and response.json["reason"] == "forbidden"


def test_a_revoked_token_stops_working(app, world, token):
    headers = token("province")
    assert app.test_client().get(f"{API}/accounts", headers=headers).status_code == 200
    with app.app_context():
        from idp.oidc.models import Grant
        db.session.query(Grant).update({"revoked_at": app.config["CLOCK"]()})
        db.session.commit()
    assert app.test_client().get(f"{API}/accounts", headers=headers).status_code == 401


def test_auditor_reads_but_changes_nothing(app, world, browser, token):
    sub = world.people["tan_loc_officer"]["sub"]
    b = browser("auditor")
    page = b.get(f"/admin/accounts/{sub}").get_data(as_text=True)
    assert "/disable" not in page and "/edit" not in page
    assert post_action(b, f"/admin/accounts/{sub}", f"/admin/accounts/{sub}/disable").status_code == 403
    api = app.test_client().post(f"{API}/accounts/{sub}/disable", headers=token("auditor"))
    assert api.status_code == 403
    assert b.get("/admin/audit").status_code == 200
    assert app.test_client().get(f"{API}/audit/events", headers=token("auditor", "admin:audit")).status_code == 200


def test_auditor_sees_citizens_masked_and_the_view_is_recorded(app, world, browser):
    sub = world.people["citizen"]["sub"]
    page = browser("auditor").get(f"/admin/accounts/{sub}").get_data(as_text=True)
    assert world.people["citizen"]["login"] not in page
    with app.app_context():
        views = db.session.scalars(select(AuditEvent).where(AuditEvent.tag == "admin:account:view")).all()
        assert [(v.actor_id, v.subject_id, v.details["masked"]) for v in views] == [
            (world.people["auditor"]["id"], world.people["citizen"]["id"], True)]


def test_province_admin_sees_citizens_in_full_and_is_recorded(app, world, token):
    response = app.test_client().get(f"{API}/accounts/{world.people['citizen']['sub']}", headers=token("province"))
    assert response.json["citizen_id"] == world.people["citizen"]["login"]
    with app.app_context():
        assert db.session.scalars(select(AuditEvent).where(AuditEvent.tag == "admin:account:view")).one()


def test_client_manager_cannot_reach_accounts_or_allow_admin_scopes(app, world, browser, token):
    b = browser("client_manager")
    assert b.get("/admin/accounts").status_code == 403
    assert "/admin/accounts" not in b.get("/admin/").get_data(as_text=True)
    client_id, _ = make_client(app)
    headers = token("client_manager", "admin:clients")
    current = app.test_client().get(f"{API}/clients/{client_id}", headers=headers)
    response = app.test_client().patch(f"{API}/clients/{client_id}", json={"scope": "openid admin:accounts"},
                                       headers={**headers, "If-Match": current.headers["ETag"]})
    assert response.status_code == 403 and response.json["reason"] == "higher_role"
    created = app.test_client().post(f"{API}/clients", json={"client_name": "Tự động", "grant_types": [
        "client_credentials"], "redirect_uris": [], "scope": "admin:audit"}, headers=headers)
    assert created.status_code == 403
    # The province administrator may.
    allowed = app.test_client().patch(f"{API}/clients/{client_id}", json={"scope": "openid admin:accounts"},
                                      headers={**token("province", "admin:clients"),
                                               "If-Match": current.headers["ETag"]})
    assert allowed.status_code == 200, allowed.json


def test_unit_admin_cannot_reach_clients_keys_or_audit(app, world, browser):
    b = browser("an_phu_admin")
    for path in ("/admin/clients", "/admin/keys", "/admin/audit"):
        assert b.get(path).status_code == 403, path
    nav = b.get("/admin/").get_data(as_text=True)
    assert "/admin/clients" not in nav and "/admin/audit" not in nav
