"""The audit log: keyed hash chain (append-only, tampering and deletion detected by ``idp audit verify``,
safe under concurrent writers), filters, paging and CSV export. The attacker's side of the keyed chain
(raw SQL, SHA-256 recomputed, rows from before the key) is in tests/security/test_audit_chain.py."""
from __future__ import annotations

import csv
import io
import threading

from sqlalchemy import delete, func, select, text, update

from idp import events
from idp.admin.audit import verify
from idp.db import db
from idp.events import GENESIS, AuditEvent, AuditKey, chain_hash

API = "/admin/api/v1"


def write(app, n, tag="test:event:write", **details):
    with app.app_context():
        for i in range(n):
            events.record(tag, details={"i": i, **details}, now=app.config["CLOCK"]())
            db.session.commit()


def ids(app):
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent.id).order_by(AuditEvent.id)))


def audit_key(app) -> bytes:
    """The audit key, as only the application (holding the master key) can read it."""
    with app.app_context():
        return events.unwrap(db.session.scalars(select(AuditKey.wrapped)).one())


def test_each_event_names_the_hash_of_the_one_before(app):
    write(app, 3)
    key = audit_key(app)
    with app.app_context():
        rows = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        assert rows[0].prev_hash == GENESIS
        assert {row.key_id for row in rows} == {db.session.scalar(select(AuditKey.id))}
        for before, after in zip(rows, rows[1:]):
            assert after.prev_hash == before.hash == chain_hash(before.prev_hash, before, key)
            assert before.hash != chain_hash(before.prev_hash, before)  # keyed, not plain SHA-256
        result = verify()
        assert result.ok and result.checked == 3 and result.head_id == rows[-1].id


def test_the_key_is_stored_encrypted_and_created_once(app):
    write(app, 2)
    with app.app_context():
        (stored,) = db.session.scalars(select(AuditKey)).all()
        key = audit_key(app)
        assert key.hex() not in stored.wrapped and len(key) == 32


def test_several_events_in_one_transaction_chain_in_order(app):
    with app.app_context():
        for i in range(3):
            events.record("test:event:batch", details={"i": i}, now=app.config["CLOCK"]())
        db.session.commit()
        assert verify().ok


def test_a_changed_row_is_detected(app, runner):
    write(app, 5)
    with app.app_context():
        target = ids(app)[2]
        db.session.execute(update(AuditEvent).where(AuditEvent.id == target).values(tag="test:event:innocent"))
        db.session.commit()
        result = verify()
    assert (target, "content_changed") in result.problems
    cli = runner.invoke(args=["audit", "verify"])
    assert cli.exit_code == 1 and f"event {target}: content_changed" in cli.output


def test_a_deleted_row_is_detected(app, runner):
    write(app, 5)
    middle = ids(app)[2]
    with app.app_context():
        db.session.execute(delete(AuditEvent).where(AuditEvent.id == middle))
        db.session.commit()
        result = verify()
    assert result.problems == [(middle + 1, "broken_link")]


def test_a_row_rewritten_with_a_recomputed_hash_breaks_the_next_link(app):
    """Even someone holding the key (the application itself) who rewrites one row and recomputes only its
    hash is caught by the next row's link."""
    write(app, 4)
    second = ids(app)[1]
    key = audit_key(app)
    with app.app_context():
        row = db.session.get(AuditEvent, second)
        row.details = {"i": 99}
        row.hash = chain_hash(row.prev_hash, row, key)
        db.session.commit()
        assert verify().problems == [(second + 1, "broken_link")]


def test_cutting_off_the_newest_rows_is_caught_against_an_anchor(app, runner):
    write(app, 4)
    ok = runner.invoke(args=["audit", "verify"])
    assert ok.exit_code == 0 and "chain intact" in ok.output
    head = ok.output.split("head: ", 1)[1].split()[0]
    with app.app_context():
        db.session.execute(delete(AuditEvent).where(AuditEvent.id == ids(app)[-1]))
        db.session.commit()
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0  # undetectable without an anchor
    result = runner.invoke(args=["audit", "verify", "--anchor", head])
    assert result.exit_code == 1 and "anchor_missing" in result.output


