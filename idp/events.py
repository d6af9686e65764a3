"""Security events: an append-only audit log with namespaced tags (``area:object:action``).

Events are chained in ``LANES`` independent lanes: ``hash`` = HMAC-SHA256, under the audit key, over
the previous event's hash *in the same lane* and this event's content, so changing, deleting, reordering
or inserting a row breaks its lane (``idp audit verify``), and someone who can write to the database but
does not hold the master key cannot compute a hash that verifies.

Why lanes: appending must read a lane's head and insert after it with nobody in between, so it takes a
lock (PostgreSQL: a transaction-level advisory lock per lane; SQLite: the database write lock, which
serialises every writer anyway). With one chain every login in the cluster waited for the previous one's
transaction to commit; with lanes, a transaction takes the first free lane (``pg_try_advisory_xact_lock``
from the lane its process used last), so writers wait only when every lane is busy. A transaction keeps
its lane for all its events, so it holds one lane lock at most and lane locks cannot deadlock.

Lanes are bound together: each event also *witnesses* the newest event of other lanes committed since
its own lane's head (``witness_id``/``witness_hash``, covered by its HMAC), so an event deleted from the
end of one lane is caught once any later event in another lane saw it; only the newest events need an
anchor (``idp audit verify --anchor``), as with one chain. The lane, the witness and each lane's first
``prev_hash`` (``genesis(lane)``) are covered by the HMAC, so moving rows between lanes breaks them too.

The audit key is 32 random bytes kept in ``audit_keys``, encrypted under the master key (MultiFernet,
like signing keys), created by the first event that finds none; each event names it (``key_id``).
Events from before migration 0010 have no ``key_id`` and a plain SHA-256 hash, events from before
migration 0013 are all in lane 0 with no witness: they still verify in their original form. The first
keyed event in lane 0 seals the SHA-256 ones (its HMAC covers the last of their hashes); until a process
has seen lane 0 keyed, it writes to lane 0 (``_ready``), so the key is created once and the seal comes
first, as before lanes.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
from datetime import timezone

from cryptography.fernet import InvalidToken
from flask import current_app, has_request_context, request
from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, bindparam, func, select, text
from sqlalchemy.orm import Mapped, mapped_column

from . import metrics
from .db import UTCDateTime, db, utcnow

GENESIS = "0" * 64  # lane 0's first prev_hash (the one chain's, before lanes)
LANES = 16  # more lanes than writers that commit at the same instant; verify walks them all at once
CHAIN_LOCK = 7_236_041  # the advisory-lock space of the audit lanes: (CHAIN_LOCK, lane)


def genesis(lane: int) -> str:
    """The ``prev_hash`` of a lane's first event: distinct per lane, ``GENESIS`` for lane 0."""
    return format(lane, "064x")


class AuditEvent(db.Model):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_lane_id", "lane", "id"),)  # a lane's head, without a scan

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow, index=True)
    tag: Mapped[str] = mapped_column(String(80), nullable=False, index=True)
    actor_id = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True, index=True)
    subject_id = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True, index=True)
    ip = mapped_column(String(45), nullable=True, index=True)
    user_agent = mapped_column(String(300), nullable=True)
    details = mapped_column(JSON, nullable=False, default=dict)
    client_id = mapped_column(String(64), nullable=True, index=True)  # from details, for filtering
    prev_hash = mapped_column(String(64), nullable=True)  # the chain (see chain_hash); None before 0006
    hash = mapped_column(String(64), nullable=True)
    key_id = mapped_column(Integer, nullable=True)  # the AuditKey of the HMAC; None: SHA-256, before 0010
    lane: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default=text("0"))
    witness_id = mapped_column(Integer, nullable=True)  # the other lanes' newest event this one saw
    witness_hash = mapped_column(String(64), nullable=True)


class AuditCheckpoint(db.Model):
    """Where a lane starts after old events were purged (:mod:`idp.audit_purge`): the hash of the lane's last
    purged event (its next event's ``prev_hash``), whether the lane was keyed by then, and the id through
    which every lane was purged (``through_id``: a witness at or below it may be gone). ``mac`` is an HMAC
    under the audit key ``key_id`` over all of it, so a checkpoint cannot be forged to hide a deletion."""

    __tablename__ = "audit_checkpoints"

    lane: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    prev_hash = mapped_column(String(64), nullable=True)  # None: the purged events predate the chain
    keyed: Mapped[bool] = mapped_column(db.Boolean, nullable=False)
    through_id: Mapped[int] = mapped_column(Integer, nullable=False)
    key_id: Mapped[int] = mapped_column(Integer, nullable=False)
    mac: Mapped[str] = mapped_column(String(64), nullable=False)
    purged_at = mapped_column(UTCDateTime, nullable=False)


