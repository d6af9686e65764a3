"""Units (tree, move, merge with history), roles per application, applications and signing keys."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select

from idp.accounts.models import Account, AccountRole, Role, Unit
from idp.admin.models import UnitChange
from idp.db import db
from idp.keys import SigningKey
from idp.oidc.models import Consent, Grant
from tests.conftest import CSRF_RE, PASSWORD, login
from tests.oidc.helpers import REDIRECT, auth_params, authorize, callback, decode, exchange, make_client, pkce_pair

API = "/admin/api/v1"


def csrf(b, page):
    return CSRF_RE.search(b.get(page).get_data(as_text=True)).group(1)


# -- units --------------------------------------------------------------------------------------------------
def test_unit_tree_in_the_console(app, world, browser):
    page = browser("an_phu_admin").get("/admin/units").get_data(as_text=True)
    assert page.index("Tỉnh Cà Mau") < page.index("Xã An Phú") < page.index("Văn phòng xã An Phú")
    assert "New unit" not in page and "Đơn vị mới" not in page  # a unit administrator does not edit the tree


def test_merge_keeps_history_and_moves_people_and_roles(app, world, token):
    client, headers = app.test_client(), token("province")
    new = client.post(f"{API}/units", json={"code": "31299", "code_list": "QĐ19/2025", "name": "Xã Phú Lộc",
                                             "kind": "commune", "parent_id": world.units["96"],
                                             "valid_from": "2026-12-01"}, headers=headers)
    assert new.status_code == 201, new.json
    target = new.json["id"]
    with app.app_context():
        role = db.session.scalar(select(Role).where(Role.code == "one_stop.receiver"))
        db.session.add(AccountRole(account_id=world.people["an_phu_officer"]["id"], role_id=role.id,
                                   unit_id=world.units["31234"]))
        db.session.commit()
    merged = client.post(f"{API}/units/merge", json={"sources": [world.units["31234"], world.units["31240"]],
                                                      "target_id": target, "effective_on": "2026-12-01"},
                         headers=headers)
    assert merged.status_code == 422 and merged.json["errors"]["effective_on"]["code"] == "unit.future_merge"
    merged = client.post(f"{API}/units/merge", json={"sources": [world.units["31234"], world.units["31240"]],
                                                      "target_id": target, "effective_on": "2026-11-27"},
                         headers=headers)
    assert merged.status_code == 200, merged.json
    with app.app_context():
        old = db.session.get(Unit, world.units["31234"])
        assert (old.valid_to, old.successor_id) == (date(2026, 11, 27), target)
        officer = db.session.get(Account, world.people["an_phu_officer"]["id"])
        assert officer.unit_id == target and officer.roles[0].unit_id == target
        assert db.session.get(Unit, world.units["31234.VP"]).parent_id == target
        changes = db.session.scalars(select(UnitChange).where(UnitChange.unit_id == world.units["31234"])).all()
        assert [c.action for c in changes] == ["merge"] and changes[0].before["parent_id"] == world.units["96"]
    listed = client.get(f"{API}/units", headers=headers).json["items"]
    assert world.units["31234"] not in [u["id"] for u in listed]
    history = client.get(f"{API}/units?include_closed=true", headers=headers).json["items"]
    assert world.units["31234"] in [u["id"] for u in history]
    # The commune administrator's grant moved to the new commune with the people.
    with app.app_context():
        grant = db.session.scalar(select(AccountRole).where(AccountRole.account_id == world.people["an_phu_admin"]["id"]))
        assert grant.unit_id == target


def test_move_refuses_a_cycle_and_records_history(app, world, token):
    client, headers = app.test_client(), token("province")
    cycle = client.post(f"{API}/units/{world.units['31234']}/move", json={"parent_id": world.units["31234.VP"]},
                        headers=headers)
    assert cycle.status_code == 422 and cycle.json["errors"]["parent_id"]["code"] == "unit.cycle"
    moved = client.post(f"{API}/units/{world.units['31234.VP']}/move", json={"parent_id": world.units["96"],
                                                                           "effective_on": "2026-12-01"},
                        headers=headers)
    assert moved.status_code == 200 and moved.json["parent_id"] == world.units["96"]
    with app.app_context():
        change = db.session.scalars(select(UnitChange).where(UnitChange.action == "move")).one()
        assert change.before == {"parent_id": world.units["31234"]}


def test_unit_rename_needs_the_current_etag(app, world, token):
    client, headers = app.test_client(), token("province")
    unit = client.get(f"{API}/units/{world.units['31240']}", headers=headers)
    ok = client.patch(f"{API}/units/{world.units['31240']}", json={"name": "Xã Tân Lộc Bắc"},
                      headers={**headers, "If-Match": unit.headers["ETag"]})
    assert ok.status_code == 200 and ok.json["name"] == "Xã Tân Lộc Bắc"
    stale = client.patch(f"{API}/units/{world.units['31240']}", json={"name": "X"},
                         headers={**headers, "If-Match": unit.headers["ETag"]})
    assert stale.status_code == 412


def test_console_unit_merge(app, world, browser):
    b = browser("province")
    page = f"/admin/units/{world.units['31240']}"
    response = b.post(f"{page}/merge", data={"csrf_token": csrf(b, page), "target_id": world.units["31234"]})
    assert response.status_code == 302
    after = b.get(page).get_data(as_text=True)
    assert "Xã An Phú" in after and "merge" in after


# -- roles -----------------------------------------------------------------------------------------------------
def test_roles_per_application_reach_only_that_application(app, world, token, clock):
    dossier, dossier_secret = make_client(app, scope="openid profile officer", first_party=True)
    other, other_secret = make_client(app, scope="openid profile officer", first_party=True)
    client, headers = app.test_client(), token("province")
    assert client.post(f"{API}/roles", json={"code": "dossier.approver", "name": "Phê duyệt hồ sơ",
                                             "client_id": dossier}, headers=headers).status_code == 201
    sub = world.people["an_phu_officer"]["sub"]
    for role in ("dossier.approver", "one_stop.receiver"):
        assert client.post(f"{API}/accounts/{sub}/roles", json={"role": role}, headers=headers).status_code == 201
    seen = {}
    for client_id, secret in ((dossier, dossier_secret), (other, other_secret)):
        from tests.admin.conftest import admin_login
        browser = admin_login(app.test_client(), clock, world.people["an_phu_officer"])
        verifier, challenge = pkce_pair()
        params = auth_params(client_id, scope="openid officer", code_challenge=challenge,
                             code_challenge_method="S256")
        code = callback(authorize(browser, params))["code"]
        body = exchange(app.test_client(), client_id, secret, code, code_verifier=verifier).json
        seen[client_id] = app.test_client().get("/userinfo", headers={
            "Authorization": "Bearer " + body["access_token"]}).json["roles"]
    assert seen == {dossier: ["dossier.approver", "one_stop.receiver"], other: ["one_stop.receiver"]}


def test_only_the_province_defines_global_roles(app, world, token):
    client = app.test_client()
    refused = client.post(f"{API}/roles", json={"code": "x.global", "name": "X"},
                          headers=token("client_manager", "admin:clients"))
    assert refused.status_code == 403
    reserved = client.post(f"{API}/roles", json={"code": "idp.superuser", "name": "X"}, headers=token("province"))
    assert reserved.status_code == 422


def test_console_role_creation(app, world, browser):
    b = browser("province")
    response = b.post("/admin/roles", data={"csrf_token": csrf(b, "/admin/roles"), "code": "tourism.editor",
                                            "name": "Biên tập du lịch", "description": "", "client_id": ""})
    assert response.status_code == 302
    assert "tourism.editor" in b.get("/admin/roles").get_data(as_text=True)


# -- applications ------------------------------------------------------------------------------------------------
def test_register_application_secret_once_then_rotate(app, world, token):
    """A client manager's everyday work on an ordinary application (first-party ones are the province
    administrator's: tests/security/test_admin_escalation.py)."""
    client, headers = app.test_client(), token("client_manager", "admin:clients")
    created = client.post(f"{API}/clients", json={
        "client_name": "Hệ thống một cửa", "redirect_uris": ["https://motcua.camau.gov.vn/cb"],
        "grant_types": ["authorization_code", "refresh_token"], "scope": "openid profile officer",
        "first_party": False, "require_pkce": True, "default_acr_values": ["urn:motid:loa:2"],
        "access_token_lifetime": 300, "backchannel_logout_uri": "https://motcua.camau.gov.vn/logout"},
        headers=headers)
    assert created.status_code == 201, created.json
    client_id, secret = created.json["client_id"], created.json["client_secret"]
    read = client.get(f"{API}/clients/{client_id}", headers=headers)
    assert "client_secret" not in read.json and not read.json["first_party"] and read.json["require_pkce"]
    assert read.json["metadata"]["default_acr_values"] == ["urn:motid:loa:2"]
    rotated = client.post(f"{API}/clients/{client_id}/secret", headers=headers).json["client_secret"]
    assert rotated != secret
    with app.app_context():
        assert app.extensions["idp.clients"].secret_of(app.extensions["idp.clients"].get(client_id)) == rotated
    read = client.get(f"{API}/clients/{client_id}", headers=headers)
    too_long = client.patch(f"{API}/clients/{client_id}", json={"access_token_lifetime": 10**6},
                            headers={**headers, "If-Match": read.headers["ETag"]})
    assert too_long.status_code == 422 and too_long.json["errors"]["access_token_lifetime"]["code"] == "client.lifetime"


