"""Issue 11, item 2: an application manager (``idp.client_manager``) must not take over accounts through
an application that administers MotID (``admin:*``) or skips consent (first-party).

The attack: rotate the secret of an application holding ``admin:accounts``, then use its
client-credentials token on officers' accounts; or point a first-party, admin-scoped application's
redirect URI at oneself and receive the province administrator's code. Any change to such an
application, making one, creating one or deleting one needs the province administrator, in the
console, the API and the CLI alike (one rule: ``idp.admin.clients``); refusals are recorded
(``admin:request:refuse``) and changes audited.
"""
from __future__ import annotations

import base64
import re

import pytest
from sqlalchemy import select

from idp.admin import clients as client_rules
from idp.admin.authz import Actor, Refused
from idp.accounts.models import Account
from idp.db import db
from idp.events import AuditEvent
from idp.oidc.models import Client
from tests.admin.conftest import browser, token, world  # noqa: F401  (fixtures)
from tests.conftest import CSRF_RE
from tests.oidc.helpers import REDIRECT, make_client

API = "/admin/api/v1"
ATTACKER_URI = "https://ud-attacker.example.vn/cb"


def basic(client_id, secret):
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


@pytest.fixture
def admin_tool(app, world):
    """An automation application the province administrator allowed admin:accounts (client credentials)."""
    return make_client(app, client_name="Đồng bộ cán bộ", redirect_uris=[], grant_types=["client_credentials"],
                       scope="admin:accounts")


@pytest.fixture
def console_app(app, world):
    """A first-party application with admin scopes: the province administrator's own tool."""
    return make_client(app, first_party=True, client_name="Bảng điều khiển", scope="openid profile admin:accounts")


@pytest.fixture
def first_party(app, world):
    return make_client(app, first_party=True, client_name="Cổng một cửa", scope="openid profile officer")


def stored(app, client_id):
    with app.app_context():
        client = db.session.scalar(select(Client).where(Client.client_id == client_id))
        return None if client is None else {"meta": dict(client.meta), "first_party": client.first_party,
                                            "secret": client.secret}


def events_of(app, tag):
    with app.app_context():
        return [(e.actor_id, e.details) for e in db.session.scalars(
            select(AuditEvent).where(AuditEvent.tag == tag).order_by(AuditEvent.id))]


def refusals(app, action):
    return [d for _, d in events_of(app, "admin:request:refuse") if d["action"] == action]


def csrf(b, page):
    return CSRF_RE.search(b.get(page).get_data(as_text=True)).group(1)


def assert_problem(response, status=403, reason="higher_role"):
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/problem+json" and response.json["reason"] == reason


# -- the story of the issue ---------------------------------------------------------------------------------------
def test_client_manager_cannot_rotate_an_admin_applications_secret_to_take_over_accounts(
        app, world, token, browser, admin_tool):
    tool_id, tool_secret = admin_tool
    before = stored(app, tool_id)
    manager = token("client_manager", "admin:clients")
    api = app.test_client().post(f"{API}/clients/{tool_id}/secret", headers=manager)
    assert_problem(api)
    assert "client_secret" not in api.json
    b = browser("client_manager")
    page = f"/admin/clients/{tool_id}"
    console = b.post(f"{page}/secret", data={"csrf_token": csrf(b, page)})
    assert console.status_code == 403 and "client_secret" not in console.get_data(as_text=True) \
        and '<code class="secret">' not in console.get_data(as_text=True)
    assert stored(app, tool_id) == before  # the old secret is still the only one: nothing to log in with
    assert [r["target"] for r in refusals(app, "client.rotate_secret")] == [tool_id, tool_id]
    assert refusals(app, "client.rotate_secret")[0]["privileged"] == ["admin_scope"]
    # So no client-credentials token reaches the officer in another unit.
    officer = world.people["tan_loc_officer"]
    with app.app_context():
        assert db.session.get(Account, officer["id"]).email == "cb.tanloc@camau.gov.vn"
    assert not events_of(app, "admin:client:rotate_secret")

    # The province administrator may, and it is audited.
    rotated = app.test_client().post(f"{API}/clients/{tool_id}/secret", headers=token("province", "admin:clients"))
    assert rotated.status_code == 200
    new_secret = rotated.json["client_secret"]
    issued = app.test_client().post("/token", data={"grant_type": "client_credentials", "scope": "admin:accounts"},
                                    headers=basic(tool_id, new_secret))
    assert issued.status_code == 200
    assert app.test_client().post("/token", data={"grant_type": "client_credentials"},
                                  headers=basic(tool_id, tool_secret)).status_code == 401
    ((actor, details),) = events_of(app, "admin:client:rotate_secret")
    assert actor == world.people["province"]["id"] and details["client_id"] == tool_id
    assert details["privileged"] == ["admin_scope"]


