"""Reading the audit log (filters, keyset paging, CSV export) and verifying its hash chain."""
from __future__ import annotations

import csv
import hmac
import io
import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import or_, select

from .. import events
from ..accounts.models import Account
from ..clock import now
from ..db import db
from ..audit_purge import checkpoint_mac
from ..events import AuditCheckpoint, AuditEvent, AuditKey, chain_hash, genesis
from .authz import Actor, require

EXPORT_LIMIT = 100_000
CSV_COLUMNS = ("id", "created_at", "tag", "actor", "subject", "client_id", "ip", "user_agent", "details", "hash")


@dataclass
class AuditQuery:
    tag: str | None = None  # exact, or a prefix ending in ":" (e.g. "account:login:")
    account: str | None = None  # sub: as actor or as subject
    client_id: str | None = None
    ip: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 50
    after: int | None = None


def statement(query: AuditQuery):
    stmt = select(AuditEvent)
    if query.tag:
        tag = query.tag[:80]
        if tag.endswith(":"):
            escaped = tag.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            stmt = stmt.where(AuditEvent.tag.like(escaped + "%", escape="\\"))
        else:
            stmt = stmt.where(AuditEvent.tag == tag)
    if query.account:
        account_id = db.session.scalar(select(Account.id).where(Account.sub == query.account[:64]))
        stmt = stmt.where(or_(AuditEvent.actor_id == account_id, AuditEvent.subject_id == account_id))
    if query.client_id:
        stmt = stmt.where(AuditEvent.client_id == query.client_id[:64])
    if query.ip:
        stmt = stmt.where(AuditEvent.ip == query.ip[:45])
    if query.since:
        stmt = stmt.where(AuditEvent.created_at >= query.since)
    if query.until:
        stmt = stmt.where(AuditEvent.created_at < query.until)
    if query.after is not None:
        stmt = stmt.where(AuditEvent.id < query.after)
    return stmt.order_by(AuditEvent.id.desc())


def search(actor: Actor, query: AuditQuery) -> tuple[list[AuditEvent], int | None]:
    require(actor, "audit.read", "audit.read")
    rows = list(db.session.scalars(statement(query).limit(query.limit + 1)))
    more = len(rows) > query.limit
    rows = rows[:query.limit]
    return rows, (rows[-1].id if more and rows else None)


def subs_of(rows) -> dict[int, str]:
    ids = {r.actor_id for r in rows} | {r.subject_id for r in rows}
    ids.discard(None)
    if not ids:
        return {}
    return dict(db.session.execute(select(Account.id, Account.sub).where(Account.id.in_(ids))).all())


def represent(event: AuditEvent, subs: dict[int, str]) -> dict:
    return {"id": event.id, "created_at": event.created_at.isoformat(), "tag": event.tag,
            "actor": subs.get(event.actor_id), "subject": subs.get(event.subject_id), "client_id": event.client_id,
            "ip": event.ip, "user_agent": event.user_agent, "details": event.details, "hash": event.hash}


