"""Upstream identity providers in the admin API and the console: add, list, read, change, remove through
the one registry; the client secret is write-only and encrypted at rest; bad settings are refused with the
field named and nothing changed; only the province administrator changes them; every change is audited."""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from idp.accounts.upstream.models import UpstreamProvider
from idp.accounts.upstream.registry import UpstreamRegistry
from idp.db import db
from idp.events import AuditEvent
from tests.admin.conftest import mint_token
from tests.conftest import CSRF_RE

API = "/admin/api/v1"
SECRET = "vneid-bi-mat-0123456789"
VNEID = {"name": "vneid", "profile": "vneid", "issuer": "https://sso.dancuquocgia.gov.vn/realms/vneid",
         "client_id": "motid-camau", "client_secret": SECRET, "acr_values": "2"}


def events(app, prefix="admin:upstream:"):
    with app.app_context():
        return [(e.tag, e.actor_id, e.details) for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))
                if e.tag.startswith(prefix)]


def refusals(app):
    return [details for _, _, details in events(app, "admin:request:refuse")]


def stored(app, name="vneid"):
    """(the secret column as stored, the secret decrypted) of a provider; None when it is not registered."""
    with app.app_context():
        row = db.session.scalar(select(UpstreamProvider).where(UpstreamProvider.name == name))
        return None if row is None else (row.client_secret, UpstreamRegistry.from_app().client_secret(row))


def english(b):
    b.set_cookie("motid_lang", "en")
    return b


def csrf(b, page):
    return CSRF_RE.search(b.get(page).get_data(as_text=True)).group(1)


# -- the API ----------------------------------------------------------------------------------------------
def test_api_adds_lists_reads_changes_and_removes(app, world, token):
    client, headers = app.test_client(), token("province", "admin:trust")
    assert client.get(f"{API}/upstreams", headers=headers).json == {"items": []}
    added = client.post(f"{API}/upstreams", json=VNEID, headers=headers)
    assert added.status_code == 201 and added.headers["ETag"] and added.headers["Cache-Control"] == "no-store"
    assert added.json["has_secret"] is True and "client_secret" not in added.json
    assert SECRET not in added.get_data(as_text=True)
    assert added.json["redirect_uri"] == "http://localhost/login/upstream/vneid/callback"
    assert (added.json["scopes"], added.json["token_auth_method"], added.json["enabled"]) == \
        ("openid profile", "client_secret_basic", True)  # the profile's defaults
    column, secret = stored(app)
    assert secret == SECRET and SECRET not in str(column)  # encrypted at rest
    zalo = client.post(f"{API}/upstreams", json={"name": "zalo", "profile": "zalo", "client_id": "1234567890",
                                                  "client_secret": "zalo-key"}, headers=headers)
    assert zalo.status_code == 201 and zalo.json["endpoints"]["token_endpoint"].startswith("https://oauth.zaloapp.com")
    listed = client.get(f"{API}/upstreams", headers=headers)
    assert [p["name"] for p in listed.json["items"]] == ["vneid", "zalo"]  # button order: VNeID first
    assert SECRET not in listed.get_data(as_text=True) and "zalo-key" not in listed.get_data(as_text=True)

    read = client.get(f"{API}/upstreams/vneid", headers=headers)
    assert read.status_code == 200 and read.json == added.json and read.headers["ETag"] == added.headers["ETag"]
    change = {"acr_values": "1 2", "display_name": "Đăng nhập bằng VNeID", "client_secret": "bi-mat-moi-2026"}
    assert client.patch(f"{API}/upstreams/vneid", json=change, headers=headers).status_code == 428
    stale = client.patch(f"{API}/upstreams/vneid", json=change, headers={**headers, "If-Match": '"stale"'})
    assert stale.status_code == 412 and stale.json["reason"] == "stale_etag"
    changed = client.patch(f"{API}/upstreams/vneid", json=change,
                           headers={**headers, "If-Match": read.headers["ETag"]})
    assert changed.status_code == 200 and changed.json["acr_values"] == "1 2" and changed.json["has_secret"]
    assert "bi-mat-moi-2026" not in changed.get_data(as_text=True) and stored(app)[1] == "bi-mat-moi-2026"
    cleared = client.patch(f"{API}/upstreams/vneid", json={"acr_values": None, "enabled": False},
                           headers={**headers, "If-Match": changed.headers["ETag"]})
    assert cleared.status_code == 200 and cleared.json["acr_values"] is None and cleared.json["enabled"] is False
    assert stored(app)[1] == "bi-mat-moi-2026"  # no secret in a change: the stored one stays

    removed = client.delete(f"{API}/upstreams/vneid", headers=headers)
    assert removed.status_code == 200 and removed.json == {"ok": True} and stored(app) is None
    assert [p["name"] for p in client.get(f"{API}/upstreams", headers=headers).json["items"]] == ["zalo"]

    recorded = events(app)
    assert [tag for tag, _, _ in recorded] == ["admin:upstream:add", "admin:upstream:add", "admin:upstream:update",
                                               "admin:upstream:update", "admin:upstream:remove"]
    assert {actor for _, actor, _ in recorded} == {world.people["province"]["id"]}
    assert recorded[2][2]["client_secret"] == "set" and recorded[2][2]["acr_values"] == "1 2"
    assert recorded[2][2]["via_client"] == "admin-tool"  # the application the administrator's token came through
    assert recorded[4][2]["name"] == "vneid"
    text = json.dumps([details for _, _, details in recorded])
    assert SECRET not in text and "bi-mat-moi-2026" not in text and "zalo-key" not in text


