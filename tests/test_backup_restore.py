"""The backup and restore drill the README describes: back up the database (pg_dump, or SQLite's online
backup) and keep the master key; restored into an empty database, MotID logs people in, refreshes the
tokens it issued before, and the audit chain verifies."""
from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess

from sqlalchemy.engine import make_url

from tests.conftest import _pg_url, live_database, login
from tests.oidc.helpers import basic, code_for, exchange, make_client


def restore_copy(app, tmp_path, stack):
    """A dump of ``app``'s database restored into an empty one, as an operator would; its URL."""
    url = app.config["IDP_DATABASE_URL"]
    if url.startswith("sqlite"):
        target = tmp_path / "restored.sqlite3"
        with sqlite3.connect(make_url(url).database) as source, sqlite3.connect(target) as copy:
            source.backup(copy)  # the online backup API: consistent while the server writes
        return "sqlite:///" + str(target)
    dump = subprocess.run(["pg_dump", "--no-owner", "--no-privileges", make_url(url).set(drivername="postgresql")
                           .render_as_string(hide_password=False)], capture_output=True, text=True, timeout=120,
                          check=True).stdout
    restored = stack.enter_context(live_database(f"restore_{os.getpid()}"))["IDP_DATABASE_URL"]
    plain = make_url(restored).set(drivername="postgresql").render_as_string(hide_password=False)
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", plain], input=dump, capture_output=True, text=True,
                   timeout=120, check=True)
    return _pg_url(restored)


def test_a_restored_database_logs_in_refreshes_and_verifies(make_app, accounts, tmp_path, config):
    app = make_app()
    accounts()
    client_id, secret = make_client(app, scope="openid offline_access")
    code, _ = code_for(app, app.test_client(), client_id, scope="openid offline_access", prompt="consent")
    tokens = exchange(app.test_client(), client_id, secret, code).get_json()

    with contextlib.ExitStack() as stack:
        url = restore_copy(app, tmp_path, stack)
        # Same master key (config), another database, another process's view: nothing shared but the dump.
        restored = make_app(IDP_DATABASE_URL=url, IDP_INSTANCE_PATH=str(tmp_path / "restored-instance"))
        browser = restored.test_client()
        assert login(browser, "096301001234").status_code == 302
        refreshed = restored.test_client().post("/token", headers=basic(client_id, secret), data={
            "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
        assert refreshed.status_code == 200 and "id_token" in refreshed.get_json()
        verified = restored.test_cli_runner().invoke(args=["audit", "verify"])
        assert verified.exit_code == 0 and "chain intact" in verified.output, verified.output
        with restored.app_context():
            from idp.db import db
            db.session.remove()
            db.engine.dispose()


def test_without_the_master_key_the_restored_database_is_refused(make_app, accounts, tmp_path):
    from cryptography.fernet import Fernet
    app = make_app()
    accounts()
    client_id, secret = make_client(app, grant_types=["client_credentials"], response_types=[], redirect_uris=[])
    assert app.test_client().post("/token", headers=basic(client_id, secret),
                                  data={"grant_type": "client_credentials"}).status_code == 200
    with contextlib.ExitStack() as stack:
        url = restore_copy(app, tmp_path, stack)
        stranger = make_app(IDP_DATABASE_URL=url, IDP_MASTER_KEY=Fernet.generate_key().decode(),
                            IDP_INSTANCE_PATH=str(tmp_path / "other"))
        result = stranger.test_cli_runner().invoke(args=["audit", "verify"])
        assert result.exit_code != 0
        with stranger.app_context():
            from idp.db import db
            db.session.remove()
            db.engine.dispose()
