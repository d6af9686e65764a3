"""Fixtures: every test builds its own app (flask tutorial style) on SQLite or, when
``IDP_TEST_DATABASE_URL`` is set, on that PostgreSQL database."""
from __future__ import annotations

import contextlib
import email
import email.policy
import os
import re
import shutil
import socket
import time
from datetime import datetime, timedelta, timezone

import pytest
from aiosmtpd.controller import Controller
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text

from idp import create_app
from idp.accounts.services import NewAccount
from idp.db import db

# Folders whose tests need more than Python and the databases (setup.cfg lists the markers).
FOLDER_MARKERS = {"tests/browser/": "browser", "tests/interop/": "interop", "tests/integration/": "nginx",
                  "tests/bench/": "bench"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        for folder, marker in FOLDER_MARKERS.items():
            if item.nodeid.startswith(folder):
                item.add_marker(marker)

PG_URL = os.environ.get("IDP_TEST_DATABASE_URL", "")
PASSWORD = "Mật-khẩu-rất-an-toàn-42"


class Clock:
    """A settable clock the app reads instead of the wall clock."""

    def __init__(self):
        self.now = datetime(2026, 11, 27, 8, 0, 0, tzinfo=timezone.utc)

    def __call__(self):
        return self.now

    def advance(self, **delta):
        self.now += timedelta(**delta)


def _pg_url(url: str) -> str:
    return "postgresql+psycopg://" + url.split("://", 1)[1] if url.startswith("postgresql://") else url


def base_config(tmp_path, database_url: str) -> dict:
    return {
        "IDP_ISSUER": "http://localhost",
        "IDP_DATABASE_URL": database_url,
        "IDP_INSTANCE_PATH": str(tmp_path / "instance"),
        "IDP_KEYS_PATH": str(tmp_path / "keys"),
        "IDP_MASTER_KEY": Fernet.generate_key().decode(),
        # Cheap hashing keeps the suite fast; tests/accounts/test_passwords.py checks the real defaults.
        "IDP_ARGON2_TIME_COST": 1,
        "IDP_ARGON2_MEMORY_KIB": 1024,
        "IDP_LOGIN_LIMIT_PER_IP": "1000/minute",
        "IDP_LOGIN_LIMIT_PER_ACCOUNT": "1000/minute",
        "SERVER_NAME": "localhost",
    }


@pytest.fixture(scope="session")
def database_template(tmp_path_factory):
    """A migrated database: a SQLite file to copy per test, or the PostgreSQL URL, migrated once."""
    from flask_migrate import upgrade

    tmp = tmp_path_factory.mktemp("template")
    if PG_URL:
        engine = create_engine(_pg_url(PG_URL))
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        url = _pg_url(PG_URL)
    else:
        url = "sqlite:///" + str(tmp / "template.sqlite3")
    app = create_app(base_config(tmp, url))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return url


_cleaner: dict = {}


def _truncate_all() -> None:
    """Empty every table and restart every sequence, in one round trip. DELETE rather than TRUNCATE:
    on tables this small TRUNCATE costs about 300 ms a test (new files for 26 tables), DELETE a few ms."""
    if not _cleaner:
        engine = _cleaner["engine"] = create_engine(_pg_url(PG_URL), pool_size=1)
        with engine.connect() as conn:
            sequences = conn.execute(text("SELECT sequence_schema || '.' || sequence_name "
                                          "FROM information_schema.sequences")).scalars().all()
        statements = [f'DELETE FROM "{t.name}"' for t in reversed(db.metadata.sorted_tables)]
        statements += [f"SELECT setval('{name}', 1, false)" for name in sequences]
        _cleaner["sql"] = ";\n".join(statements)
    with _cleaner["engine"].begin() as conn:
        conn.exec_driver_sql(_cleaner["sql"])


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def config(tmp_path, database_template, clock):
    if PG_URL:
        url = database_template
    else:
        path = tmp_path / "motid.sqlite3"
        shutil.copyfile(database_template.removeprefix("sqlite:///"), path)
        url = "sqlite:///" + str(path)
    cfg = base_config(tmp_path, url)
    cfg["CLOCK"] = clock
    return cfg


@pytest.fixture
def make_app(config):
    """Build an app with extra settings; cleans the shared PostgreSQL database afterwards."""
    built = []

    def factory(**overrides):
        app = create_app({**config, **overrides})
        app.config["TESTING"] = True
        built.append(app)
        return app

    yield factory
    for app in built:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    if PG_URL and built:
        _truncate_all()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def accounts(app):
    """Create accounts through the real service: ``accounts(kind=..., ...)`` returns the account's id and sub."""

    def create(**fields):
        fields.setdefault("kind", "citizen")
        fields.setdefault("full_name", "Nguyễn Thị Hoa")
        if fields["kind"] == "citizen":
            fields.setdefault("citizen_id", "096301001234")
        fields.setdefault("password", PASSWORD)
        fields.setdefault("email_verified", True)
        with app.app_context():
            account = app.extensions["idp.accounts"].create(NewAccount(**fields), now=app.config["CLOCK"]())
            return {"id": account.id, "sub": account.sub, "password": fields["password"]}

    return create


CSRF_RE = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def csrf_token(client, path: str) -> str:
    response = client.get(path)
    match = CSRF_RE.search(response.get_data(as_text=True))
    assert match, f"no CSRF token on {path} ({response.status_code})"
    return match.group(1)


def post_form(client, path: str, data: dict, **kwargs):
    return client.post(path, data={"csrf_token": csrf_token(client, path), **data}, **kwargs)


def login(client, identifier: str, password: str = PASSWORD, **kwargs):
    return post_form(client, "/login", {"identifier": identifier, "password": password}, **kwargs)


class Mailbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted"

    def last_link(self, path_prefix: str) -> str:
        body = self.messages[-1].get_body().get_content()
        match = re.search(r"https?://\S+(" + re.escape(path_prefix) + r"\S+)", body)
        assert match, body
        return match.group(1)


def at_once(app, job, count: int = 2) -> tuple[list, list]:
    """Run ``job()`` in ``count`` threads at the same time, each in its own application context (and so
    on its own database connection); the results and the exceptions, in completion order."""
    import threading
    results, failures, lock = [], [], threading.Lock()

    def run():
        try:
            with app.app_context():
                result = job()
            with lock:
                results.append(result)
        except Exception as exc:  # noqa: BLE001 - handed to the test
            with lock:
                failures.append(exc)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results, failures


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(process, base: str, log_tail, timeout: float = 60) -> None:
    """Wait until a started server answers ``/healthz``; fail with ``log_tail()`` when it exits or does not."""
    import requests
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            pytest.fail(f"server exited with {process.returncode}:\n{log_tail()}")
        try:
            if requests.get(base + "/healthz", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"server did not answer /healthz within {timeout}s:\n{log_tail()}")
        time.sleep(0.2)


@pytest.fixture
def smtp():
    """A real SMTP server on loopback (aiosmtpd) collecting what the app sends."""
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    mailbox.url = f"smtp://127.0.0.1:{controller.port}"
    yield mailbox
    controller.stop()


@pytest.fixture
def mail_app(make_app, smtp):
    return make_app(IDP_SMTP_URL=smtp.url)


@contextlib.contextmanager
def live_database(name: str):
    """Environment for a separately started server: its own PostgreSQL database when the suite runs
    on PostgreSQL (created now, dropped after), else the server's embedded SQLite default."""
    if not PG_URL:
        yield {"IDP_DATABASE_URL": "", "IDP_MASTER_KEY": ""}
        return
    import psycopg
    from sqlalchemy.engine import make_url

    base = make_url(_pg_url(PG_URL))
    database = f"motid_{name}"
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)

    def run(statement):
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(statement)

    run(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    run(f'CREATE DATABASE "{database}"')
    try:
        yield {"IDP_DATABASE_URL": base.set(database=database).render_as_string(hide_password=False),
               "IDP_MASTER_KEY": Fernet.generate_key().decode()}
    finally:
        run(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
