"""Delivering back-channel logout tokens from the durable outbox, with retries and back-off.

Any number of workers may run: each claims a row with one conditional UPDATE (moving its next
attempt into the future) before sending, so two workers never send the same token at once. A row
survives restarts; after the last retry it is marked failed and stays visible to administrators.
"""
from __future__ import annotations

import logging
import time
from datetime import timedelta

import requests
from sqlalchemy import select, update

from ..db import db
from .models import LogoutDelivery

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 5          # per request: a slow client cannot hold a worker for long
MAX_ATTEMPTS = 8             # then the delivery is marked failed
BACKOFF_BASE_SECONDS = 10    # 10 s, 20 s, 40 s … capped
BACKOFF_CAP_SECONDS = 3600
LEASE_SECONDS = 60           # a claimed row is not retried by another worker within this time


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_CAP_SECONDS))


def claim(row_id: int, moment) -> bool:
    claimed = db.session.execute(
        update(LogoutDelivery)
        .where(LogoutDelivery.id == row_id, LogoutDelivery.delivered_at.is_(None),
               LogoutDelivery.failed_at.is_(None), LogoutDelivery.next_attempt_at <= moment)
        .values(next_attempt_at=moment + timedelta(seconds=LEASE_SECONDS))
    ).rowcount
    db.session.commit()
    return claimed == 1


def send(row: LogoutDelivery, moment) -> str | None:
    """POST a freshly signed logout token (a retry must not carry an expired one); None on success."""
    from flask import current_app

    from .logout import logout_token
    client = current_app.extensions["idp.clients"].get(row.client_id)
    if client is None:
        return "client deleted"
    row.logout_token = logout_token(client, row.sid, row.sub, moment)
    try:
        response = requests.post(row.uri, data={"logout_token": row.logout_token}, timeout=TIMEOUT_SECONDS,
                                 allow_redirects=False, headers={"Cache-Control": "no-cache"})
    except requests.RequestException as exc:
        return f"{type(exc).__name__}"[:300]
    if response.status_code in (200, 204):
        return None
    return f"HTTP {response.status_code}"


def deliver_due(moment, *, limit: int = 50) -> int:
    """Try every due delivery once; returns how many were attempted."""
    ids = db.session.scalars(select(LogoutDelivery.id).where(
        LogoutDelivery.delivered_at.is_(None), LogoutDelivery.failed_at.is_(None),
        LogoutDelivery.next_attempt_at <= moment).order_by(LogoutDelivery.next_attempt_at).limit(limit)).all()
    attempted = 0
    for row_id in ids:
        if not claim(row_id, moment):
            continue
        row = db.session.get(LogoutDelivery, row_id)
        error = send(row, moment)
        attempted += 1
        row.attempts += 1
        if error is None:
            row.delivered_at, row.last_error = moment, None
        else:
            row.last_error = error
            if row.attempts >= MAX_ATTEMPTS:
                row.failed_at = moment
                log.warning("back-channel logout to %s failed for good: %s", row.client_id, error)
            else:
                row.next_attempt_at = moment + backoff(row.attempts)
        db.session.commit()
    return attempted


def run(app, *, interval: float = 1.0, once: bool = False, clock=None) -> None:
    """The worker loop: deliver what is due and end expired sessions, until stopped; every
    ``IDP_HOUSEKEEPING_SECONDS`` (and on the first round) also the jobs other modules registered in
    ``app.extensions["idp.housekeeping"]`` (certificate expiry warnings, purges)."""
    from ..db import utcnow
    clock = clock or utcnow
    every = app.config["IDP_HOUSEKEEPING_SECONDS"]
    housekeeping_due = time.monotonic()
    while True:
        with app.app_context():
            try:
                app.extensions["idp.sessions"].sweep_expired(clock())
                deliver_due(clock())
            except Exception:  # a database hiccup must not kill the worker
                log.exception("logout delivery round failed")
                db.session.rollback()
            finally:
                db.session.remove()
            if time.monotonic() >= housekeeping_due:
                housekeeping_due = time.monotonic() + every
                housekeeping(app, clock())
        if once:
            return
        time.sleep(interval)


def housekeeping(app, moment) -> None:
    """Run each registered job once; one failing does not stop the others or the worker."""
    for job in app.extensions.get("idp.housekeeping", []):
        try:
            job(moment)
        except Exception:
            log.exception("housekeeping job %s failed", getattr(job, "__name__", job))
            db.session.rollback()
        finally:
            db.session.remove()
