"""Security events: an append-only audit log with namespaced tags (``area:object:action``).

Every event is chained to the one before it: ``hash`` = SHA-256 over the previous event's hash and
this event's content, so changing or deleting a row breaks the chain (``idp audit verify``).
Appending takes a lock first (PostgreSQL: a transaction-level advisory lock; SQLite: the database
write lock), so concurrent writers on any number of processes extend one chain, never fork it.
"""
from __future__ import annotations

import hashlib
import json
from datetime import timezone

from flask import has_request_context, request
from sqlalchemy import JSON, ForeignKey, Integer, String, select, text
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


def chain_hash(prev_hash: str, event: AuditEvent) -> str:
    """The hash of ``event`` chained after ``prev_hash``: every stored field but the id."""
    created = event.created_at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    content = [prev_hash, created, event.tag, event.actor_id, event.subject_id, event.client_id, event.ip,
               event.user_agent, event.details]
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _lock_chain() -> None:
    """Hold the chain until this transaction ends, so nobody appends between our read and write."""
    bind = db.session.get_bind()
    if bind.dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK})
    else:
        # A write that changes nothing still takes SQLite's write lock (kept until commit).
        db.session.execute(text("UPDATE audit_events SET id = id WHERE 1 = 0"))


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
    # Autoflush makes this transaction's own earlier events visible here.
    last = db.session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
    event.prev_hash = last or GENESIS
    event.hash = chain_hash(event.prev_hash, event)
    db.session.add(event)
    return event
