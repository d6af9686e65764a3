"""Administration's own storage: the history of the unit tree."""
from __future__ import annotations

from sqlalchemy import JSON, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import UTCDateTime, db, utcnow


class UnitChange(db.Model):
    """One change to a unit (created, renamed, moved, merged, closed), kept forever.

    ``effective_on`` is the legal date (e.g. 2025-07-01 for the reform); ``changed_at`` when it
    was entered. ``before``/``after`` hold the changed fields.
    """

    __tablename__ = "unit_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), nullable=False, index=True)
    action: Mapped[str] = mapped_column(String(20), nullable=False)
    effective_on = mapped_column(Date, nullable=True)
    changed_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    actor_id = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True)
    before = mapped_column(JSON, nullable=True)
    after = mapped_column(JSON, nullable=True)