def test_required_acr_and_lifetime_are_honoured(app, world, clock):
    client_id, secret = make_client(app, first_party=True, default_acr_values=["urn:motid:loa:2"],
                                    access_token_lifetime=120)
    browser = app.test_client()
    login(browser, world.people["citizen"]["login"], PASSWORD)
    response = browser.get("/authorize", query_string=auth_params(client_id))
    assert response.status_code == 302
    assert "unmet_authentication_requirements" in response.headers["Location"]  # a citizen without a second factor
    from tests.admin.conftest import admin_login
    officer = admin_login(app.test_client(), clock, world.people["an_phu_officer"])
    code = callback(authorize(officer, auth_params(client_id)))["code"]
    body = exchange(app.test_client(), client_id, secret, code).json
    assert body["expires_in"] == 120
    claims = decode(app, body["access_token"]).claims
    assert claims["exp"] - claims["iat"] == 120 and claims["acr"] == "urn:motid:loa:2"


def test_a_clients_own_update_keeps_the_administrators_settings(app, world, runner):
    token_ = runner.invoke(args=["clients", "registration-token"]).output.strip()
    registered = app.test_client().post("/connect/register", json={"redirect_uris": [REDIRECT]},
                                        headers={"Authorization": f"Bearer {token_}"}).json
    with app.app_context():
        service = app.extensions["idp.clients"]
        client = service.get(registered["client_id"])
        service.update(client, {**client.meta, "default_acr_values": ["urn:motid:loa:2"]})
    put = app.test_client().put(f"/connect/register/{registered['client_id']}",
                                json={"client_id": registered["client_id"], "redirect_uris": [REDIRECT]},
                                headers={"Authorization": f"Bearer {registered['registration_access_token']}"})
    assert put.status_code == 200
    with app.app_context():
        assert service.get(registered["client_id"]).meta["default_acr_values"] == ["urn:motid:loa:2"]


