"""The ``idp`` command, through Click's runner and as a real subprocess."""
from __future__ import annotations

import os
import subprocess
import sys

from idp.accounts.models import Account, AccountRole, Unit
from idp.db import db
from idp.events import AuditEvent
from tests.conftest import PASSWORD, login


def create(runner, *args, password=PASSWORD):
    return runner.invoke(args=["accounts", "create", *args, "--password-stdin"], input=password + "\n")


def test_create_citizen_prints_sub_and_can_log_in(app, runner, client):
    result = create(runner, "--kind", "citizen", "--citizen-id", "096301001234", "--name", "Nguyễn Văn Bảy",
                    "--email", "bay@example.vn", "--phone", "0912345678")
    assert result.exit_code == 0, result.output
    sub = result.output.strip()
    with app.app_context():
        account = db.session.query(Account).one()
        assert account.sub == sub and len(sub) >= 32 and account.citizen_id not in sub
        assert db.session.query(AuditEvent).filter_by(tag="account:account:create").count() == 1
    assert login(client, "bay@example.vn").status_code == 302


def test_create_business_with_branch_code(runner):
    result = create(runner, "--kind", "business", "--tax-code", "0100109106-001", "--name", "Trần Bình",
                    "--business-name", "Chi nhánh Năm Căn")
    assert result.exit_code == 0, result.output


def test_bad_input_exits_nonzero_and_leaves_nothing(app, runner):
    cases = [
        ["--kind", "citizen", "--citizen-id", "12345", "--name", "A"],
        ["--kind", "business", "--tax-code", "0100109107", "--name", "A", "--business-name", "B"],
        ["--kind", "citizen", "--citizen-id", "096301001234", "--name", "A", "--phone", "123"],
    ]
    for args in cases:
        result = create(runner, *args)
        assert result.exit_code != 0 and "Error:" in result.output, result.output
    assert "exactly 12 digits" in create(runner, *cases[0]).output
    assert "check digit" in create(runner, *cases[1]).output
    weak = create(runner, "--kind", "citizen", "--citizen-id", "096301001234", "--name", "A", password="123")
    assert weak.exit_code != 0 and "10 characters" in weak.output
    empty = runner.invoke(args=["accounts", "create", "--kind", "citizen", "--citizen-id", "096301001234",
                                "--name", "A", "--password-stdin"], input="")
    assert empty.exit_code != 0
    with app.app_context():
        assert db.session.query(Account).count() == 0


def test_duplicate_is_refused(app, runner):
    args = ["--kind", "citizen", "--citizen-id", "096301001234", "--name", "A"]
    assert create(runner, *args).exit_code == 0
    result = create(runner, *args)
    assert result.exit_code != 0 and "already exists" in result.output
    with app.app_context():
        assert db.session.query(Account).count() == 1


def test_list_show_disable_enable_unlock_set_password(app, runner, client, accounts, clock):
    account = accounts(email="hoa@example.vn")
    listing = runner.invoke(args=["accounts", "list"]).output
    assert account["sub"] in listing and "096301001234" in listing
    assert runner.invoke(args=["accounts", "list", "--kind", "business"]).output == ""
    shown = runner.invoke(args=["accounts", "show", "hoa@example.vn"]).output
    assert "citizen_id: 096301001234" in shown and "status: active" in shown
    assert runner.invoke(args=["accounts", "show", "nobody@example.vn"]).exit_code != 0

    login(client, "096301001234")
    assert runner.invoke(args=["accounts", "disable", account["sub"]]).exit_code == 0
    assert client.get("/account").status_code == 302  # sessions ended with the account
    assert login(client, "096301001234").status_code == 200
    assert runner.invoke(args=["accounts", "enable", account["sub"]]).exit_code == 0
    assert login(client, "096301001234").status_code == 302

    for _ in range(5):
        login(client, "096301001234", "wrong-password-123")
    assert "status: locked" in runner.invoke(args=["accounts", "show", "096301001234"]).output
    assert runner.invoke(args=["accounts", "unlock", "096301001234"]).exit_code == 0
    assert login(client, "096301001234").status_code == 302

    new = "Mật-khẩu-do-quản-trị-đặt"
    result = runner.invoke(args=["accounts", "set-password", "096301001234"], input=new + "\n")
    assert result.exit_code == 0, result.output
    assert client.get("/account").status_code == 302
    assert login(client, "096301001234", new).status_code == 302
    weak = runner.invoke(args=["accounts", "set-password", "096301001234"], input="short\n")
    assert weak.exit_code != 0


def test_demo_seed_is_idempotent(app, runner, client):
    first = runner.invoke(args=["demo", "seed"])
    assert first.exit_code == 0 and "password:" in first.output
    second = runner.invoke(args=["demo", "seed"])
    assert second.exit_code == 0 and "password:" not in second.output
    with app.app_context():
        kinds = sorted(a.kind for a in db.session.query(Account))
        assert kinds == ["admin", "business", "citizen", "officer"]
        officer = db.session.query(Account).filter_by(kind="officer").one()
        assert officer.unit is not None and officer.unit.parent is not None
        assert {g.role.code for g in officer.roles} >= {"one_stop.receiver"}
        assert db.session.query(Unit).filter_by(code="96").one().kind == "province"
        assert db.session.query(AccountRole).count() >= 3
    line = next(line for line in first.output.splitlines() if "citizen" in line)
    citizen_id, password = line.split("login:")[1].split()[0], line.split("password:")[1].strip()
    assert login(client, citizen_id, password).status_code == 302


def test_console_script_runs_migrations_on_a_fresh_instance(tmp_path):
    env = {**os.environ, "IDP_KEYS_PATH": str(tmp_path / "keys"), "IDP_INSTANCE_PATH": str(tmp_path / "inst"),
           "IDP_DATABASE_URL": ""}
    run = lambda *a: subprocess.run([sys.executable, "-m", "idp", *a], env=env, capture_output=True,  # noqa: E731
                                    text=True, timeout=120)
    upgrade = run("db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    assert (tmp_path / "inst" / "motid.sqlite3").exists()
    assert run("accounts", "list").returncode == 0
