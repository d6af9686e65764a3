"""Issue 11, item 12: the audit chain is keyed, so someone who can write to the database (not the
master key) cannot rewrite history.

The attacker works with raw SQL on the database and knows the code: the hash was SHA-256 over the previous
hash and the row's fields, so they edit a row and recompute every later hash. ``idp audit verify`` must
catch that, and the other ways round the key: passing keyed rows off as rows from before the key, deleting
or replacing the key. Rows written before the key (plain SHA-256) still verify, sealed by the first keyed
row; a master-key rotation keeps the chain verifiable.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from idp import events
from idp.db import db

GENESIS = "0" * 64


def write(app, n, tag="admin:client:rotate_secret", **details):
    with app.app_context():
        for i in range(n):
            events.record(tag, details={"client_id": f"app-{i}", **details}, now=app.config["CLOCK"]())
            db.session.commit()


# -- the attacker's tools: raw SQL and the published SHA-256 chain ------------------------------------------------
def sha256_chain(prev_hash: str, row) -> str:
    """The chain as the code published it before the key (idp/events.py at issue 11), reimplemented."""
    created = row.created_at if isinstance(row.created_at, datetime) else datetime.fromisoformat(row.created_at)
    details = json.loads(row.details) if isinstance(row.details, str) else row.details
    content = [prev_hash, created.replace(tzinfo=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), row.tag,
               row.actor_id, row.subject_id, row.client_id, row.ip, row.user_agent, details]
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def raw_rows(conn) -> list[SimpleNamespace]:
    return [SimpleNamespace(**row._mapping) for row in conn.execute(text(
        "SELECT id, created_at, tag, actor_id, subject_id, client_id, ip, user_agent, details, prev_hash, hash "
        "FROM audit_events ORDER BY id"))]


def with_details(row: SimpleNamespace, details) -> SimpleNamespace:
    return SimpleNamespace(**{**vars(row), "details": details})


def rewrite(app, *, edit: dict[int, dict], start_at: int | None = None, extra_sql: str = "", unkey_from=None):
    """Change the details of the rows in ``edit`` and recompute, with SHA-256, every hash from the first
    edited row (or ``start_at``) to the end, relinking ``prev_hash``: all in raw SQL. ``unkey_from``: also
    mark the rows from that id on as written before the key (``key_id`` NULL)."""
    with app.app_context(), db.engine.begin() as conn:
        if extra_sql:
            conn.execute(text(extra_sql))
        first = start_at if start_at is not None else min(edit)
        previous = GENESIS
        for row in raw_rows(conn):
            if row.id < first:
                previous = row.hash
                continue
            details = edit.get(row.id, json.loads(row.details) if isinstance(row.details, str) else row.details)
            forged = with_details(row, details)
            new_hash = sha256_chain(previous, forged)
            conn.execute(text("UPDATE audit_events SET details = :details, prev_hash = :prev, hash = :hash "
                              "WHERE id = :id"),
                         {"details": json.dumps(details), "prev": previous, "hash": new_hash, "id": row.id})
            if unkey_from is not None and row.id >= unkey_from:
                conn.execute(text("UPDATE audit_events SET key_id = NULL WHERE id = :id"), {"id": row.id})
            previous = new_hash


def verify_cli(runner):
    result = runner.invoke(args=["audit", "verify"])
    return result.exit_code, result.output


# -- the attacks -------------------------------------------------------------------------------------------------
def test_a_row_edited_and_every_later_hash_recomputed_with_sha256_is_caught(app, runner):
    write(app, 6)
    assert verify_cli(runner)[0] == 0
    rewrite(app, edit={3: {"client_id": "app-2", "note": "nothing happened here"}})
    code, output = verify_cli(runner)
    assert code == 1 and "event 3: content_changed" in output
    assert "chain intact" not in output


def test_keyed_rows_passed_off_as_rows_from_before_the_key_are_caught(app, runner):
    """Rewrite the whole log as an unkeyed SHA-256 chain and drop the key: nothing keyed is left."""
    write(app, 5)
    rewrite(app, edit={2: {"client_id": "app-1", "note": "rewritten"}}, start_at=1, unkey_from=1,
            extra_sql="DELETE FROM audit_keys")
    code, output = verify_cli(runner)
    assert code == 1 and "event 5: unsealed" in output and "no event is keyed" in output


def test_unkeyed_rows_after_keyed_ones_are_caught(app, runner):
    write(app, 5)
    rewrite(app, edit={4: {"client_id": "app-3", "note": "rewritten"}}, unkey_from=4)
    code, output = verify_cli(runner)
    assert code == 1 and "event 4: unkeyed" in output and "event 5: unkeyed" in output


def test_deleting_or_replacing_the_key_is_caught(app, runner):
    write(app, 3)
    with app.app_context(), db.engine.begin() as conn:
        # A key of the attacker's own, encrypted under a key of theirs, in place of the real one.
        conn.execute(text("UPDATE audit_keys SET wrapped = :w"),
                     {"w": Fernet(Fernet.generate_key()).encrypt(b"k" * 32).decode()})
    code, output = verify_cli(runner)
    assert code == 1 and "event 1: key_unreadable" in output
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_keys"))
    code, output = verify_cli(runner)
    assert code == 1 and "event 1: unknown_key" in output


# -- rows from before the key ------------------------------------------------------------------------------------
def write_legacy(app, n):
    """Rows as the code before migration 0010 wrote them: SHA-256, no key."""
    from idp.events import AuditEvent, chain_hash
    with app.app_context():
        previous = GENESIS
        for i in range(n):
            row = AuditEvent(tag="account:login:success", details={"i": i}, created_at=app.config["CLOCK"]())
            row.prev_hash = previous
            row.hash = previous = chain_hash(previous, row)
            db.session.add(row)
            db.session.commit()


def test_rows_from_before_the_key_verify_and_the_first_keyed_row_seals_them(app, runner):
    write_legacy(app, 4)
    code, output = verify_cli(runner)
    assert code == 1 and "event 4: unsealed" in output  # until an event is written after the upgrade
    write(app, 2)
    code, output = verify_cli(runner)
    assert code == 0 and "checked 6 events (4 with SHA-256" in output and "chain intact" in output

    # Rewriting a row from before the key, and its successors up to the key, breaks the seal.
    with app.app_context(), db.engine.begin() as conn:
        keyed = conn.execute(text("SELECT min(id) FROM audit_events WHERE key_id IS NOT NULL")).scalar()
    rewrite(app, edit={2: {"i": 99}}, start_at=1)  # the attacker recomputes everything, keyed rows too
    code, output = verify_cli(runner)
    assert code == 1 and f"event {keyed}: content_changed" in output


def test_rewriting_only_the_rows_before_the_key_breaks_the_first_keyed_link(app, runner):
    write_legacy(app, 3)
    write(app, 1)
    with app.app_context(), db.engine.begin() as conn:
        rows = raw_rows(conn)
        previous = GENESIS
        for row in rows[:3]:
            details = {"i": 42} if row.id == 2 else json.loads(row.details) if isinstance(row.details, str) \
                else row.details
            new_hash = sha256_chain(previous, with_details(row, details))
            conn.execute(text("UPDATE audit_events SET details = :d, prev_hash = :p, hash = :h WHERE id = :id"),
                         {"d": json.dumps(details), "p": previous, "h": new_hash, "id": row.id})
            previous = new_hash
    code, output = verify_cli(runner)
    assert code == 1 and "event 4: broken_link" in output


# -- the master key rotates --------------------------------------------------------------------------------------
def test_the_chain_survives_a_master_key_rotation(make_app, config):
    first = make_app()
    write(first, 3)
    new = Fernet.generate_key().decode()
    rotated = make_app(IDP_MASTER_KEY=f"{new},{config['IDP_MASTER_KEY']}")  # new key first, old kept
    write(rotated, 2)
    from idp.admin.audit import verify
    with rotated.app_context():
        result = verify()
        assert result.ok and result.checked == 5
        assert db.session.execute(text("SELECT count(*) FROM audit_keys")).scalar() == 1
    dropped = make_app(IDP_MASTER_KEY=new)  # the old master key removed too early
    with dropped.app_context():
        assert {kind for _, kind in verify().problems} == {"key_unreadable"}
        with pytest.raises(events.AuditKeyUnreadable):
            events.record("test:event:write", now=dropped.config["CLOCK"]())
        db.session.rollback()