def test_consents_listed_and_revoked_with_their_tokens(app, world, token, clock):
    client_id, secret = make_client(app)
    browser = app.test_client()
    login(browser, world.people["citizen"]["login"])
    code = callback(authorize(browser, auth_params(client_id)))["code"]
    access = exchange(app.test_client(), client_id, secret, code).json["access_token"]
    client, headers = app.test_client(), token("province", "admin:clients")
    listed = client.get(f"{API}/clients/{client_id}/consents", headers=headers).json["items"]
    assert [c["sub"] for c in listed] == [world.people["citizen"]["sub"]]
    assert client.delete(f"{API}/clients/{client_id}/consents/{listed[0]['sub']}", headers=headers).status_code == 200
    assert app.test_client().get("/userinfo", headers={"Authorization": f"Bearer {access}"}).status_code == 401
    with app.app_context():
        assert db.session.scalar(select(Consent)) is None
        assert db.session.scalar(select(Grant).where(Grant.client_id == client_id)).revoke_reason == \
            "consent_revoked_by_admin"
    assert client.delete(f"{API}/clients/{client_id}/consents/{listed[0]['sub']}", headers=headers).status_code == 404


def test_console_application_pages(app, world, browser):
    b = browser("client_manager")
    response = b.post("/admin/clients/new", data={
        "csrf_token": csrf(b, "/admin/clients/new"), "client_name": "Cổng du lịch",
        "redirect_uris": "https://dulich.camau.gov.vn/cb", "token_endpoint_auth_method": "client_secret_basic",
        "grant_authorization_code": "y", "scope": "openid profile", "default_acr_values": ""})
    assert response.status_code == 200
    import re
    page = response.get_data(as_text=True)
    secret = re.search(r'<code class="secret">([^<]+)</code>', page).group(1)
    client_id = re.search(r"<dt>client_id</dt><dd><code>([^<]+)</code>", page).group(1)
    assert secret not in b.get(f"/admin/clients/{client_id}").get_data(as_text=True)  # shown once only


# -- keys ----------------------------------------------------------------------------------------------------------
def test_keys_rotate_and_retire(app, world, browser, clock):
    b = browser("province")
    page = b.get("/admin/keys").get_data(as_text=True)
    assert "signing" in page
    assert b.post("/admin/keys", data={"csrf_token": csrf(b, "/admin/keys"), "alg": "ES256", "delay": "0"}
                  ).status_code == 302
    clock.advance(seconds=1)
    with app.app_context():
        rows = db.session.scalars(select(SigningKey).where(SigningKey.alg == "ES256")
                                  .order_by(SigningKey.created_at)).all()
        old, new = rows[0].kid, rows[-1].kid
    # The only key signing RS256 cannot be retired.
    with app.app_context():
        rs = db.session.scalar(select(SigningKey.kid).where(SigningKey.alg == "RS256"))
    refused = b.post(f"/admin/keys/{rs}/retire", data={"csrf_token": csrf(b, "/admin/keys")})
    assert refused.status_code == 302
    with app.app_context():
        assert db.session.get(SigningKey, rs).retired_at is None
        assert db.session.get(SigningKey, old).retired_at is not None  # replaced by the rotation
    assert b.post(f"/admin/keys/{new}/retire", data={"csrf_token": csrf(b, "/admin/keys")}).status_code == 302
    with app.app_context():
        assert db.session.get(SigningKey, new).retired_at is None  # the only ES256 key signing: refused


def test_client_manager_cannot_rotate_keys(app, world, browser):
    b = browser("client_manager")
    assert "Rotate" not in b.get("/admin/keys").get_data(as_text=True)
    response = b.post("/admin/keys", data={"csrf_token": csrf(b, "/admin/clients/new"), "alg": "ES256"})
    assert response.status_code == 403
