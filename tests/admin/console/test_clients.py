"""Console pages for applications: edit, a new secret, consents, read-only for the auditor; the
registered request_uris through the console, the API and the CLI."""
from __future__ import annotations

import re

from sqlalchemy import select

from idp.db import db
from idp.oidc.models import Client
from tests.conftest import CSRF_RE, login
from tests.oidc.helpers import auth_params, authorize, callback, make_client

API = "/admin/api/v1"


def csrf(b, page):
    return CSRF_RE.search(b.get(page).get_data(as_text=True)).group(1)


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