def problem(response, status, reason):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json" and response.headers["Cache-Control"] == "no-store"
    assert response.json["status"] == status and response.json["reason"] == reason
    return response.json


@pytest.mark.parametrize("change, field, code", [
    ({"profile": "facebook"}, "profile", "upstream.profile"),
    ({"issuer": "http://sso.dancuquocgia.gov.vn/realms/vneid"}, "issuer", "upstream.url"),
    ({"issuer": "https://user:pw@sso.example.vn"}, "issuer", "upstream.url"),
    ({"client_secret": None, "token_auth_method": "client_secret_post"}, "client_secret", "upstream.client_secret"),
    ({"scopes": "profile email"}, "scopes", "upstream.scopes"),
    ({"name": "VNeID!"}, "name", "upstream.name"),
    ({"position": -1}, "position", "upstream.position"),
    ({"endpoints": {"token_endpoint": "ftp://x.example.vn/token"}}, "endpoints", "upstream.url"),
    ({"endpoints": {"evil_endpoint": "https://x.example.vn/"}}, "endpoints", "upstream.endpoints"),
], ids=["unknown-profile", "http-issuer", "issuer-credentials", "no-secret", "no-openid", "bad-name",
        "bad-position", "bad-endpoint-url", "unknown-endpoint"])
def test_api_refuses_bad_settings_and_changes_nothing(app, world, token, change, field, code):
    client, headers = app.test_client(), token("province", "admin:trust")
    body = {k: v for k, v in {**VNEID, **change}.items() if v is not None}
    refused = problem(client.post(f"{API}/upstreams", json=body, headers=headers), 422, "invalid_input")
    assert refused["errors"] == {field: {"code": code, "message": refused["errors"][field]["message"]}}
    assert refused["errors"][field]["message"] and refused["errors"][field]["message"] != code
    assert stored(app, body["name"]) is None and events(app) == []
    assert refusals(app)[-1]["action"] == "upstream.add" and refusals(app)[-1]["reason"] == "invalid_input"


def test_api_duplicate_unknown_and_malformed(app, world, token):
    client, headers = app.test_client(), token("province", "admin:trust")
    assert client.post(f"{API}/upstreams", json=VNEID, headers=headers).status_code == 201
    duplicate = problem(client.post(f"{API}/upstreams", json={**VNEID, "client_secret": "other"}, headers=headers),
                        409, "conflict")
    assert duplicate["errors"]["name"]["code"] == "upstream.name_taken" and stored(app)[1] == SECRET
    longest = "v" * 40
    assert client.post(f"{API}/upstreams", json={**VNEID, "name": longest}, headers=headers).status_code == 201
    for method in ("get", "delete"):
        problem(getattr(client, method)(f"{API}/upstreams/dvcqg", headers=headers), 404, "not_found")
        problem(getattr(client, method)(f"{API}/upstreams/{longest}x", headers=headers), 404, "not_found")
    assert stored(app, longest) is not None  # a longer name is not cut down to a registered one
    problem(client.patch(f"{API}/upstreams/dvcqg", json={"enabled": False}, headers={**headers, "If-Match": "*"}),
            404, "not_found")
    etag = client.get(f"{API}/upstreams/vneid", headers=headers).headers["ETag"]
    bad_patch = client.patch(f"{API}/upstreams/vneid", json={"issuer": "http://sso.example.vn"},
                             headers={**headers, "If-Match": etag})
    assert problem(bad_patch, 422, "invalid_input")["errors"]["issuer"]["code"] == "upstream.url"
    unknown_field = problem(client.post(f"{API}/upstreams", json={**VNEID, "name": "x", "secret": "s"},
                                        headers=headers), 422, "invalid_input")
    assert unknown_field["errors"] == {"body": {"code": "field.invalid", "message": "This value is not valid."}} \
        or "body" in unknown_field["errors"]
    problem(client.post(f"{API}/upstreams", data="{", headers={**headers, "Content-Type": "application/json"}),
            400, "invalid_json")
    problem(client.patch(f"{API}/upstreams/vneid", json={}, headers={**headers, "If-Match": etag}), 422,
            "invalid_input")
    assert client.get(f"{API}/upstreams/vneid", headers=headers).headers["ETag"] == etag  # nothing changed
    assert [tag for tag, _, _ in events(app)] == ["admin:upstream:add"] * 2
    assert {r["reason"] for r in refusals(app)} >= {"conflict", "not_found", "invalid_input", "invalid_json"}


