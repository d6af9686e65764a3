"""The administration's command line: ``idp admin``, ``idp units``, ``idp audit`` and ``idp clients``."""
from __future__ import annotations

from sqlalchemy import select

from idp.accounts.models import Account, AccountRole
from idp.db import db
from idp.events import AuditEvent
from idp.oidc.models import Client


def test_cli_admin_grant_and_list(app, world, runner):
    officer = world.people["tan_loc_officer"]
    result = runner.invoke(args=["admin", "grant", officer["login"], "idp.unit_admin", "--unit", "31240"])
    assert result.exit_code == 0, result.output
    listed = runner.invoke(args=["admin", "list"]).output
    assert f"{officer['sub']}\tidp.unit_admin\t31240" in listed
    assert runner.invoke(args=["admin", "grant", officer["login"], "idp.unit_admin"]).exit_code == 1
    assert runner.invoke(args=["admin", "grant", world.people["citizen"]["login"], "idp.auditor"]).exit_code == 1
    assert runner.invoke(args=["admin", "grant", "nobody@example.vn", "idp.auditor"]).exit_code == 1
    with app.app_context():
        grants = db.session.scalars(select(AccountRole).where(AccountRole.account_id == officer["id"])).all()
        assert [g.role.code for g in grants] == ["idp.unit_admin"]


def test_cli_units_list_and_audit_export(app, world, runner):
    assert "Xã An Phú" in runner.invoke(args=["units", "list"]).output
    exported = runner.invoke(args=["audit", "export", "--tag", "account:account:create"])
    assert exported.exit_code == 0 and exported.output.startswith("id,created_at,tag")
    assert exported.output.count("account:account:create") == 9
    with app.app_context():
        assert db.session.scalar(select(Account).limit(1))


def test_clients_cli_refuses_a_file_that_is_not_json(app, runner, tmp_path):
    path = tmp_path / "meta.json"
    path.write_text("{not json")
    result = runner.invoke(args=["clients", "create", "--json", str(path)])
    assert result.exit_code == 1 and "invalid_client_metadata: the file is not JSON" in result.output
    with app.app_context():
        assert db.session.query(Client).count() == 0


def test_clients_cli_options_and_refusals(app, runner, tmp_path):
    jwks = tmp_path / "jwks.json"
    jwks.write_text('{"keys": [{"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", '
                    '"y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}')
    created = runner.invoke(args=["clients", "create", "--redirect-uri", "https://rp.example.vn/cb",
                                  "--auth-method", "private_key_jwt", "--jwks-file", str(jwks),
                                  "--post-logout-redirect-uri", "https://rp.example.vn/bye"])
    assert created.exit_code == 0, created.output
    client_id = created.output.split("client_id: ")[1].split()[0]
    no_secret = runner.invoke(args=["clients", "rotate-secret", client_id])
    assert no_secret.exit_code == 1 and "authenticates without a secret" in no_secret.output
    too_long = tmp_path / "lifetime.json"
    too_long.write_text('{"access_token_lifetime": 999999999}')
    refused = runner.invoke(args=["clients", "update", client_id, "--json", str(too_long)])
    assert refused.exit_code == 1 and "access_token_lifetime: A lifetime must be" in refused.output
    assert runner.invoke(args=["clients", "delete", "no-such-client"]).output.strip() == \
        "Error: no client 'no-such-client'"
    with app.app_context():
        stored = db.session.scalar(select(Client).where(Client.client_id == client_id))
        assert stored.meta["post_logout_redirect_uris"] == ["https://rp.example.vn/bye"]
        assert "access_token_lifetime" not in stored.meta
        refusals = db.session.scalars(select(AuditEvent).where(AuditEvent.tag == "admin:request:refuse")).all()
        assert [(r.details["action"], r.details["reason"]) for r in refusals] == [
            ("client.rotate_secret", "no_secret"), ("client.update", "invalid_input")]
