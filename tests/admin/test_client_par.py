"""RFC 9126 §6 ``require_pushed_authorization_requests``: settable by administrators through the API, the
console and the CLI, and honoured at the authorization endpoint."""
from __future__ import annotations

import re
from urllib.parse import urlencode

from tests.conftest import csrf_token, login
from tests.oidc.helpers import REDIRECT, auth_params, callback, make_client, pkce_pair

API = "/admin/api/v1"
FLAG = "require_pushed_authorization_requests"


def _authorize_without_par(app, client_id):
    browser = app.test_client()
    login(browser, "096190000444")
    return callback(browser.get("/authorize?" + urlencode(auth_params(client_id, code_challenge=pkce_pair()[1],
                                                                      code_challenge_method="S256"))))


def test_api_sets_and_removes_the_requirement(app, world, token):
    http, headers = app.test_client(), token("client_manager", "admin:clients")
    client_id, _ = make_client(app, scope="openid profile")
    read = http.get(f"{API}/clients/{client_id}", headers=headers)
    patched = http.patch(f"{API}/clients/{client_id}", json={FLAG: True},
                         headers={**headers, "If-Match": read.headers["ETag"]})
    assert patched.status_code == 200, patched.json
    assert patched.json["metadata"][FLAG] is True
    assert _authorize_without_par(app, client_id)["error"] == "invalid_request"
    wrong = http.patch(f"{API}/clients/{client_id}", json={FLAG: "yes"},
                       headers={**headers, "If-Match": patched.headers["ETag"]})
    assert wrong.status_code == 422
    removed = http.patch(f"{API}/clients/{client_id}", json={FLAG: None},
                         headers={**headers, "If-Match": patched.headers["ETag"]})
    assert removed.status_code == 200 and FLAG not in removed.json["metadata"]


def test_console_form_sets_the_requirement(app, world, browser):
    b = browser("client_manager")
    response = b.post("/admin/clients/new", data={
        "csrf_token": csrf_token(b, "/admin/clients/new"), "client_name": "Một cửa", "redirect_uris": REDIRECT,
        "token_endpoint_auth_method": "client_secret_basic", "grant_authorization_code": "y",
        "scope": "openid profile", "default_acr_values": "", FLAG: "y"})
    assert response.status_code == 200
    client_id = re.search(r"<dt>client_id</dt><dd><code>([^<]+)</code>", response.get_data(as_text=True)).group(1)
    with app.app_context():
        assert app.extensions["idp.clients"].get(client_id).meta[FLAG] is True
    page = b.get(f"/admin/clients/{client_id}").get_data(as_text=True)
    assert re.search(rf'<input checked id="{FLAG}" name="{FLAG}" type="checkbox"', page), page


def test_cli_sets_and_removes_the_requirement(app, runner):
    created = runner.invoke(args=["clients", "create", "--redirect-uri", REDIRECT, "--require-par"])
    assert created.exit_code == 0, created.output
    assert f'"{FLAG}": true' in created.output
    client_id = created.output.split("client_id: ")[1].split()[0]
    updated = runner.invoke(args=["clients", "update", client_id, "--no-require-par"])
    assert updated.exit_code == 0, updated.output
    assert FLAG not in updated.output
