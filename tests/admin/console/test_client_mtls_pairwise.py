"""Mutual-TLS client authentication (RFC 8705 §2) and pairwise subjects (OIDC Core §8) as an administrator
sets them: through the API, the console and the CLI."""
from __future__ import annotations

import re

from tests.oidc.helpers import REDIRECT, make_client
from tests.oidc.test_pairwise import sector  # noqa: F401  (fixture)

API = "/admin/api/v1"
OTHER = "https://app.rp.example.vn/cb"


def patch(api, headers, client_id, change):
    read = api.get(f"{API}/clients/{client_id}", headers=headers)
    return api.patch(f"{API}/clients/{client_id}", json=change, headers={**headers, "If-Match": read.headers["ETag"]})


def test_the_api_sets_mtls_authentication_and_pairwise_subjects(app, world, token, sector):
    client_id, _ = make_client(app)
    api, headers = app.test_client(), token("province", "admin:clients")
    tls = patch(api, headers, client_id, {"token_endpoint_auth_method": "tls_client_auth",
                                          "tls_client_auth_san_dns": "rp.example.vn"})
    assert tls.status_code == 200, (tls.json.get("detail"), tls.json.get("errors"))
    assert tls.json["metadata"]["tls_client_auth_san_dns"] == "rp.example.vn"
    two = patch(api, headers, client_id, {"tls_client_auth_subject_dn": "CN=rp.example.vn,C=VN"})
    assert two.status_code == 422 and two.json["errors"]["metadata"]["code"] == "invalid_client_metadata"
    uri = sector("/sector.json", [REDIRECT, OTHER])
    several = patch(api, headers, client_id, {"subject_type": "pairwise", "redirect_uris": [REDIRECT, OTHER]})
    assert several.status_code == 422  # redirect URIs on two hosts: a sector_identifier_uri is needed
    pairwise = patch(api, headers, client_id, {"subject_type": "pairwise", "redirect_uris": [REDIRECT, OTHER],
                                               "sector_identifier_uri": uri})
    assert pairwise.status_code == 200, pairwise.json
    assert pairwise.json["metadata"]["subject_type"] == "pairwise"
    assert pairwise.json["metadata"]["sector_identifier_uri"] == uri
    missing = patch(api, headers, client_id, {"redirect_uris": [REDIRECT, OTHER, "https://x.example.vn/cb"]})
    assert missing.status_code == 422


def test_the_console_and_the_cli_set_them_too(app, world, browser, runner):
    client_id, _ = make_client(app)
    b = browser("province")
    page = f"/admin/clients/{client_id}"
    html = b.get(page).get_data(as_text=True)
    form = {"csrf_token": re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1),
            "etag": re.search(r'name="etag" type="hidden" value="([^"]+)"', html).group(1),
            "client_name": "Cổng", "redirect_uris": REDIRECT, "token_endpoint_auth_method": "tls_client_auth",
            "tls_client_auth_field": "tls_client_auth_subject_dn", "tls_client_auth_value": "CN=rp.example.vn,C=VN",
            "grant_authorization_code": "y", "scope": "openid profile", "default_acr_values": "",
            "subject_type": "pairwise"}
    saved = b.post(page, data=form)
    assert saved.status_code == 302, re.findall(r'class="error[^"]*"[^>]*>([^<]+)', saved.get_data(as_text=True))
    with app.app_context():
        meta = app.extensions["idp.clients"].get(client_id).meta
    assert meta["tls_client_auth_subject_dn"] == "CN=rp.example.vn,C=VN" and meta["subject_type"] == "pairwise"
    again = b.get(page).get_data(as_text=True)
    assert 'value="CN=rp.example.vn,C=VN"' in again and '<option selected value="pairwise">' in again
    updated = runner.invoke(args=["clients", "update", client_id, "--tls-subject", "san_dns", "rp.example.vn",
                                  "--subject-type", "public"])
    assert updated.exit_code == 0, updated.output
    with app.app_context():
        meta = app.extensions["idp.clients"].get(client_id).meta
    assert meta["tls_client_auth_san_dns"] == "rp.example.vn" and "tls_client_auth_subject_dn" not in meta
    assert meta["subject_type"] == "public"
    refused = runner.invoke(args=["clients", "update", client_id, "--tls-subject", "san_ip", "not-an-ip"])
    assert refused.exit_code != 0 and "invalid_client_metadata" in refused.output
