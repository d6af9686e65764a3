"""Security events: an append-only audit log with namespaced tags (``area:object:action``)."""
from __future__ import annotations

from flask import has_request_context, request
from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .db import UTCDateTime, db, utcnow


class AuditEvent(db.Model):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow, index=True)
    tag: Mapped[str] = mapped_column(String(80), nullable=False, index=True)
    actor_id = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True, index=True)
    subject_id = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True, index=True)
    ip = mapped_column(String(45), nullable=True)
    user_agent = mapped_column(String(300), nullable=True)
    details = mapped_column(JSON, nullable=False, default=dict)


def record(tag: str, *, subject=None, actor=None, details: dict | None = None, now=None) -> AuditEvent:
    """Add an audit event to the current transaction (the caller commits with its own change)."""
    if tag.count(":") != 2:
        raise ValueError(f"event tag must be area:object:action, got {tag!r}")
    ip = user_agent = None
    if has_request_context():
        ip = request.remote_addr
        user_agent = (request.user_agent.string or "")[:300] or None
    event = AuditEvent(
        tag=tag,
        subject_id=getattr(subject, "id", subject),
        actor_id=getattr(actor, "id", actor),
        ip=ip,
        user_agent=user_agent,
        details=details or {},
        created_at=now or utcnow(),
    )
    db.session.add(event)
    return event
