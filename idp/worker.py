"""The job loop behind ``idp worker`` (any number may run, beside ``idp serve`` or on their own) and its
registry of jobs. Each wing registers its own jobs in its ``init_app``:

- :func:`every_round` jobs run every ``--interval`` seconds (back-channel logout delivery, ending expired
  sessions);
- :func:`housekeeping` jobs run on the first round and then every ``IDP_HOUSEKEEPING_SECONDS``
  (certificate expiry warnings, purges of expired rows).

A job is ``job(moment)``, runs in an application context, and commits its own work. One failing job is
logged and rolled back; it stops neither the others nor the loop."""
from __future__ import annotations

import logging
import time

from .db import db, utcnow

log = logging.getLogger(__name__)

ROUND_JOBS = "idp.worker.round"
HOUSEKEEPING_JOBS = "idp.housekeeping"


def every_round(app, job) -> None:
    app.extensions.setdefault(ROUND_JOBS, []).append(job)


def housekeeping(app, *jobs) -> None:
    app.extensions.setdefault(HOUSEKEEPING_JOBS, []).extend(jobs)


def run(app, *, interval: float = 1.0, once: bool = False) -> None:
    """Run the round jobs every ``interval`` seconds and the housekeeping jobs when due, until stopped
    (or once). Time is the application's clock (``app.config["CLOCK"]`` in tests)."""
    clock = app.config.get("CLOCK") or utcnow
    every = app.config["IDP_HOUSEKEEPING_SECONDS"]
    housekeeping_due = time.monotonic()
    while True:
        with app.app_context():
            run_jobs(app.extensions.get(ROUND_JOBS, []), clock)
            if time.monotonic() >= housekeeping_due:
                housekeeping_due = time.monotonic() + every
                run_jobs(app.extensions.get(HOUSEKEEPING_JOBS, []), clock)
        if once:
            return
        time.sleep(interval)


def run_jobs(jobs, clock) -> None:
    """Each job once, in order, in the current application context; a database hiccup or a bug in one job
    must not kill the worker nor keep the others from running."""
    for job in jobs:
        try:
            job(clock())
        except Exception:
            log.exception("worker job %s failed", getattr(job, "__name__", job))
            db.session.rollback()
        finally:
            db.session.remove()