def test_api_only_the_province_administrator_changes_upstreams(app, world, token):
    client = app.test_client()
    assert client.post(f"{API}/upstreams", json=VNEID, headers=token("province", "admin:trust")).status_code == 201
    before = len(refusals(app))
    lesser = token("client_manager", "admin:trust admin:clients")
    assert problem(client.get(f"{API}/upstreams", headers=lesser), 403, "forbidden")
    assert problem(client.post(f"{API}/upstreams", json={**VNEID, "name": "vneid2"}, headers=lesser), 403,
                   "forbidden")
    assert problem(client.delete(f"{API}/upstreams/vneid", headers=lesser), 403, "forbidden")
    assert problem(client.get(f"{API}/upstreams", headers=token("an_phu_admin", "admin:trust")), 403, "forbidden")
    auditor = token("auditor", "admin:trust")
    assert client.get(f"{API}/upstreams/vneid", headers=auditor).status_code == 200
    problem(client.patch(f"{API}/upstreams/vneid", json={"enabled": False}, headers={**auditor, "If-Match": "*"}),
            403, "forbidden")
    without_scope = token("province", "admin:accounts admin:clients")
    problem(client.post(f"{API}/upstreams", json={**VNEID, "name": "vneid2"}, headers=without_scope), 403,
            "insufficient_scope")
    # An application's own token may read the list, never change whom MotID believes.
    automation = {"Authorization": "Bearer " + mint_token(app, scope="admin:trust")}
    assert client.get(f"{API}/upstreams", headers=automation).status_code == 200
    problem(client.post(f"{API}/upstreams", json={**VNEID, "name": "vneid2"}, headers=automation), 403, "forbidden")
    problem(client.delete(f"{API}/upstreams/vneid", headers=automation), 403, "forbidden")
    assert stored(app)[1] == SECRET and stored(app, "vneid2") is None
    assert [tag for tag, _, _ in events(app)] == ["admin:upstream:add"]
    assert len(refusals(app)) - before == 8  # each refusal recorded


