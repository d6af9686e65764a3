"""Security events: an append-only audit log with namespaced tags (``area:object:action``).

Every event is chained to the one before it: ``hash`` = HMAC-SHA256, under the audit key, over the
previous event's hash and this event's content, so changing, deleting or inserting a row breaks the
chain (``idp audit verify``), and someone who can write to the database but does not hold the master
key cannot compute a hash that verifies.

The audit key is 32 random bytes kept in ``audit_keys``, encrypted under the master key (MultiFernet,
like signing keys), created by the first event that finds none; each event names it (``key_id``).
Events from before migration 0010 have no ``key_id`` and a plain SHA-256 hash: they still verify,
and the first keyed event seals them (its HMAC covers the last of their hashes).

Appending takes a lock first (PostgreSQL: a transaction-level advisory lock; SQLite: the database
write lock), so concurrent writers on any number of processes extend one chain, never fork it. The
lock is held for one read (last hash and current key in one statement) and the insert, as before the
key: the HMAC costs microseconds and the decrypted key is remembered per process.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
from datetime import timezone

from cryptography.fernet import InvalidToken
from flask import current_app, has_request_context, request
from sqlalchemy import JSON, ForeignKey, Integer, String, Text, select, text
from sqlalchemy.orm import Mapped, mapped_column

from .db import UTCDateTime, db, utcnow

GENESIS = "0" * 64
CHAIN_LOCK = 7_236_041  # the advisory-lock key of the audit chain (any fixed number)


class AuditEvent(db.Model):
    __tablename__ = "audit_events"

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


class AuditKey(db.Model):
    """An audit-chain key, encrypted under the master key. Never changed or deleted: events name it."""

    __tablename__ = "audit_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    wrapped: Mapped[str] = mapped_column(Text, nullable=False)


class AuditKeyUnreadable(RuntimeError):
    """The audit key cannot be decrypted with the configured master key: no event is written unkeyed."""


def _canonical(prev_hash: str, event: AuditEvent) -> bytes:
    """Every stored field but the id and the key id, in a fixed form."""
    created = event.created_at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    content = [prev_hash, created, event.tag, event.actor_id, event.subject_id, event.client_id, event.ip,
               event.user_agent, event.details]
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


def _lock_chain() -> None:
    """Hold the chain until this transaction ends, so nobody appends between our read and write."""
    bind = db.session.get_bind()
    if bind.dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK})
    else:
        # A write that changes nothing still takes SQLite's write lock (kept until commit).
        db.session.execute(text("UPDATE audit_events SET id = id WHERE 1 = 0"))


_NEWEST_KEY = select(AuditKey.id).order_by(AuditKey.id.desc()).limit(1).scalar_subquery()
_HEAD_AND_KEY = select(  # built once: it is the same statement for every event
    select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1).scalar_subquery(),
    _NEWEST_KEY,
    select(AuditKey.wrapped).where(AuditKey.id == _NEWEST_KEY).scalar_subquery(),
)


def _head_and_key() -> tuple[str, int, bytes]:
    """The last event's hash and the current audit key, in one round trip; the key is created if there is
    none yet (under the chain lock, so once). Autoflush makes this transaction's own rows visible."""
    last, key_id, wrapped = db.session.execute(_HEAD_AND_KEY).one()
    if key_id is None:
        row = AuditKey(wrapped=current_app.extensions["idp.master_key"].encrypt(os.urandom(32)), created_at=utcnow())
        db.session.add(row)
        db.session.flush()
        key_id, wrapped = row.id, row.wrapped
    return last or GENESIS, key_id, unwrap(wrapped)


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
    _lock_chain()
    event.prev_hash, event.key_id, key = _head_and_key()
    event.hash = chain_hash(event.prev_hash, event, key)
    db.session.add(event)
    return event
