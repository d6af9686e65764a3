"""``idp upstreams …`` and the registry under it: validated, audited, the client secret encrypted at
rest and never shown."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from idp.accounts.upstream.models import UpstreamProvider
from idp.accounts.upstream.registry import InvalidProvider, UpstreamRegistry
from idp.db import db
from idp.events import AuditEvent

SECRET = "bí-mật-rất-dài-0123456789"
ISSUER = "https://sso.dancuquocgia.gov.vn/auth/realms/citizen"


def _add(runner, *args, secret=SECRET):
    return runner.invoke(args=["upstreams", "add", *args], input=f"{secret}\n" if secret else None)


def _events(app, tag):
    with app.app_context():
        return [e.details for e in db.session.scalars(select(AuditEvent).where(AuditEvent.tag == tag))]


def _row(app, name):
    with app.app_context():
        row = db.session.scalar(select(UpstreamProvider).where(UpstreamProvider.name == name))
        db.session.expunge_all()
        return row


def test_add_keeps_the_secret_encrypted_and_never_prints_it(app, runner):
    result = _add(runner, "vneid", "--issuer", ISSUER, "--client-id", "dvc-camau-web", "--client-secret-stdin",
                  "--profile", "vneid", "--acr-values", "2")
    assert result.exit_code == 0, result.output
    assert "http://localhost/login/upstream/vneid/callback" in result.output
    assert SECRET not in result.output

    row = _row(app, "vneid")
    assert SECRET not in row.client_secret
    assert (row.profile, row.scopes, row.acr_values, row.display_name, row.position, row.enabled) == \
        ("vneid", "openid profile", "2", "VNeID", 0, True)
    assert row.token_auth_method == "client_secret_basic"
    with app.app_context():
        assert UpstreamRegistry.from_app().client_secret(row) == SECRET

    [details] = _events(app, "admin:upstream:add")
    assert details["name"] == "vneid" and details["client_secret"] == "set" and details["issuer"] == ISSUER
    assert SECRET not in json.dumps(details, ensure_ascii=False)


def test_show_list_update_remove(app, runner):
    assert _add(runner, "vneid", "--issuer", ISSUER, "--client-id", "a", "--client-secret-stdin",
                "--profile", "vneid").exit_code == 0
    assert _add(runner, "dvcqg", "--issuer", "https://xacthuc.dichvucong.gov.vn/oauth2/token", "--client-id", "b",
                "--client-secret-stdin", "--profile", "dvcqg", "--disabled").exit_code == 0

    listed = runner.invoke(args=["upstreams", "list"]).output.splitlines()
    assert [line.split()[1] for line in listed] == ["vneid", "dvcqg"]  # VNeID first
    assert "disabled" in listed[1]

    shown = json.loads(runner.invoke(args=["upstreams", "show", "dvcqg"]).output)
    assert shown["client_secret"] == "(set)" and shown["acr_values"] == "LoA1" and shown["enabled"] is False
    assert shown["redirect_uri"] == "http://localhost/login/upstream/dvcqg/callback"

    old_secret = _row(app, "dvcqg").client_secret
    result = runner.invoke(args=["upstreams", "update", "dvcqg", "--enable", "--position", "5",
                                 "--client-secret-stdin"], input="một-bí-mật-mới-khác\n")
    assert result.exit_code == 0, result.output
    row = _row(app, "dvcqg")
    assert row.enabled and row.position == 5 and row.client_secret != old_secret
    [details] = _events(app, "admin:upstream:update")
    assert details == {"name": "dvcqg", "enabled": True, "position": 5, "client_secret": "set"}

    assert runner.invoke(args=["upstreams", "remove", "dvcqg"]).exit_code == 0
    assert _row(app, "dvcqg") is None
    assert _events(app, "admin:upstream:remove") == [{"name": "dvcqg"}]
    assert runner.invoke(args=["upstreams", "show", "dvcqg"]).exit_code != 0


@pytest.mark.parametrize("args, message", [
    (["--issuer", "http://sso.example.vn", "--client-id", "a"], "issuer: must use https"),
    (["--issuer", "https://user:pw@sso.example.vn", "--client-id", "a"], "issuer: an absolute URL"),
    (["--issuer", ISSUER, "--client-id", "a", "--scope", "profile"], "scopes: an OpenID Connect profile"),
    (["--issuer", ISSUER, "--client-id", "<b>"], "client_id: 1 to 200 printable"),
    (["--issuer", ISSUER, "--client-id", "a", "--endpoint", "token_endpoint=http://x.example"],
     "token_endpoint: must use https"),
])
def test_add_refuses_bad_settings(app, runner, args, message):
    result = _add(runner, "vneid", *args, "--client-secret-stdin")
    assert result.exit_code != 0 and message in result.output
    assert _row(app, "vneid") is None and _events(app, "admin:upstream:add") == []


def test_names_secrets_and_profiles_are_checked(app, runner):
    assert "needs a client secret" in _add(runner, "x", "--issuer", ISSUER, "--client-id", "a", secret=None).output
    assert "name: lower-case" in _add(runner, "Bad Name", "--issuer", ISSUER, "--client-id", "a",
                                      "--client-secret-stdin").output
    assert "Invalid value for '--profile'" in _add(runner, "x", "--issuer", ISSUER, "--client-id", "a",
                                                   "--profile", "saml").output
    assert _add(runner, "x", "--issuer", ISSUER, "--client-id", "a", "--client-secret-stdin").exit_code == 0
    assert "exists already" in _add(runner, "x", "--issuer", ISSUER, "--client-id", "a",
                                    "--client-secret-stdin").output
    # private_key_jwt needs no secret: MotID signs with its own key
    assert _add(runner, "pkj", "--issuer", ISSUER, "--client-id", "a", "--token-auth-method", "private_key_jwt",
                secret=None).exit_code == 0


def test_zalo_comes_with_its_endpoints(app, runner):
    result = _add(runner, "zalo", "--profile", "zalo", "--client-id", "4143902110000000000", "--client-secret-stdin")
    assert result.exit_code == 0, result.output
    row = _row(app, "zalo")
    assert row.issuer == "https://oauth.zaloapp.com" and row.position == 90
    assert row.endpoints["token_endpoint"] == "https://oauth.zaloapp.com/v4/access_token"
    assert row.endpoints["userinfo_endpoint"] == "https://graph.zalo.me/v2.0/me?fields=id,name,picture"


def test_loopback_issuer_only_while_motid_is_on_loopback(make_app):
    app = make_app(IDP_ISSUER="https://id.camau.gov.vn", IDP_TRUSTED_HOSTS="localhost")
    with app.app_context(), pytest.raises(InvalidProvider, match="issuer: must use https"):
        UpstreamRegistry.from_app().add("dev", issuer="http://127.0.0.1:9000", client_id="a", client_secret="s")
    dev = make_app()
    with dev.app_context():
        assert UpstreamRegistry.from_app().add("dev", issuer="http://127.0.0.1:9000", client_id="a",
                                               client_secret="s").issuer == "http://127.0.0.1:9000"