# -- the console ------------------------------------------------------------------------------------------
def test_console_adds_edits_and_removes(app, world, browser):
    b = english(browser("province"))
    assert 'href="/admin/upstreams"' in b.get("/admin/").get_data(as_text=True)
    assert "No upstream provider is registered" in b.get("/admin/upstreams").get_data(as_text=True)
    form = {"csrf_token": csrf(b, "/admin/upstreams/new"), "name": "vneid", "profile": "vneid",
            "issuer": VNEID["issuer"], "client_id": "motid-camau", "client_secret": SECRET, "token_auth_method": "",
            "scopes": "", "acr_values": "2", "display_name": "", "position": "", "enabled": "y", "endpoints": ""}
    added = b.post("/admin/upstreams/new", data=form)
    assert added.status_code == 302 and added.headers["Location"] == "/admin/upstreams/vneid"
    page = b.get("/admin/upstreams/vneid").get_data(as_text=True)
    assert "http://localhost/login/upstream/vneid/callback" in page  # the flash and the page name the redirect URI
    assert SECRET not in page and "set (never shown)" in page
    assert ">VNeID</a> <code>vneid</code>" in b.get("/admin/upstreams").get_data(as_text=True)  # profile's text

    page = b.get("/admin/upstreams/vneid").get_data(as_text=True)
    etag = re.search(r'name="etag" type="hidden" value="([^"]+)"', page).group(1)
    edit = {**form, "csrf_token": csrf(b, "/admin/upstreams/vneid"), "etag": etag, "client_secret": "",
            "token_auth_method": "client_secret_basic", "scopes": "openid profile",
            "display_name": "Đăng nhập bằng VNeID", "position": "0"}
    edit.pop("name")
    assert b.post("/admin/upstreams/vneid", data=edit).status_code == 302
    assert stored(app)[1] == SECRET  # an empty secret field leaves the stored secret
    update = events(app)[-1]
    assert update[0] == "admin:upstream:update" and set(update[2]) == {"name", "display_name"}
    stale = b.post("/admin/upstreams/vneid", data={**edit, "display_name": "Lần hai"})
    assert stale.status_code == 409 and "changed this provider" in stale.get_data(as_text=True)

    page = b.get("/admin/upstreams/vneid").get_data(as_text=True)
    edit["etag"] = re.search(r'name="etag" type="hidden" value="([^"]+)"', page).group(1)
    invalid = b.post("/admin/upstreams/vneid", data={**edit, "issuer": "http://sso.example.vn"})
    assert invalid.status_code == 422 and "Give an absolute https URL" in invalid.get_data(as_text=True)
    new_secret = b.post("/admin/upstreams/vneid", data={**edit, "client_secret": "bi-mat-moi"})
    assert new_secret.status_code == 302 and stored(app)[1] == "bi-mat-moi"

    confirm = b.get("/admin/upstreams/vneid/remove")
    assert confirm.status_code == 200 and "Remove it" in confirm.get_data(as_text=True) and stored(app)
    assert b.post("/admin/upstreams/vneid/remove").status_code == 400  # no CSRF token: nothing removed
    assert stored(app) is not None
    removed = b.post("/admin/upstreams/vneid/remove", data={"csrf_token": csrf(b, "/admin/upstreams/vneid/remove")})
    assert removed.status_code == 302 and removed.headers["Location"] == "/admin/upstreams" and stored(app) is None
    assert [tag for tag, _, _ in events(app)] == ["admin:upstream:add", "admin:upstream:update",
                                                  "admin:upstream:update", "admin:upstream:remove"]
    assert all(actor == world.people["province"]["id"] for _, actor, _ in events(app))


def test_console_refusals_are_shown_on_the_form_in_vietnamese(app, world, browser):
    b = browser("province")
    page = b.get("/admin/upstreams/new").get_data(as_text=True)
    assert "Thêm nhà cung cấp định danh" in page
    form = {"csrf_token": CSRF_RE.search(page).group(1), "name": "vneid", "profile": "vneid",
            "issuer": "http://sso.example.vn", "client_id": "motid-camau", "client_secret": SECRET, "enabled": "y"}
    refused = b.post("/admin/upstreams/new", data=form)
    assert refused.status_code == 422 and "https" in refused.get_data(as_text=True) and stored(app) is None
    assert b.post("/admin/upstreams/new", data={**form, "issuer": VNEID["issuer"]}).status_code == 302
    taken = b.post("/admin/upstreams/new", data={**form, "issuer": VNEID["issuer"]})
    assert taken.status_code == 409 and stored(app)[1] == SECRET
    assert b.post("/admin/upstreams/new", data={k: v for k, v in form.items() if k != "csrf_token"}).status_code == 400
    assert [b.get(f"/admin/upstreams/dvcqg{page}").status_code for page in ("", "/remove")] == [404, 404]


def test_console_auditor_reads_and_lesser_administrators_see_nothing(app, world, browser, token):
    app.test_client().post(f"{API}/upstreams", json=VNEID, headers=token("province", "admin:trust"))
    auditor = english(browser("auditor"))
    assert "Add an upstream provider" not in auditor.get("/admin/upstreams").get_data(as_text=True)
    page = auditor.get("/admin/upstreams/vneid").get_data(as_text=True)
    assert "<fieldset disabled>" in page and "Remove this provider" not in page and SECRET not in page
    assert auditor.get("/admin/upstreams/new").status_code == 403
    assert auditor.get("/admin/upstreams/vneid/remove").status_code == 403
    manager = english(browser("client_manager"))
    assert manager.get("/admin/upstreams").status_code == 403
    assert "/admin/upstreams" not in manager.get("/admin/").get_data(as_text=True)
    token_ = CSRF_RE.search(manager.get("/logout").get_data(as_text=True)).group(1)
    assert manager.post("/admin/upstreams/vneid/remove", data={"csrf_token": token_}).status_code == 403
    assert stored(app) is not None and [tag for tag, _, _ in events(app)] == ["admin:upstream:add"]
