"""Roles through the console and the API: creation, changes, the assurance a role needs, revocation;
signing keys listed by the API."""
from __future__ import annotations

import re

from sqlalchemy import select

from idp.accounts.models import Role
from idp.db import db
from idp.events import AuditEvent
from tests.conftest import CSRF_RE

API = "/admin/api/v1"


def csrf(b, page):
    return CSRF_RE.search(b.get(page).get_data(as_text=True)).group(1)


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
