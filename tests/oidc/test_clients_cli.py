"""``idp clients …``: administrators register and manage applications; bad metadata is refused cleanly."""
from __future__ import annotations

import json

import pytest

from idp.db import db
from idp.oidc.models import Client
from tests.oidc.helpers import REDIRECT, auth_params, basic, callback, code_for, exchange


def client_id_of(output: str) -> str:
    return output.split("client_id: ")[1].split()[0]


def test_create_show_update_rotate_delete(app, runner, client, accounts):
    accounts()
    created = runner.invoke(args=["clients", "create", "--name", "Hệ thống một cửa", "--redirect-uri", REDIRECT,
                                  "--grant-type", "authorization_code", "--grant-type", "refresh_token",
                                  "--scope", "openid profile officer", "--id-token-alg", "RS256"])
    assert created.exit_code == 0, created.output
    client_id = client_id_of(created.output)
    secret = created.output.split("client_secret: ")[1].split()[0]
    assert client_id in runner.invoke(args=["clients", "list"]).output
    assert '"officer"' not in runner.invoke(args=["clients", "show", client_id]).output
    with app.app_context():
        stored = db.session.query(Client).filter_by(client_id=client_id).one()
        assert secret not in (stored.secret or "")  # encrypted at rest
    code, _ = code_for(app, client, client_id)
    assert exchange(client, client_id, secret, code).status_code == 200

    updated = runner.invoke(args=["clients", "update", client_id, "--first-party", "--name", "Một cửa"])
    assert updated.exit_code == 0 and '"client_name": "Một cửa"' in updated.output
    assert "first_party: True" in updated.output
    assert "code" in callback(client.get("/authorize", query_string=auth_params(client_id, prompt="none")))

    rotated = runner.invoke(args=["clients", "rotate-secret", client_id])
    new_secret = rotated.output.split("client_secret: ")[1].split()[0]
    code, _ = code_for(app, client, client_id)
    assert exchange(client, client_id, secret, code).status_code == 401
    code, _ = code_for(app, client, client_id)
    assert exchange(client, client_id, new_secret, code).status_code == 200

    assert runner.invoke(args=["clients", "delete", client_id]).exit_code == 0
    assert runner.invoke(args=["clients", "show", client_id]).exit_code != 0
    assert client.post("/token", data={"grant_type": "client_credentials"},
                       headers=basic(client_id, new_secret)).status_code == 401


@pytest.mark.parametrize("meta, message", [
    ({"redirect_uris": ["https://rp.example.vn/cb#frag"]}, "fragment"),
    ({"redirect_uris": ["http://rp.example.vn/cb"]}, "https"),
    ({"redirect_uris": ["javascript:alert(1)"], "application_type": "native"}, "not allowed"),
    ({"redirect_uris": ["https://[::1/cb"]}, "not a valid URL"),
    ({"redirect_uris": [REDIRECT], "grant_types": "authorization_code"}, "array of strings"),
    ({"redirect_uris": [REDIRECT], "grant_types": [{}]}, "array of strings"),
    ({"redirect_uris": [REDIRECT], "post_logout_redirect_uris": 5}, "array of strings"),
    ({"redirect_uris": [REDIRECT], "default_max_age": True}, "default_max_age"),
    ({"redirect_uris": [REDIRECT], "default_max_age": -1}, "default_max_age"),
    ({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "private_key_jwt"}, "jwks"),
    ({"redirect_uris": [REDIRECT], "scope": "openid wizard"}, "scope"),
    ({"redirect_uris": [REDIRECT], "id_token_signed_response_alg": "HS256"}, "id_token_signed_response_alg"),
    ({"redirect_uris": [REDIRECT], "logo_uri": "http://rp.example.vn/logo.png"}, "logo_uri"),
    ({"redirect_uris": [REDIRECT], "jwks": {"keys": "nope"}}, "JWK Set"),
    ([1, 2], "JSON object"),
])
def test_bad_metadata_is_refused(app, runner, tmp_path, meta, message):
    path = tmp_path / "meta.json"
    path.write_text(json.dumps(meta))
    result = runner.invoke(args=["clients", "create", "--json", str(path)])
    assert result.exit_code != 0 and message in result.output, result.output
    with app.app_context():
        assert db.session.query(Client).count() == 0


def test_refused_update_changes_nothing(app, runner):
    created = runner.invoke(args=["clients", "create", "--redirect-uri", REDIRECT])
    client_id = client_id_of(created.output)
    result = runner.invoke(args=["clients", "update", client_id, "--redirect-uri", "http://evil.example/cb"])
    assert result.exit_code != 0
    assert REDIRECT in runner.invoke(args=["clients", "show", client_id]).output


def test_registration_token_prints_a_token(runner):
    token = runner.invoke(args=["clients", "registration-token", "--days", "1"]).output.strip()
    assert len(token) >= 40


def test_huge_max_age_is_invalid_request(app, client, accounts):
    accounts()
    created_id = None
    with app.app_context():
        created, _ = app.extensions["idp.clients"].create({"redirect_uris": [REDIRECT]})
        created_id = created.client_id
    from tests.conftest import login
    login(client, "096301001234")
    response = client.get("/authorize", query_string=auth_params(created_id, max_age="9" * 30))
    assert callback(response)["error"] == "invalid_request"