PRIVILEGED_CHANGES = [
    {"redirect_uris": [ATTACKER_URI]},
    {"post_logout_redirect_uris": [ATTACKER_URI]},
    {"backchannel_logout_uri": ATTACKER_URI},
    {"frontchannel_logout_uri": ATTACKER_URI},
    {"token_endpoint_auth_method": "client_secret_post"},
    {"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [{
        "kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}},
    {"scope": "openid profile"},
    {"first_party": False},
    {"client_name": "Tên khác"},
    {"access_token_lifetime": 60},
]


@pytest.mark.parametrize("change", PRIVILEGED_CHANGES, ids=lambda c: "+".join(c))
def test_client_manager_cannot_change_a_first_party_admin_application(app, world, token, console_app, change):
    console_id, _ = console_app
    before = stored(app, console_id)
    manager = token("client_manager", "admin:clients")
    current = app.test_client().get(f"{API}/clients/{console_id}", headers=manager)
    response = app.test_client().patch(f"{API}/clients/{console_id}", json=change,
                                       headers={**manager, "If-Match": current.headers["ETag"]})
    assert_problem(response)
    assert stored(app, console_id) == before
    (refusal,) = refusals(app, "client.update")
    assert refusal["target"] == console_id and refusal["privileged"] == ["admin_scope", "first_party"]
    assert not events_of(app, "admin:client:update")


def test_the_province_administrator_changes_it_and_is_audited(app, world, token, console_app):
    console_id, _ = console_app
    province = token("province", "admin:clients")
    current = app.test_client().get(f"{API}/clients/{console_id}", headers=province)
    response = app.test_client().patch(f"{API}/clients/{console_id}",
                                       json={"redirect_uris": [REDIRECT, "https://bdk.camau.gov.vn/cb"]},
                                       headers={**province, "If-Match": current.headers["ETag"]})
    assert response.status_code == 200, response.json
    assert stored(app, console_id)["meta"]["redirect_uris"] == [REDIRECT, "https://bdk.camau.gov.vn/cb"]
    ((actor, details),) = events_of(app, "admin:client:update")
    assert actor == world.people["province"]["id"] and details["privileged"] == ["admin_scope", "first_party"]
    assert details["fields"] == ["redirect_uris"] and details["via_client"] == "admin-tool"


def test_an_application_token_cannot_change_a_privileged_application(app, world, token, first_party):
    """Automation holding admin:clients manages ordinary applications only."""
    target, _ = first_party
    automation = token(None, "admin:clients")
    current = app.test_client().get(f"{API}/clients/{target}", headers=automation)
    response = app.test_client().patch(f"{API}/clients/{target}", json={"redirect_uris": [ATTACKER_URI]},
                                       headers={**automation, "If-Match": current.headers["ETag"]})
    assert_problem(response)
    assert_problem(app.test_client().post(f"{API}/clients/{target}/secret", headers=automation))
    assert [r["client_id"] for r in refusals(app, "client.update")] == ["admin-tool"]


# -- making an application privileged ----------------------------------------------------------------------------
@pytest.mark.parametrize("grant", [{"scope": "openid admin:accounts"}, {"scope": "openid admin:audit"},
                                   {"first_party": True}], ids=["admin_accounts", "admin_audit", "first_party"])
def test_client_manager_cannot_make_an_application_privileged(app, world, token, grant):
    ordinary, _ = make_client(app)
    before = stored(app, ordinary)
    manager = token("client_manager", "admin:clients")
    current = app.test_client().get(f"{API}/clients/{ordinary}", headers=manager)
    assert_problem(app.test_client().patch(f"{API}/clients/{ordinary}", json=grant,
                                           headers={**manager, "If-Match": current.headers["ETag"]}))
    assert stored(app, ordinary) == before
    assert refusals(app, "client.update")[0]["privileged"] == ["first_party" if "first_party" in grant
                                                               else "admin_scope"]


@pytest.mark.parametrize("extra", [{"first_party": True}, {"scope": "openid admin:accounts"}],
                         ids=["first_party", "admin_scope"])
def test_client_manager_cannot_create_a_privileged_application(app, world, token, browser, extra):
    response = app.test_client().post(f"{API}/clients", json={
        "client_name": "Ứng dụng lạ", "redirect_uris": [ATTACKER_URI], **extra},
        headers=token("client_manager", "admin:clients"))
    assert_problem(response)
    b = browser("client_manager")
    form = {"csrf_token": csrf(b, "/admin/clients/new"), "client_name": "Ứng dụng lạ", "redirect_uris": ATTACKER_URI,
            "token_endpoint_auth_method": "client_secret_basic", "grant_authorization_code": "y",
            "scope": extra.get("scope", "openid profile"), "default_acr_values": ""}
    if extra.get("first_party"):
        form["first_party"] = "y"
    assert b.post("/admin/clients/new", data=form).status_code == 403
    with app.app_context():
        assert db.session.scalar(select(Client).where(Client.meta["client_name"].as_string() == "Ứng dụng lạ")) \
            is None
    assert len(refusals(app, "client.create")) == 2
    # The ordinary application is still theirs to register.
    ordinary = app.test_client().post(f"{API}/clients", json={"client_name": "Ứng dụng thường",
                                                              "redirect_uris": ["https://ud.camau.gov.vn/cb"]},
                                      headers=token("client_manager", "admin:clients"))
    assert ordinary.status_code == 201


def test_granting_admin_scopes_ends_the_applications_own_registration_management(app, world, token, runner):
    """RFC 7592 would be a fourth way in: whoever holds the registration access token could change the
    redirect URIs of an application that has just been given admin:*."""
    initial = runner.invoke(args=["clients", "registration-token"]).output.strip()
    registered = app.test_client().post("/connect/register", json={"redirect_uris": [REDIRECT]},
                                        headers={"Authorization": f"Bearer {initial}"}).json
    client_id, registration = registered["client_id"], registered["registration_access_token"]
    province = token("province", "admin:clients")
    current = app.test_client().get(f"{API}/clients/{client_id}", headers=province)
    granted = app.test_client().patch(f"{API}/clients/{client_id}", json={"scope": "openid admin:audit"},
                                      headers={**province, "If-Match": current.headers["ETag"]})
    assert granted.status_code == 200
    put = app.test_client().put(f"/connect/register/{client_id}",
                                json={"client_id": client_id, "redirect_uris": [ATTACKER_URI]},
                                headers={"Authorization": f"Bearer {registration}"})
    assert put.status_code == 401
    assert stored(app, client_id)["meta"]["redirect_uris"] == [REDIRECT]
    assert events_of(app, "admin:client:update")[-1][1]["registration_ended"] is True


# -- the console -------------------------------------------------------------------------------------------------
def console_form(b, page, **changes):
    html = b.get(page).get_data(as_text=True)
    etag = re.search(r'name="etag" type="hidden" value="([^"]+)"', html).group(1)
    form = {"csrf_token": CSRF_RE.search(html).group(1), "etag": etag, "client_name": "Bảng điều khiển",
            "redirect_uris": REDIRECT, "token_endpoint_auth_method": "client_secret_basic",
            "grant_authorization_code": "y", "grant_refresh_token": "y", "scope": "openid profile admin:accounts",
            "first_party": "y", "default_acr_values": ""}
    form.update(changes)
    return form


def test_console_refuses_the_client_manager_and_lets_the_province_administrator(app, world, browser, console_app):
    console_id, secret = console_app
    page = f"/admin/clients/{console_id}"
    before = stored(app, console_id)
    b = browser("client_manager")
    refused = b.post(page, data=console_form(b, page, redirect_uris=ATTACKER_URI))
    assert refused.status_code == 403 and refused.mimetype == "text/html"
    assert stored(app, console_id) == before
    assert refusals(app, "client.update")[0]["target"] == console_id

    p = browser("province")
    assert p.post(page, data=console_form(p, page, redirect_uris=f"{REDIRECT}\nhttps://bdk.camau.gov.vn/cb")) \
        .status_code == 302
    assert stored(app, console_id)["meta"]["redirect_uris"] == [REDIRECT, "https://bdk.camau.gov.vn/cb"]
    rotated = p.post(f"{page}/secret", data={"csrf_token": csrf(p, page)})
    assert rotated.status_code == 200 and '<code class="secret">' in rotated.get_data(as_text=True)
    assert [a for a, _ in events_of(app, "admin:client:update") + events_of(app, "admin:client:rotate_secret")] \
        == [world.people["province"]["id"]] * 2


# -- the command line: the server's operator, the province administrator by definition ------------------------
def test_the_command_line_changes_privileged_applications_and_is_audited(app, world, runner, console_app):
    console_id, _ = console_app
    updated = runner.invoke(args=["clients", "update", console_id, "--redirect-uri", "https://bdk.camau.gov.vn/cb"])
    assert updated.exit_code == 0, updated.output
    rotated = runner.invoke(args=["clients", "rotate-secret", console_id])
    assert rotated.exit_code == 0 and "client_secret: " in rotated.output
    created = runner.invoke(args=["clients", "create", "--name", "Công cụ tỉnh", "--redirect-uri", REDIRECT,
                                  "--scope", "openid admin:audit", "--first-party"])
    assert created.exit_code == 0, created.output
    new_id = created.output.split("client_id: ")[1].split()[0]
    assert runner.invoke(args=["clients", "delete", console_id]).exit_code == 0
    assert stored(app, console_id) is None
    audited = {tag: events_of(app, tag) for tag in ("admin:client:update", "admin:client:rotate_secret",
                                                   "admin:client:create", "admin:client:delete")}
    for tag, rows in audited.items():
        ((actor, details),) = rows
        assert actor is None and details["via"] == "cli" and details["privileged"], tag
    assert audited["admin:client:create"][0][1]["client_id"] == new_id
    assert audited["admin:client:delete"][0][1]["client_id"] == console_id


def test_deleting_is_the_province_administrators_too(app, world, console_app, first_party):
    """Only the command line deletes applications (the console and the API have no way to); the rule is the
    same one, so a client manager's request through the rules is refused and recorded."""
    console_id, _ = console_app
    assert app.test_client().delete(f"{API}/clients/{console_id}").status_code == 405
    ordinary, _ = make_client(app)
    with app.app_context():
        manager = Actor.for_account(db.session.get(Account, world.people["client_manager"]["id"]))
        for client_id in (console_id, first_party[0]):
            with pytest.raises(Refused) as refused:
                client_rules.delete(manager, client_rules.service().get(client_id))
            assert refused.value.reason == "higher_role"
        client_rules.delete(manager, client_rules.service().get(ordinary))  # an ordinary one: theirs
    assert stored(app, console_id) and stored(app, first_party[0]) and stored(app, ordinary) is None
    assert len(refusals(app, "client.delete")) == 2
