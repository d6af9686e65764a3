"""The audit chain no longer serialises writers: events go to independent lanes (idp/events.py).

From the user's side: a transaction that wrote an event and is still open (a login waiting on its own
commit) does not hold up a login on another process; many writers at once still leave a log that
``idp audit verify`` accepts; and tampering with one lane, deleting its newest event, moving rows between
lanes, or rewriting a chain written before the lanes is caught.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import threading

import pytest
from sqlalchemy import func, select, text

from idp import events
from idp.admin.audit import verify
from idp.db import db
from idp.events import GENESIS, AuditEvent, AuditKey

from ..conftest import PG_URL

postgres_only = pytest.mark.skipif(not PG_URL, reason="SQLite has one writer at a time: lanes cannot help there")


def write(app, n, tag="test:event:lane", **details):
    with app.app_context():
        for i in range(n):
            events.record(tag, details={"i": i, **details}, now=app.config["CLOCK"]())
            db.session.commit()


def as_process_on_lane(app, lane):
    """An app that behaves as a process whose last lane was ``lane`` (as if its pid had picked it)."""
    app.extensions["idp.audit_lane"] = lane
    return app


def lanes_of(app) -> dict[int, list[int]]:
    with app.app_context():
        found: dict[int, list[int]] = {}
        for row_id, lane in db.session.execute(select(AuditEvent.id, AuditEvent.lane).order_by(AuditEvent.id)):
            found.setdefault(lane, []).append(row_id)
        return found


def verify_cli(runner, *anchors):
    result = runner.invoke(args=["audit", "verify", *[a for anchor in anchors for a in ("--anchor", anchor)]])
    return result.exit_code, result.output


# -- writers do not wait for each other ----------------------------------------------------------------
@postgres_only
def test_an_open_transaction_does_not_hold_up_another_writer(make_app):
    """Before lanes, the second writer waited on the advisory lock until the first committed: with a
    2-second lock_timeout it failed instead of waiting; now it commits while the first stays open."""
    first, second = make_app(), make_app()
    write(first, 1)  # the key exists and lane 0 is sealed: writers may spread over the lanes
    with first.app_context():
        held = events.record("account:login:success", details={"who": "first"}, now=first.config["CLOCK"]())
        db.session.flush()
        with second.app_context():
            db.session.execute(text("SET LOCAL lock_timeout = '2s'"))
            other = events.record("account:login:success", details={"who": "second"},
                                  now=second.config["CLOCK"]())
            db.session.commit()
            assert other.lane != held.lane
        db.session.commit()
        assert verify().ok


@postgres_only
def test_writers_that_all_hold_their_transaction_open_at_once_each_get_a_lane(make_app):
    """Every writer appends, then waits for all the others to have appended too before committing: with
    one chain lock the second writer would wait for the first's commit and the barrier would time out."""
    apps = [make_app() for _ in range(6)]
    write(apps[0], 1)
    rounds, errors = 5, []
    barrier = threading.Barrier(len(apps))

    def worker(app, n):
        try:
            with app.app_context():
                for i in range(rounds):
                    db.session.execute(text("SET LOCAL lock_timeout = '5s'"))
                    events.record("test:event:race", details={"worker": n, "i": i}, now=app.config["CLOCK"]())
                    barrier.wait(timeout=20)
                    db.session.commit()
        except Exception as exc:  # pragma: no cover - reported below
            barrier.abort()
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(app, n)) for n, app in enumerate(apps)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert len(lanes_of(apps[0])) >= len(apps)
    with apps[0].app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 1 + rounds * len(apps)
        result = verify()
        assert result.ok, result.problems
        assert result.checked == 1 + rounds * len(apps) and len(result.heads) >= len(apps)


