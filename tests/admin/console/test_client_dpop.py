"""``dpop_bound_access_tokens`` (RFC 9449 §5.2) set by an administrator: the console, the API and the CLI."""
from __future__ import annotations

import re

from tests.admin.console.test_clients import API, csrf
from tests.oidc.helpers import make_client


def meta_of(app, client_id):
    with app.app_context():
        return dict(app.extensions["idp.clients"].get(client_id).meta)


def test_dpop_bound_access_tokens_in_the_console_the_api_and_the_cli(app, world, browser, token, runner):
    client_id, _ = make_client(app)
    b = browser("province")
    page = f"/admin/clients/{client_id}"
    html = b.get(page).get_data(as_text=True)
    assert 'name="dpop_bound_access_tokens"' in html
    etag = re.search(r'name="etag" type="hidden" value="([^"]+)"', html).group(1)
    form = {"csrf_token": csrf(b, page), "etag": etag, "client_name": "Cổng",
            "redirect_uris": "https://rp.example.vn/cb", "token_endpoint_auth_method": "client_secret_basic",
            "grant_authorization_code": "y", "scope": "openid profile", "default_acr_values": "",
            "dpop_bound_access_tokens": "y"}
    assert b.post(page, data=form).status_code == 302
    assert meta_of(app, client_id)["dpop_bound_access_tokens"] is True
    api, headers = app.test_client(), token("province", "admin:clients")
    read = api.get(f"{API}/clients/{client_id}", headers=headers)
    assert read.json["metadata"]["dpop_bound_access_tokens"] is True
    refused = api.patch(f"{API}/clients/{client_id}", json={"dpop_bound_access_tokens": "yes"},
                        headers={**headers, "If-Match": read.headers["ETag"]})
    assert refused.status_code == 422
    cleared = api.patch(f"{API}/clients/{client_id}", json={"dpop_bound_access_tokens": None},
                        headers={**headers, "If-Match": read.headers["ETag"]})
    assert cleared.status_code == 200, cleared.json
    assert "dpop_bound_access_tokens" not in meta_of(app, client_id)
    updated = runner.invoke(args=["clients", "update", client_id, "--dpop-bound-access-tokens"])
    assert updated.exit_code == 0, updated.output
    assert meta_of(app, client_id)["dpop_bound_access_tokens"] is True
    runner.invoke(args=["clients", "update", client_id, "--no-dpop-bound-access-tokens"])
    assert meta_of(app, client_id)["dpop_bound_access_tokens"] is False
