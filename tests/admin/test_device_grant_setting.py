"""The device code grant (RFC 8628) is a grant type an administrator allows per client: through the admin
API, the console and the CLI, like the others."""
from __future__ import annotations

import re

from sqlalchemy import select

from idp.db import db
from idp.oidc.models import Client
from tests.conftest import CSRF_RE
from tests.oidc.helpers import basic, make_client

API = "/admin/api/v1"
DEVICE = "urn:ietf:params:oauth:grant-type:device_code"


def _meta(app, client_id):
    with app.app_context():
        return db.session.scalar(select(Client).where(Client.client_id == client_id)).meta


def test_api_allows_the_device_grant_and_the_kiosk_can_start(app, world, token):
    client_id, secret = make_client(app)
    client, headers = app.test_client(), token("province", "admin:clients")
    refused = app.test_client().post("/device/authorize", data={"scope": "openid"}, headers=basic(client_id, secret))
    assert refused.status_code == 400 and refused.json["error"] == "unauthorized_client"
    current = client.get(f"{API}/clients/{client_id}", headers=headers)
    patched = client.patch(f"{API}/clients/{client_id}", json={"grant_types": [
        "authorization_code", "refresh_token", DEVICE]}, headers={**headers, "If-Match": current.headers["ETag"]})
    assert patched.status_code == 200, patched.json
    assert DEVICE in _meta(app, client_id)["grant_types"]
    started = app.test_client().post("/device/authorize", data={"scope": "openid"}, headers=basic(client_id, secret))
    assert started.status_code == 200 and started.json["user_code"]
    wrong = client.patch(f"{API}/clients/{client_id}", json={"grant_types": ["urn:example:device"]},
                         headers={**headers, "If-Match": client.get(f"{API}/clients/{client_id}",
                                                                    headers=headers).headers["ETag"]})
    assert wrong.status_code == 422, (wrong.status_code, wrong.json)


def test_console_and_cli_set_the_device_grant(app, world, browser, runner):
    client_id, _ = make_client(app)
    b = browser("province")
    page = f"/admin/clients/{client_id}"
    html = b.get(page).get_data(as_text=True)
    assert 'name="grant_device_code"' in html
    form = {"csrf_token": CSRF_RE.search(html).group(1),
            "etag": re.search(r'name="etag" type="hidden" value="([^"]+)"', html).group(1),
            "client_name": "Ki-ốt một cửa", "redirect_uris": "https://rp.example.vn/cb",
            "token_endpoint_auth_method": "client_secret_basic", "grant_authorization_code": "y",
            "grant_device_code": "y", "scope": "openid profile", "default_acr_values": ""}
    saved = b.post(page, data=form)
    assert saved.status_code == 302, re.findall(r'class="error[^"]*"[^>]*>([^<]+)', saved.get_data(as_text=True))
    assert _meta(app, client_id)["grant_types"] == ["authorization_code", DEVICE]
    assert re.search(r"<input checked[^>]*name=\"grant_device_code\"", b.get(page).get_data(as_text=True))
    created = runner.invoke(args=["clients", "create", "--name", "Ki-ốt", "--auth-method", "none",
                                  "--grant-type", DEVICE, "--scope", "openid profile"])
    assert created.exit_code == 0, created.output
    kiosk = created.output.split("client_id: ")[1].split()[0]
    assert _meta(app, kiosk)["grant_types"] == [DEVICE] and _meta(app, kiosk)["redirect_uris"] == []
