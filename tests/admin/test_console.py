"""Console pages not covered elsewhere: units, applications, roles; and the administration CLI."""
from __future__ import annotations

import re

from sqlalchemy import select

from idp.accounts.models import Account, AccountRole, Role, Unit
from idp.admin.models import UnitChange
from idp.db import db
from idp.events import AuditEvent
from idp.oidc.models import Client
from tests.conftest import CSRF_RE, login
from tests.oidc.helpers import auth_params, authorize, callback, make_client

API = "/admin/api/v1"


def csrf(b, page):
    return CSRF_RE.search(b.get(page).get_data(as_text=True)).group(1)


def test_console_unit_create_edit_and_move(app, world, browser):
    b = browser("province")
    token = csrf(b, "/admin/units")
    bad = b.post("/admin/units", data={"csrf_token": token, "code": "31234", "code_list": "QĐ19/2025",
                                       "name": "Trùng", "kind": "commune", "parent_id": 0})
    assert bad.status_code == 422
    created = b.post("/admin/units", data={"csrf_token": token, "code": "31250", "code_list": "QĐ19/2025",
                                           "name": "Xã Mới", "kind": "commune", "parent_id": world.units["96"],
                                           "valid_from": "2025-07-01"})
    assert created.status_code == 302
    page = created.headers["Location"]
    renamed = b.post(page, data={"csrf_token": csrf(b, page), "code": "31250", "code_list": "QĐ19/2025",
                                 "name": "Xã Mới Đổi Tên", "kind": "commune"})
    assert renamed.status_code == 302
    moved = b.post(page + "/move", data={"csrf_token": csrf(b, page), "parent_id": world.units["31240"]})
    assert moved.status_code == 302
    cycle = b.post(f"/admin/units/{world.units['31234']}/move",
                   data={"csrf_token": csrf(b, page), "parent_id": world.units["31234.VP"]})
    assert cycle.status_code == 302  # refused: flashed on the unit page
    with app.app_context():
        unit = db.session.scalar(select(Unit).where(Unit.code == "31250"))
        assert (unit.name, unit.parent_id) == ("Xã Mới Đổi Tên", world.units["31240"])
        assert [c.action for c in db.session.scalars(select(UnitChange).where(UnitChange.unit_id == unit.id)
                                                     .order_by(UnitChange.id))] == ["create", "update", "move"]
        assert db.session.get(Unit, world.units["31234"]).parent_id == world.units["96"]
    history = b.get(page).get_data(as_text=True)
    assert "move" in history and "Xã Mới Đổi Tên" in history
    assert "Xã An Phú" in b.get("/admin/units?closed=1").get_data(as_text=True)


def test_console_units_import(app, world, browser):
    import io
    b = browser("province")
    data = {"csrf_token": csrf(b, "/admin/units"),
            "file": (io.BytesIO(b"code,code_list,name,kind\nX9,L,Xa,commune\n"), "u.csv")}
    response = b.post("/admin/units/import", data=data, content_type="multipart/form-data")
    assert response.status_code == 200 and "X9" not in response.get_data(as_text=True)[:0]
    with app.app_context():
        assert db.session.scalar(select(Unit).where(Unit.code == "X9"))


