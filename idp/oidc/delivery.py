"""Delivering back-channel logout tokens from the durable outbox, with retries and back-off.

Any number of workers may run: each claims a row with one conditional UPDATE (moving its next
attempt into the future) before sending, so two workers never send the same token at once. A row
survives restarts; after the last retry it is marked failed and stays visible to administrators.
A round sends its rows side by side through the guarded client (:mod:`idp.net`, one total deadline
each), so a slow or dripping client cannot hold the others, or the round, past that deadline.
"""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from urllib.parse import urlencode

from sqlalchemy import select, update

from .. import metrics, net
from ..db import db
from .models import LogoutDelivery

log = logging.getLogger(__name__)

ROUND_SIZE = 32              # deliveries sent side by side in one round (each within IDP_OUTBOUND_DEADLINE_SECONDS)
MAX_RESPONSE_BYTES = 16 * 1024
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


def prepare(row: LogoutDelivery, moment) -> str | None:
    """Sign a fresh logout token for the row (a retry must not carry an expired one); None when the
    client is gone."""
    from flask import current_app

    from .logout import logout_token
    client = current_app.extensions["idp.clients"].get(row.client_id)
    if client is None:
        return None
    row.logout_token = logout_token(client, row.sid, row.sub, moment)
    return row.logout_token


def post(uri: str, token: str, *, deadline: float, allow_loopback: bool) -> str | None:
    """POST one logout token through the guarded client; None on success, else why (for the log)."""
    try:
        response = net.request("POST", uri, data=urlencode({"logout_token": token}).encode(),
                               headers={"Content-Type": "application/x-www-form-urlencoded",
                                        "Cache-Control": "no-cache"},
                               max_bytes=MAX_RESPONSE_BYTES, deadline=deadline, allow_loopback=allow_loopback)
    except net.FetchError as exc:
        return exc.reason[:300]
    return None if response.status in (200, 204) else f"HTTP {response.status}"


def deliver_due(moment, *, limit: int = ROUND_SIZE) -> int:
    """Try every due delivery once, all at the same time, so the round ends within one deadline however
    slow some clients are; returns how many were attempted."""
    from flask import current_app
    ids = db.session.scalars(select(LogoutDelivery.id).where(
        LogoutDelivery.delivered_at.is_(None), LogoutDelivery.failed_at.is_(None),
        LogoutDelivery.next_attempt_at <= moment).order_by(LogoutDelivery.next_attempt_at).limit(limit)).all()
    rows = [db.session.get(LogoutDelivery, row_id) for row_id in ids if claim(row_id, moment)]
    if not rows:
        return 0
    jobs = [(row.uri, prepare(row, moment)) for row in rows]  # plain values: the threads touch no ORM object
    options = {"deadline": current_app.config["IDP_OUTBOUND_DEADLINE_SECONDS"],
               "allow_loopback": net.loopback_allowed(current_app.config)}
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        errors = list(pool.map(lambda job: "client deleted" if job[1] is None else post(*job, **options), jobs))
    for row, error in zip(rows, errors):
        row.attempts += 1
        if error is None:
            row.delivered_at, row.last_error = moment, None
            metrics.count("backchannel_deliveries", result="delivered")
            continue
        row.last_error = error
        if row.attempts >= MAX_ATTEMPTS:
            row.failed_at = moment
            metrics.count("backchannel_deliveries", result="failed")
            log.warning("back-channel logout to %s failed for good: %s", row.client_id, error)
        else:
            row.next_attempt_at = moment + backoff(row.attempts)
            metrics.count("backchannel_deliveries", result="retry")
    db.session.commit()
    return len(rows)


def outbox_depth(app) -> int:
    """Back-channel logouts waiting to be delivered (the metrics' gauge, read at scrape time)."""
    from sqlalchemy import func
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(LogoutDelivery).where(
            LogoutDelivery.delivered_at.is_(None), LogoutDelivery.failed_at.is_(None)))
