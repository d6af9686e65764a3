"""The application's clock, injectable so time-based rules are tested exactly."""
from __future__ import annotations

from flask import current_app

from .db import utcnow


def now():
    """The current UTC time, from ``app.config["CLOCK"]`` when a test sets one."""
    return current_app.config.get("CLOCK", utcnow)()