def test_rows_from_before_the_chain_are_counted_not_failed(app):
    with app.app_context():
        db.session.add(AuditEvent(tag="old:event:row", details={}, created_at=app.config["CLOCK"]()))
        db.session.commit()
    write(app, 2)
    with app.app_context():
        result = verify()
    assert result.ok and result.unchained == 1 and result.checked == 2 and result.legacy == 0


def test_concurrent_writers_extend_one_chain(make_app):
    """Several processes' worth of connections appending at once never fork the chain."""
    apps = [make_app() for _ in range(4)]
    errors = []

    def worker(app, n):
        try:
            write(app, 15, tag="test:event:race", worker=n)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(app, n)) for n, app in enumerate(apps)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    with apps[0].app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 60
        result = verify()
        assert result.ok, result.problems
        hashes = db.session.scalars(select(AuditEvent.prev_hash)).all()
        assert len(set(hashes)) == 60  # no two events claim the same predecessor


def test_the_chain_lock_is_taken_inside_the_transaction(app):
    """On PostgreSQL the advisory lock is held until commit; on SQLite the write lock is."""
    with app.app_context():
        events.record("test:event:lock", now=app.config["CLOCK"]())
        if db.engine.dialect.name == "postgresql":
            held = db.session.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                           "AND pid = pg_backend_pid()")).scalar()
            assert held == 1
        else:
            assert db.session.connection().connection.dbapi_connection.in_transaction
        db.session.commit()


# -- reading ----------------------------------------------------------------------------------------------------
def test_filters_and_paging(app, world, token, clock):
    write(app, 3, tag="test:event:a")
    clock.advance(days=2)
    write(app, 2, tag="test:event:b", client_id="app-1")
    client, headers = app.test_client(), token("auditor", "admin:audit")
    by_tag = client.get(f"{API}/audit/events?tag=test:event:a", headers=headers).json["items"]
    assert [e["tag"] for e in by_tag] == ["test:event:a"] * 3
    prefix = client.get(f"{API}/audit/events?tag=test:event:&limit=2", headers=headers)
    assert len(prefix.json["items"]) == 2 and prefix.json["next_cursor"]
    by_client = client.get(f"{API}/audit/events?client_id=app-1", headers=headers).json["items"]
    assert len(by_client) == 2
    since = (clock.now.replace(microsecond=0)).isoformat()
    recent = client.get(f"{API}/audit/events", query_string={"since": since, "tag": "test:event:"},
                        headers=headers).json["items"]
    assert {e["tag"] for e in recent} == {"test:event:b"}
    officer = world.people["an_phu_officer"]["sub"]
    client.post(f"{API}/accounts/{officer}/end-sessions", headers=token("province"))
    mine = client.get(f"{API}/audit/events?account={officer}", headers=headers).json["items"]
    assert mine and all(officer in (e["actor"], e["subject"]) for e in mine)
    naive = client.get(f"{API}/audit/events?since=2026-01-01T00:00:00", headers=headers)
    assert naive.status_code == 400


def test_filter_by_ip(app, world, token):
    app.test_client().get(f"{API}/accounts", headers=token("province", scope="openid"),
                          environ_base={"REMOTE_ADDR": "203.0.113.9"})
    rows = app.test_client().get(f"{API}/audit/events?ip=203.0.113.9", headers=token("auditor", "admin:audit"))
    assert [e["tag"] for e in rows.json["items"]] == ["admin:request:refuse"]


def test_csv_export_is_recorded_and_safe_for_spreadsheets(app, world, token):
    write(app, 2, tag="test:event:csv", note="=HYPERLINK(\"x\")")
    response = app.test_client().get(f"{API}/audit/events.csv?tag=test:event:csv", headers=token("auditor",
                                                                                                "admin:audit"))
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][:3] == ["id", "created_at", "tag"] and len(rows) == 3
    assert all(not cell.startswith("=") for row in rows for cell in row)
    with app.app_context():
        assert db.session.scalars(select(AuditEvent).where(AuditEvent.tag == "admin:audit:export")).one()
        assert verify().ok


def test_console_audit_page_and_export(app, world, browser):
    b = browser("auditor")
    write(app, 2, tag="test:event:page")
    page = b.get("/admin/audit?tag=test:event:page").get_data(as_text=True)
    assert page.count("test:event:page") >= 2
    export = b.get("/admin/audit/export.csv?tag=test:event:page")
    assert export.status_code == 200 and export.get_data(as_text=True).count("test:event:page") == 2