def _cell(value) -> str:
    """CSV cells that a spreadsheet would run as a formula are quoted with a leading apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def export_csv(actor: Actor, query: AuditQuery):
    """The matching events as CSV text chunks (at most EXPORT_LIMIT rows); the export itself is recorded."""
    require(actor, "audit.read", "audit.export")
    events.record("admin:audit:export", actor=actor.account_id,
                  details={"filters": {k: (v.isoformat() if isinstance(v, datetime) else v)
                                       for k, v in vars(query).items() if v not in (None, "") and k != "limit"},
                           **({"client_id": actor.client_id} if actor.client_id else {})}, now=now())
    db.session.commit()
    stmt = statement(query).limit(EXPORT_LIMIT)

    def chunks():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        batch = []
        for event in db.session.scalars(stmt.execution_options(yield_per=1000)):
            batch.append(event)
            if len(batch) == 1000:
                yield from _write(batch, writer, buffer)
                batch = []
        yield from _write(batch, writer, buffer)

    def _write(batch, writer, buffer):
        subs = subs_of(batch)
        for e in batch:
            row = represent(e, subs)
            row["details"] = json.dumps(row["details"], ensure_ascii=False, sort_keys=True)
            writer.writerow([_cell(row[c]) for c in CSV_COLUMNS])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()

    return chunks()


# -- the chain -----------------------------------------------------------------------------------------
@dataclass
class Verification:
    checked: int = 0
    unchained: int = 0  # events written before the chain existed (migration 0006)
    legacy: int = 0  # events chained with plain SHA-256, before the chain was keyed (migration 0010)
    problems: list = None
    head_id: int | None = None  # the newest event, whatever its lane
    head_hash: str | None = None
    heads: dict = field(default_factory=dict)  # lane → (id, hash) of its newest event: the anchors to note
    purged_through: int | None = None  # events up to this id may have been purged (idp.audit_purge)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class _Lane:
    previous: str | None = None  # the hash of its last chained event
    keyed: bool = False
    last_id: int | None = None


def _keys() -> dict[int, bytes | None]:
    """Every audit key, decrypted; None for one the master key cannot open."""
    keys = {}
    for row in db.session.scalars(select(AuditKey)):
        try:
            keys[row.id] = events.unwrap(row.wrapped)
        except events.AuditKeyUnreadable:
            keys[row.id] = None
    return keys


def verify(*, batch: int = 5000, anchors: dict[int, str] | None = None, limit_problems: int = 20) -> Verification:
    """Walk the whole log in id order, each lane as its own chain: every hash must recompute and name its
    predecessor's in the lane (the first, ``genesis(lane)``), and every witnessed event must still be there
    with the hash that was seen.

    A changed row fails its own HMAC; a deleted row breaks its successor's ``prev_hash`` in the lane, or
    the witness of a later event in another lane; a row inserted by hand has no valid link; a row moved
    to another lane fails its HMAC (the lane is covered). Without the master key nobody can compute an
    HMAC, so a rewritten row cannot be given a hash that verifies, nor can a keyed row be passed off as
    one from before the key (SHA-256 rows are accepted only in lane 0 before its first keyed row, and a
    lane 0 that has rows must have keyed ones). Cutting off the newest rows is caught only against an
    anchor noted elsewhere (``anchors``: id → hash, e.g. the heads of an earlier run)."""
    result = Verification(problems=[])
    anchors = dict(anchors or {})
    keys = _keys()
    lanes, floor = _checkpoints(result, keys, limit_problems)
    purged_lanes = set(lanes)
    last_id = 0
    while True:
        rows = list(db.session.scalars(select(AuditEvent).where(AuditEvent.id > last_id)
                                       .order_by(AuditEvent.id).limit(batch)))
        if not rows:
            break
        witnessed = _hashes({row.witness_id for row in rows if row.witness_id is not None})
        for row in rows:
            last_id = row.id
            chained = _check_row(result, lanes.setdefault(row.lane, _Lane()), row, keys, witnessed, limit_problems,
                                 floor)
            purged_lanes.discard(row.lane)
            if chained and row.id in anchors and anchors.pop(row.id) != row.hash:
                _problem(result, row.id, "anchor_mismatch", limit_problems)
        db.session.expunge_all()
    zero = lanes.get(0)
    if zero and not zero.keyed:
        # Rows in lane 0, none keyed: a log from before 0010 that no event has sealed yet, or keyed rows
        # rewritten as SHA-256 ones. Any new event seals it (new events go to lane 0 until it is sealed).
        _problem(result, zero.last_id, "unsealed", limit_problems)
    for anchor_id in anchors:
        _problem(result, anchor_id, "anchor_missing", limit_problems)
    for lane in sorted(purged_lanes):  # a purge keeps every lane's newest event: this one's were deleted
        _problem(result, floor, "lane_emptied", limit_problems)
    return result


def _checkpoints(result: Verification, keys: dict, limit: int) -> tuple[dict, int]:
    """Where each purged lane starts (:mod:`idp.audit_purge`), each checkpoint's HMAC checked, and the id
    through which events may have been purged (0 when none were)."""
    lanes, floor = {}, 0
    for checkpoint in db.session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.lane)):
        key = keys.get(checkpoint.key_id)
        if key is None or not hmac.compare_digest(checkpoint.mac, checkpoint_mac(
                key, checkpoint.lane, checkpoint.prev_hash, checkpoint.keyed, checkpoint.through_id)):
            _problem(result, checkpoint.through_id, "checkpoint_changed", limit)
        lanes[checkpoint.lane] = _Lane(previous=checkpoint.prev_hash, keyed=checkpoint.keyed)
        floor = max(floor, checkpoint.through_id)
    result.purged_through = floor or None
    return lanes, floor


def _hashes(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(db.session.execute(select(AuditEvent.id, AuditEvent.hash).where(AuditEvent.id.in_(ids))).all())


def _check_row(result: Verification, lane: _Lane, row: AuditEvent, keys: dict, witnessed: dict, limit: int,
               floor: int = 0) -> bool:
    """Check one event against its lane so far; False for an event from before the chain."""
    lane.last_id = row.id
    if row.hash is None:
        if lane.previous is not None or row.lane != 0:
            _problem(result, row.id, "missing_hash", limit)
        else:
            result.unchained += 1
        return False
    if row.prev_hash != (lane.previous or genesis(row.lane)):
        _problem(result, row.id, "broken_link", limit)
    _check_content(result, row, keys, lane.keyed or row.lane != 0, limit)  # only lane 0 predates the key
    purged = row.witness_id is not None and row.witness_id <= floor and row.witness_id not in witnessed
    if row.witness_id is not None and not purged and witnessed.get(row.witness_id) != row.witness_hash:
        _problem(result, row.id, "witness_missing" if row.witness_id not in witnessed else "witness_changed",
                 limit)
    lane.keyed = lane.keyed or row.key_id is not None
    lane.previous = row.hash
    result.checked += 1
    result.head_id, result.head_hash = row.id, row.hash
    result.heads[row.lane] = (row.id, row.hash)
    return True


def _check_content(result: Verification, row: AuditEvent, keys: dict, keyed: bool, limit: int) -> None:
    if row.key_id is None:
        if keyed:
            _problem(result, row.id, "unkeyed", limit)  # after the first keyed row, every row is keyed
        elif chain_hash(row.prev_hash or "", row) != row.hash:
            _problem(result, row.id, "content_changed", limit)
        else:
            result.legacy += 1
        return
    if row.key_id not in keys:
        _problem(result, row.id, "unknown_key", limit)
    elif keys[row.key_id] is None:
        _problem(result, row.id, "key_unreadable", limit)
    elif chain_hash(row.prev_hash or "", row, keys[row.key_id]) != row.hash:
        _problem(result, row.id, "content_changed", limit)


def _problem(result: Verification, row_id: int | None, kind: str, limit: int) -> None:
    if len(result.problems) < limit:
        result.problems.append((row_id, kind))
    elif len(result.problems) == limit:
        result.problems.append((None, "more"))
