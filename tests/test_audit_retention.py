"""The audit log's own retention (IDP_AUDIT_RETENTION_DAYS): old events go, each lane's newest stays, and
``idp audit verify`` still checks the rest, and still catches tampering around a purge."""
from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select, update

from idp import events
from idp.db import db
from idp.events import AuditCheckpoint, AuditEvent


def write_events(app, clock, count: int, *, lanes=(0, 1, 2)):
    """``count`` events, spread over ``lanes`` (as several processes would), one a minute."""
    with app.app_context():
        for index in range(count):
            app.extensions["idp.audit_lane"] = lanes[index % len(lanes)]
            events.record("account:login:failure", details={"reason": "unknown", "n": index}, now=clock())
            db.session.commit()
            clock.advance(minutes=1)


def verify(runner, *args):
    return runner.invoke(args=["audit", "verify", *args])


def ids(app) -> list[int]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent.id).order_by(AuditEvent.id)))


@pytest.fixture
def purged(make_app, clock):
    """30 old events, a year passes, 6 new ones; then a purge with 90 days' retention, 4 rows a batch."""
    app = make_app(IDP_AUDIT_RETENTION_DAYS=90)
    write_events(app, clock, 30)
    old = ids(app)
    clock.advance(days=365)
    write_events(app, clock, 6, lanes=(0, 1))
    result = app.test_cli_runner().invoke(args=["purge", "--batch", "4"])
    assert result.exit_code == 0, result.output
    return app, old, result.output


def test_old_events_go_except_each_lanes_newest_and_the_chain_verifies(purged):
    app, old, output = purged
    kept = ids(app)
    # Lane 2 wrote nothing this year: its newest old event stays (appends link to it); the rest of the old go.
    assert set(old) & set(kept) == {old[-1]}
    assert "audit_events: 29 deleted" in output
    result = verify(app.test_cli_runner())
    assert result.exit_code == 0, result.output
    assert "chain intact" in result.output and "were purged by retention" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditCheckpoint)) == 3


def test_new_events_after_a_purge_still_chain(purged, clock):
    app, _, _ = purged
    write_events(app, clock, 5, lanes=(0, 1, 2, 3))
    assert verify(app.test_cli_runner()).exit_code == 0


def test_a_forged_checkpoint_is_caught(purged):
    app, _, _ = purged
    with app.app_context():
        db.session.execute(update(AuditCheckpoint).where(AuditCheckpoint.lane == 1).values(prev_hash="0" * 64))
        db.session.commit()
    result = verify(app.test_cli_runner())
    assert result.exit_code == 1 and "checkpoint_changed" in result.output


def test_deleting_a_checkpoint_is_caught(purged):
    app, _, _ = purged
    runner = app.test_cli_runner()
    with app.app_context():
        db.session.execute(delete(AuditCheckpoint).where(AuditCheckpoint.lane == 0))
        db.session.commit()
    result = verify(runner)
    assert result.exit_code == 1 and "broken_link" in result.output


def test_deleting_an_event_above_the_checkpoint_is_caught(purged):
    app, _, _ = purged
    with app.app_context():
        first_new = db.session.scalar(select(func.min(AuditEvent.id)).where(AuditEvent.lane == 0))
        db.session.execute(delete(AuditEvent).where(AuditEvent.id == first_new))
        db.session.commit()
    result = verify(app.test_cli_runner())
    assert result.exit_code == 1 and "broken_link" in result.output


def test_emptying_a_lane_is_caught(purged):
    app, old, _ = purged
    with app.app_context():
        db.session.execute(delete(AuditEvent).where(AuditEvent.id == old[-1]))  # lane 2's kept head
        db.session.commit()
    result = verify(app.test_cli_runner())
    assert result.exit_code == 1 and "lane_emptied" in result.output


def test_kept_for_ever_by_default(make_app, clock):
    app = make_app()
    write_events(app, clock, 5)
    clock.advance(days=3650)
    assert "audit_events: 0 deleted" in app.test_cli_runner().invoke(args=["purge"]).output
    assert len(ids(app)) == 5