def test_many_concurrent_writers_leave_a_log_that_verifies(make_app):
    apps = [make_app() for _ in range(4)]
    write(apps[0], 1)
    errors = []

    def worker(app, n):
        try:
            for batch in range(5):
                with app.app_context():  # a new request each time: events, then one commit
                    for i in range(3):
                        events.record("test:event:burst", details={"worker": n, "batch": batch, "i": i},
                                      now=app.config["CLOCK"]())
                    db.session.commit()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(app, n)) for n, app in enumerate(apps)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    with apps[0].app_context():
        result = verify()
        assert result.ok, result.problems
        assert result.checked == 61
        # One transaction's events stay together, in one lane.
        lanes: dict[tuple, set] = {}
        for row in db.session.scalars(select(AuditEvent).where(AuditEvent.tag == "test:event:burst")):
            lanes.setdefault((row.details["worker"], row.details["batch"]), set()).add(row.lane)
        assert len(lanes) == 20 and all(len(found) == 1 for found in lanes.values())


def test_one_transaction_keeps_one_lane_and_one_lock(make_app):
    app = make_app()
    write(app, 1)
    with app.app_context():
        written = [events.record("test:event:batch", details={"i": i}, now=app.config["CLOCK"]()) for i in range(3)]
        assert len({event.lane for event in written}) == 1
        if db.engine.dialect.name == "postgresql":
            held = db.session.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                           "AND pid = pg_backend_pid()")).scalar()
            assert held == 1
        db.session.commit()
        assert verify().ok


# -- what verify catches in a log with several lanes ---------------------------------------------------
@pytest.fixture
def two_lanes(make_app):
    """Lane 0: events 1, 2, 3, 7, 8; lane 5 (another process): events 4, 5, 6."""
    zero, five = make_app(), make_app()
    write(zero, 3)
    write(as_process_on_lane(five, 5), 3)
    write(zero, 2)
    assert lanes_of(zero) == {0: [1, 2, 3, 7, 8], 5: [4, 5, 6]}
    return zero


def raw(app, sql, **params):
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(text(sql), params)


def test_lanes_verify_and_every_head_is_printed(two_lanes, runner):
    code, output = verify_cli(runner)
    assert code == 0 and "checked 8 events" in output and "chain intact" in output
    heads = [line.split()[1] for line in output.splitlines() if line.startswith("head: ")]
    assert [head.split(":")[0] for head in heads] == ["8", "6"]  # newest first, one per lane
    assert "(lane 5)" in output.splitlines()[2]
    with two_lanes.app_context():
        assert db.session.get(AuditEvent, 4).prev_hash == events.genesis(5) != GENESIS


def test_a_changed_event_in_one_lane_is_caught(two_lanes, runner):
    raw(two_lanes, "UPDATE audit_events SET tag = 'test:event:innocent' WHERE id = 5")
    code, output = verify_cli(runner)
    assert code == 1 and "event 5: content_changed" in output


def test_a_deleted_event_in_one_lane_is_caught(two_lanes):
    raw(two_lanes, "DELETE FROM audit_events WHERE id = 5")
    with two_lanes.app_context():
        assert verify().problems == [(6, "broken_link")]


def test_the_newest_event_of_a_lane_deleted_is_caught_by_a_later_event_of_another_lane(two_lanes):
    """Event 7 (lane 0) witnessed event 6, lane 5's newest: deleting 6 does not go unnoticed."""
    with two_lanes.app_context():
        assert db.session.get(AuditEvent, 7).witness_id == 6
    raw(two_lanes, "DELETE FROM audit_events WHERE id = 6")
    with two_lanes.app_context():
        assert verify().problems == [(7, "witness_missing")]


def test_reordering_events_in_a_lane_is_caught(two_lanes):
    raw(two_lanes, "UPDATE audit_events SET id = 100 WHERE id = 4")
    raw(two_lanes, "UPDATE audit_events SET id = 4 WHERE id = 5")
    raw(two_lanes, "UPDATE audit_events SET id = 5 WHERE id = 100")
    with two_lanes.app_context():
        kinds = verify().problems
    assert (4, "broken_link") in kinds and (5, "broken_link") in kinds