class AuditKey(db.Model):
    """An audit-chain key, encrypted under the master key. Never changed or deleted: events name it."""

    __tablename__ = "audit_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    wrapped: Mapped[str] = mapped_column(Text, nullable=False)


class AuditKeyUnreadable(RuntimeError):
    """The audit key cannot be decrypted with the configured master key: no event is written unkeyed."""


def _canonical(prev_hash: str, event: AuditEvent) -> bytes:
    """Every stored field but the id and the key id, in a fixed form. Rows in lane 0 without a witness
    (every row from before migration 0013) keep the form they were hashed in; the others add the lane
    and the witness, so a row cannot be moved to another lane or stripped of its witness."""
    created = event.created_at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    content = [prev_hash, created, event.tag, event.actor_id, event.subject_id, event.client_id, event.ip,
               event.user_agent, event.details]
    if event.lane or event.witness_id is not None or event.witness_hash is not None:
        content += [event.lane, event.witness_id, event.witness_hash]
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def chain_hash(prev_hash: str, event: AuditEvent, key: bytes | None = None) -> str:
    """The hash of ``event`` chained after ``prev_hash``: HMAC-SHA256 under ``key``; plain SHA-256 (events
    from before migration 0010) without one."""
    canonical = _canonical(prev_hash, event)
    if key is None:
        return hashlib.sha256(canonical).hexdigest()
    return hmac.new(key, canonical, hashlib.sha256).hexdigest()


def unwrap(wrapped: str) -> bytes:
    """The audit key in ``wrapped``, decrypted once per process (rows never change, so the memo is safe)."""
    memo = current_app.extensions.setdefault("idp.audit_keys", {})
    key = memo.get(wrapped)
    if key is None:
        try:
            key = current_app.extensions["idp.master_key"].decrypt(wrapped)
        except (InvalidToken, ValueError):
            raise AuditKeyUnreadable("the audit chain key cannot be decrypted with IDP_MASTER_KEY: keep every "
                                     "earlier master key listed after the new one") from None
        memo[wrapped] = key
    return key


# -- taking a lane --------------------------------------------------------------------------------------
_NEWEST_KEY = select(AuditKey.id).order_by(AuditKey.id.desc()).limit(1).scalar_subquery()
_LANE_ZERO_HEAD = select(AuditEvent.id, AuditEvent.key_id).where(AuditEvent.lane == 0) \
    .order_by(AuditEvent.id.desc()).limit(1)
_READY = select(_NEWEST_KEY, _LANE_ZERO_HEAD.with_only_columns(AuditEvent.id).scalar_subquery(),
                _LANE_ZERO_HEAD.with_only_columns(AuditEvent.key_id).scalar_subquery())


def _ready() -> bool:
    """Whether other lanes may be used: the audit key exists and lane 0 is empty or ends keyed (its
    SHA-256 rows sealed). Remembered per process once true, since it never becomes false again."""
    if current_app.extensions.get("idp.audit_ready"):
        return True
    key_id, head_id, head_key_id = db.session.execute(_READY).one()
    ready = key_id is not None and (head_id is None or head_key_id is not None)
    current_app.extensions["idp.audit_ready"] = ready
    return ready


_WAIT_FOR_LANE = text("SELECT pg_advisory_xact_lock(:space, :lane)")
_TRY_LANE = text("SELECT pg_try_advisory_xact_lock(:space, :lane)")


def _lock(lane: int, *, wait: bool) -> bool:
    """Take ``lane`` until this transaction ends (re-entrant); without ``wait``, only if it is free."""
    got = db.session.connection().execute(_WAIT_FOR_LANE if wait else _TRY_LANE, {"space": CHAIN_LOCK, "lane": lane})
    return wait or bool(got.scalar())


def _lanes_from(start: int):
    return ((start + step) % LANES for step in range(LANES))