def test_console_application_edit_rotate_and_consents(app, world, browser):
    client_id, secret = make_client(app)
    citizen = app.test_client()
    login(citizen, world.people["citizen"]["login"])
    callback(authorize(citizen, auth_params(client_id)))
    b = browser("province")
    page = f"/admin/clients/{client_id}"
    html = b.get(page).get_data(as_text=True)
    assert world.people["citizen"]["sub"] in html and "Người citizen" in html
    etag = re.search(r'name="etag" type="hidden" value="([^"]+)"', html).group(1)
    form = {"csrf_token": csrf(b, page), "etag": etag, "client_name": "Cổng mới",
            "redirect_uris": "https://rp.example.vn/cb", "token_endpoint_auth_method": "client_secret_basic",
            "grant_authorization_code": "y", "grant_refresh_token": "y", "scope": "openid profile email",
            "first_party": "y", "default_acr_values": "urn:motid:loa:2", "access_token_lifetime": "300"}
    assert b.post(page, data=form).status_code == 302
    with app.app_context():
        client = db.session.scalar(select(Client).where(Client.client_id == client_id))
        assert client.first_party and client.meta["default_acr_values"] == ["urn:motid:loa:2"]
        assert client.meta["access_token_lifetime"] == 300 and client.meta["client_name"] == "Cổng mới"
    stale = b.post(page, data={**form, "client_name": "Lần hai"})
    assert stale.status_code == 422 and "changed this application" in stale.get_data(as_text=True) \
        or "người khác thay đổi" in stale.get_data(as_text=True)
    invalid = b.post(page, data={**form, "etag": re.search(r'name="etag" type="hidden" value="([^"]+)"', b.get(
        page).get_data(as_text=True)).group(1), "redirect_uris": "javascript:alert(1)"})
    assert invalid.status_code == 422
    rotated = b.post(f"{page}/secret", data={"csrf_token": csrf(b, page)})
    new_secret = re.search(r'<code class="secret">([^<]+)</code>', rotated.get_data(as_text=True)).group(1)
    assert new_secret != secret
    revoke = b.post(f"{page}/consents/{world.people['citizen']['sub']}/revoke", data={"csrf_token": csrf(b, page)})
    assert revoke.status_code == 302
    assert world.people["citizen"]["sub"] not in b.get(page).get_data(as_text=True)


def test_auditor_sees_applications_read_only(app, world, browser):
    client_id, _ = make_client(app)
    html = browser("auditor").get(f"/admin/clients/{client_id}").get_data(as_text=True)
    assert "<fieldset disabled>" in html and "Issue a new secret" not in html


def test_roles_and_keys_through_the_api(app, world, token):
    client, headers = app.test_client(), token("province", "admin:accounts admin:clients")
    created = client.post(f"{API}/roles", json={"code": "fleet.inspector", "name": "Kiểm tra tàu cá"}, headers=headers)
    assert created.status_code == 201
    read = client.get(f"{API}/roles/fleet.inspector", headers=headers)
    patched = client.patch(f"{API}/roles/fleet.inspector", json={"description": "Đội kiểm tra"},
                           headers={**headers, "If-Match": read.headers["ETag"]})
    assert patched.status_code == 200 and patched.json["description"] == "Đội kiểm tra"
    admin_role = client.patch(f"{API}/roles/idp.admin", json={"name": "X"}, headers={**headers, "If-Match": "*"})
    assert admin_role.status_code == 403
    assert client.get(f"{API}/roles/nope", headers=headers).status_code == 404
    listed = client.get(f"{API}/roles", headers=headers).json["items"]
    assert {"fleet.inspector", "idp.admin"} <= {r["code"] for r in listed}
    keys = client.get(f"{API}/keys", headers=headers).json["items"]
    assert {k["alg"] for k in keys} == {"ES256", "RS256", "EdDSA"} and {k["state"] for k in keys} == {"signing"}


