"""The audit log's own retention: events older than ``IDP_AUDIT_RETENTION_DAYS`` (0, the default: kept for
ever) are deleted in batches, and the chain still verifies (``idp audit verify``).

A batch deletes a prefix of the log by id (every event up to the first one that is still within the
retention), except each lane's newest event: appends link to it (:mod:`idp.events`), and a lane that keeps
its head can never be emptied without ``verify`` noticing. In the same transaction each touched lane's
:class:`~idp.events.AuditCheckpoint` moves to the last deleted event's hash, the lane's next event's
``prev_hash``; ``through_id`` says up to which id events may be gone, so a witness of a purged event is
not reported missing. The checkpoint's HMAC is under the newest audit key: someone who can write to the
database but does not hold the master key can delete old events only by breaking a link.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, func, select

from .db import db
from .events import AuditCheckpoint, AuditEvent, AuditKey, unwrap


def checkpoint_mac(key: bytes, lane: int, prev_hash: str | None, keyed: bool, through_id: int) -> str:
    content = json.dumps(["audit-checkpoint", lane, prev_hash, keyed, through_id], separators=(",", ":"))
    return hmac.new(key, content.encode("utf-8"), hashlib.sha256).hexdigest()


def purge_audit(moment, *, batch: int = 1000) -> int:
    """Delete the events past retention; how many. Nothing when the retention is 0 (kept for ever)."""
    days = current_app.config["IDP_AUDIT_RETENTION_DAYS"]
    if not days:
        return 0
    cutoff = moment - timedelta(days=days)
    total = 0
    while True:
        deleted, more = _purge_batch(cutoff, batch, moment)
        total += deleted
        if not more:
            return total


def _purge_batch(cutoff, batch: int, moment) -> tuple[int, bool]:
    heads = set(db.session.scalars(select(func.max(AuditEvent.id)).group_by(AuditEvent.lane)))
    rows = db.session.execute(select(AuditEvent.id, AuditEvent.lane, AuditEvent.hash, AuditEvent.key_id,
                                     AuditEvent.created_at).order_by(AuditEvent.id).limit(batch + len(heads))).all()
    doomed, through, reached = [], None, False
    for row in rows:
        if row.created_at >= cutoff:
            reached = True  # the rest is within the retention
            break
        through = row.id
        if row.id not in heads:
            doomed.append(row)
    if not doomed:
        db.session.rollback()
        return 0, False
    key_id, wrapped = db.session.execute(select(AuditKey.id, AuditKey.wrapped).order_by(AuditKey.id.desc())
                                         .limit(1)).one()
    key = unwrap(wrapped)
    through = max([through] + list(db.session.scalars(select(AuditCheckpoint.through_id))))
    last_of_lane = {row.lane: row for row in doomed}  # in id order: the last one wins
    for lane, row in last_of_lane.items():
        checkpoint = db.session.get(AuditCheckpoint, lane)
        keyed = row.key_id is not None or bool(checkpoint and checkpoint.keyed)
        values = {"prev_hash": row.hash, "keyed": keyed, "through_id": through, "key_id": key_id,
                  "mac": checkpoint_mac(key, lane, row.hash, keyed, through), "purged_at": moment}
        if checkpoint is None:
            db.session.add(AuditCheckpoint(lane=lane, **values))
        else:
            for name, value in values.items():
                setattr(checkpoint, name, value)
    db.session.flush()
    db.session.execute(delete(AuditEvent).where(AuditEvent.id.in_([row.id for row in doomed])))
    db.session.commit()
    return len(doomed), not reached and len(rows) == batch + len(heads)