def _take_lane() -> int:
    """The lane of this transaction's events, locked: the one it took already, else the first free one
    from the lane this process used last; if every lane is busy, wait for that one. Lane 0 only until
    ``_ready``, waiting for it: the key is then created under one lock, and lane 0 sealed first."""
    session = db.session()
    session.connection()  # begins the transaction, so that it can be told apart from the next one
    transaction = session.get_transaction()
    held = session.info.get("idp.audit_lane")
    lane = held[1] if held and held[0] is transaction else None
    if db.session.get_bind().dialect.name != "postgresql":
        # A write that changes nothing takes SQLite's write lock (kept until commit): one writer at a time.
        db.session.execute(text("UPDATE audit_events SET id = id WHERE 1 = 0"))
        if lane is None:
            lane = current_app.extensions.get("idp.audit_lane", os.getpid() % LANES) if _ready() else 0
    elif lane is not None:
        _lock(lane, wait=True)  # held already, unless a savepoint that took it was rolled back
    elif not _ready():
        lane = 0
        _lock(lane, wait=True)
    else:
        start = current_app.extensions.get("idp.audit_lane", os.getpid() % LANES)
        lane = next((free for free in _lanes_from(start) if _lock(free, wait=False)), None)
        if lane is None:  # every lane is busy: queue on one, as every writer did before lanes
            lane = start
            _lock(lane, wait=True)
    current_app.extensions["idp.audit_lane"] = lane
    session.info["idp.audit_lane"] = (transaction, lane)
    return lane


# -- appending ------------------------------------------------------------------------------------------
_LANE = bindparam("lane", type_=Integer)
_OWN_HEAD_ID = select(func.max(AuditEvent.id)).where(AuditEvent.lane == _LANE).scalar_subquery()
# Rows past this lane's head are other lanes' (own rows are never past it); the newest committed one.
_WITNESS = select(AuditEvent.id, AuditEvent.hash).where(AuditEvent.id > func.coalesce(_OWN_HEAD_ID, 0),
                                                        AuditEvent.hash.is_not(None)) \
    .order_by(AuditEvent.id.desc()).limit(1)
_HEAD_AND_KEY = select(  # built once: the same statement for every event, one round trip
    select(AuditEvent.hash).where(AuditEvent.lane == _LANE).order_by(AuditEvent.id.desc()).limit(1)
    .scalar_subquery(),
    _WITNESS.with_only_columns(AuditEvent.id).scalar_subquery(),
    _WITNESS.with_only_columns(AuditEvent.hash).scalar_subquery(),
    _NEWEST_KEY,
    select(AuditKey.wrapped).where(AuditKey.id == _NEWEST_KEY).scalar_subquery(),
)


def _head_and_key(event: AuditEvent, lane: int) -> bytes:
    """Set the lane, its last hash and the witness on ``event``; return the current audit key, created if
    there is none yet (under lane 0's lock, see ``_take_lane``: so once). Autoflush makes this
    transaction's own rows visible; the lane lock was taken in an earlier statement, so this one's
    snapshot holds every event committed in the lane."""
    last, witness_id, witness_hash, key_id, wrapped = db.session.execute(_HEAD_AND_KEY, {"lane": lane}).one()
    if key_id is None:
        row = AuditKey(wrapped=current_app.extensions["idp.master_key"].encrypt(os.urandom(32)), created_at=utcnow())
        db.session.add(row)
        db.session.flush()
        key_id, wrapped = row.id, row.wrapped
    event.lane, event.witness_id, event.witness_hash = lane, witness_id, witness_hash
    event.prev_hash, event.key_id = last or genesis(lane), key_id
    return unwrap(wrapped)


def record(tag: str, *, subject=None, actor=None, details: dict | None = None, now=None) -> AuditEvent:
    """Add an audit event to the current transaction (the caller commits with its own change)."""
    if tag.count(":") != 2:
        raise ValueError(f"event tag must be area:object:action, got {tag!r}")
    ip = user_agent = None
    if has_request_context():
        ip = request.remote_addr
        user_agent = (request.user_agent.string or "")[:300] or None
    details = json.loads(json.dumps(details or {}, default=str))  # as it will read back from the database
    client_id = details.get("client_id")
    event = AuditEvent(
        tag=tag,
        subject_id=getattr(subject, "id", subject),
        actor_id=getattr(actor, "id", actor),
        ip=ip,
        user_agent=user_agent,
        details=details,
        client_id=client_id[:64] if isinstance(client_id, str) else None,
        created_at=now or utcnow(),
    )
    metrics.count_event(tag, details)
    key = _head_and_key(event, _take_lane())
    event.hash = chain_hash(event.prev_hash, event, key)
    db.session.add(event)
    return event