def test_role_assurance_requirement_in_the_console_and_the_api(app, world, browser, token):
    def min_acr(code):
        with app.app_context():
            return db.session.scalar(select(Role.min_acr).where(Role.code == code))

    b = browser("province")
    created = b.post("/admin/roles", data={"csrf_token": csrf(b, "/admin/roles"), "code": "fleet.inspector",
                                           "name": "Kiểm tra tàu cá", "client_id": "", "min_acr": "urn:motid:loa:3"})
    assert created.status_code == 302 and min_acr("fleet.inspector") == "urn:motid:loa:3"
    listing = b.get("/admin/roles").get_data(as_text=True)
    assert 'href="/admin/roles/fleet.inspector"' in listing and 'href="/admin/roles/idp.admin"' not in listing
    page = "/admin/roles/fleet.inspector"
    assert re.search(r'<option selected value="urn:motid:loa:3">', b.get(page).get_data(as_text=True))
    form = {"csrf_token": csrf(b, page), "name": "Kiểm tra tàu cá", "description": ""}
    assert b.post(page, data={**form, "min_acr": "urn:motid:loa:1"}).status_code == 422  # not a choice
    assert min_acr("fleet.inspector") == "urn:motid:loa:3"
    assert b.post(page, data={**form, "min_acr": ""}).status_code == 302 and min_acr("fleet.inspector") is None
    with app.app_context():
        details = db.session.scalars(select(AuditEvent.details).where(AuditEvent.tag == "admin:role:update")).one()
    assert details == {"role": "fleet.inspector", "min_acr": None, "previous_min_acr": "urn:motid:loa:3"}
    assert browser("auditor").get(page).status_code == 403
    assert b.get("/admin/roles/idp.admin").status_code == 403

    client, headers = app.test_client(), token("province", "admin:accounts")
    read = client.get(f"{API}/roles/fleet.inspector", headers=headers)
    assert read.json["min_acr"] is None
    patched = client.patch(f"{API}/roles/fleet.inspector", json={"min_acr": "urn:motid:loa:2"},
                           headers={**headers, "If-Match": read.headers["ETag"]})
    assert patched.status_code == 200 and patched.json["min_acr"] == "urn:motid:loa:2"
    bad = client.patch(f"{API}/roles/fleet.inspector", json={"min_acr": "urn:motid:loa:1"},
                       headers={**headers, "If-Match": patched.headers["ETag"]})
    assert bad.status_code == 422 and min_acr("fleet.inspector") == "urn:motid:loa:2"
    new = client.post(f"{API}/roles", json={"code": "docs.signer", "name": "Ký số", "min_acr": "urn:motid:loa:3"},
                      headers=headers)
    assert new.status_code == 201 and new.json["min_acr"] == "urn:motid:loa:3"


def test_revoking_an_administrator_role(app, world, token):
    sub = world.people["auditor"]["sub"]
    client = app.test_client()
    refused = client.delete(f"{API}/accounts/{sub}/roles/idp.auditor", headers=token("an_phu_admin"))
    assert refused.status_code == 404  # not in their commune
    missing = client.delete(f"{API}/accounts/{sub}/roles/one_stop.receiver", headers=token("province"))
    assert missing.status_code == 404
    ok = client.delete(f"{API}/accounts/{sub}/roles/idp.auditor", headers=token("province"))
    assert ok.status_code == 200 and ok.json["roles"] == []


# -- the command line ------------------------------------------------------------------------------------------
def test_cli_admin_grant_and_list(app, world, runner):
    officer = world.people["tan_loc_officer"]
    result = runner.invoke(args=["admin", "grant", officer["login"], "idp.unit_admin", "--unit", "31240"])
    assert result.exit_code == 0, result.output
    listed = runner.invoke(args=["admin", "list"]).output
    assert f"{officer['sub']}\tidp.unit_admin\t31240" in listed
    assert runner.invoke(args=["admin", "grant", officer["login"], "idp.unit_admin"]).exit_code == 1
    assert runner.invoke(args=["admin", "grant", world.people["citizen"]["login"], "idp.auditor"]).exit_code == 1
    assert runner.invoke(args=["admin", "grant", "nobody@example.vn", "idp.auditor"]).exit_code == 1
    with app.app_context():
        grants = db.session.scalars(select(AccountRole).where(AccountRole.account_id == officer["id"])).all()
        assert [g.role.code for g in grants] == ["idp.unit_admin"]


def test_cli_units_list_and_audit_export(app, world, runner):
    assert "Xã An Phú" in runner.invoke(args=["units", "list"]).output
    exported = runner.invoke(args=["audit", "export", "--tag", "account:account:create"])
    assert exported.exit_code == 0 and exported.output.startswith("id,created_at,tag")
    assert exported.output.count("account:account:create") == 9
    with app.app_context():
        assert db.session.scalar(select(Account).limit(1))