def test_a_whole_lane_moved_to_another_lane_is_caught(two_lanes):
    """Every link inside the lane still holds, but the lane is covered by each HMAC."""
    raw(two_lanes, "UPDATE audit_events SET lane = 3 WHERE lane = 5")
    with two_lanes.app_context():
        kinds = verify().problems
    assert {(4, "broken_link"), (4, "content_changed"), (5, "content_changed"), (6, "content_changed")} <= set(kinds)


def test_an_event_inserted_into_a_lane_is_caught(two_lanes):
    """Someone with database access copies event 5's link and writes an event after it, in lane 5."""
    raw(two_lanes, "INSERT INTO audit_events (id, created_at, tag, details, prev_hash, hash, key_id, lane) "
                   "SELECT 9, created_at, 'test:event:forged', details, hash, :forged, key_id, 5 "
                   "FROM audit_events WHERE id = 6", forged="f" * 64)
    with two_lanes.app_context():
        assert verify().problems == [(9, "content_changed")]


def test_cutting_off_a_lane_is_caught_against_its_head(two_lanes, runner):
    code, output = verify_cli(runner)
    heads = [line.split()[1] for line in output.splitlines() if line.startswith("head: ")]
    raw(two_lanes, "DELETE FROM audit_events WHERE id = 8")  # lane 0's newest: nothing witnessed it
    assert verify_cli(runner)[0] == 0  # undetectable without an anchor, as with one chain
    code, output = verify_cli(runner, *heads)
    assert code == 1 and "event 8: anchor_missing" in output


def test_events_of_other_lanes_are_keyed_from_the_first(two_lanes):
    """Only lane 0 holds events from before the key: an unkeyed event anywhere else is refused."""
    with two_lanes.app_context():
        row = db.session.get(AuditEvent, 4)
        row.key_id = None
        row.hash = events.chain_hash(row.prev_hash, row)  # SHA-256, as before the key
        db.session.commit()
        assert (4, "unkeyed") in verify().problems


# -- chains written before the lanes -------------------------------------------------------------------
def hmac_before_lanes(key: bytes, row: AuditEvent) -> str:
    """The keyed chain as idp/events.py computed it before migration 0013, reimplemented."""
    content = [row.prev_hash, row.created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), row.tag, row.actor_id,
               row.subject_id, row.client_id, row.ip, row.user_agent, row.details]
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hmac.new(key, canonical.encode("utf-8"), hashlib.sha256).hexdigest()


def test_a_chain_written_before_the_lanes_still_verifies_and_continues_as_lane_0(make_app):
    zero = make_app()
    write(zero, 3)
    with zero.app_context():
        key = events.unwrap(db.session.scalars(select(AuditKey.wrapped)).one())
        rows = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        # Lane 0 without a witness is hashed exactly as the one chain was: old rows keep verifying.
        assert [row.hash for row in rows] == [hmac_before_lanes(key, row) for row in rows]
        assert rows[0].prev_hash == GENESIS and all(row.lane == 0 for row in rows)
    write(as_process_on_lane(make_app(), 9), 2)
    write(zero, 1)
    with zero.app_context():
        result = verify()
        assert result.ok and result.checked == 6 and set(result.heads) == {0, 9}


def test_until_lane_0_is_sealed_every_writer_uses_it(make_app):
    """A log from before the keyed chain is sealed by the first event after the upgrade, whichever
    process writes it: the other lanes open only after that."""
    from idp.events import chain_hash
    app = make_app()
    with app.app_context():
        previous = GENESIS
        for i in range(2):
            row = AuditEvent(tag="account:login:success", details={"i": i}, created_at=app.config["CLOCK"]())
            row.prev_hash = previous
            row.hash = previous = chain_hash(previous, row)
            db.session.add(row)
            db.session.commit()
        assert {kind for _, kind in verify().problems} == {"unsealed"}
    other = as_process_on_lane(make_app(), 7)
    write(other, 1)
    assert lanes_of(app) == {0: [1, 2, 3]}
    write(as_process_on_lane(other, 7), 1)
    assert lanes_of(app) == {0: [1, 2, 3], 7: [4]}
    with app.app_context():
        result = verify()
        assert result.ok and result.legacy == 2