def test_clients_cli_refuses_a_file_that_is_not_json(app, runner, tmp_path):
    path = tmp_path / "meta.json"
    path.write_text("{not json")
    result = runner.invoke(args=["clients", "create", "--json", str(path)])
    assert result.exit_code == 1 and "invalid_client_metadata: the file is not JSON" in result.output
    with app.app_context():
        assert db.session.query(Client).count() == 0


def test_clients_cli_options_and_refusals(app, runner, tmp_path):
    jwks = tmp_path / "jwks.json"
    jwks.write_text('{"keys": [{"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", '
                    '"y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}')
    created = runner.invoke(args=["clients", "create", "--redirect-uri", "https://rp.example.vn/cb",
                                  "--auth-method", "private_key_jwt", "--jwks-file", str(jwks),
                                  "--post-logout-redirect-uri", "https://rp.example.vn/bye"])
    assert created.exit_code == 0, created.output
    client_id = created.output.split("client_id: ")[1].split()[0]
    no_secret = runner.invoke(args=["clients", "rotate-secret", client_id])
    assert no_secret.exit_code == 1 and "authenticates without a secret" in no_secret.output
    too_long = tmp_path / "lifetime.json"
    too_long.write_text('{"access_token_lifetime": 999999999}')
    refused = runner.invoke(args=["clients", "update", client_id, "--json", str(too_long)])
    assert refused.exit_code == 1 and "access_token_lifetime: A lifetime must be" in refused.output
    assert runner.invoke(args=["clients", "delete", "no-such-client"]).output.strip() == \
        "Error: no client 'no-such-client'"
    with app.app_context():
        stored = db.session.scalar(select(Client).where(Client.client_id == client_id))
        assert stored.meta["post_logout_redirect_uris"] == ["https://rp.example.vn/bye"]
        assert "access_token_lifetime" not in stored.meta
        refusals = db.session.scalars(select(AuditEvent).where(AuditEvent.tag == "admin:request:refuse")).all()
        assert [(r.details["action"], r.details["reason"]) for r in refusals] == [
            ("client.rotate_secret", "no_secret"), ("client.update", "invalid_input")]


def test_request_uris_in_the_console_the_api_and_the_cli(app, world, browser, token, runner):
    """An application's registered request_uris (OIDC Registration §2), the only ones /authorize fetches."""
    client_id, _ = make_client(app)
    b = browser("province")
    page = f"/admin/clients/{client_id}"
    html = b.get(page).get_data(as_text=True)
    etag = re.search(r'name="etag" type="hidden" value="([^"]+)"', html).group(1)
    form = {"csrf_token": csrf(b, page), "etag": etag, "client_name": "Cổng",
            "redirect_uris": "https://rp.example.vn/cb", "token_endpoint_auth_method": "client_secret_basic",
            "grant_authorization_code": "y", "scope": "openid profile", "default_acr_values": "",
            "request_uris": "https://rp.example.vn/a.jwt\nhttps://rp.example.vn/b.jwt"}
    saved = b.post(page, data=form)
    assert saved.status_code == 302, re.findall(r'class="error[^"]*"[^>]*>([^<]+)', saved.get_data(as_text=True))
    assert "https://rp.example.vn/b.jwt" in b.get(page).get_data(as_text=True)
    api, headers = app.test_client(), token("province", "admin:clients")
    read = api.get(f"{API}/clients/{client_id}", headers=headers)
    assert read.json["metadata"]["request_uris"] == ["https://rp.example.vn/a.jwt", "https://rp.example.vn/b.jwt"]
    refused = api.patch(f"{API}/clients/{client_id}", json={"request_uris": ["http://rp.example.vn/plain.jwt"]},
                        headers={**headers, "If-Match": read.headers["ETag"]})
    assert refused.status_code == 422
    updated = runner.invoke(args=["clients", "update", client_id, "--request-uri", "https://rp.example.vn/c.jwt"])
    assert updated.exit_code == 0 and "https://rp.example.vn/c.jwt" in updated.output
