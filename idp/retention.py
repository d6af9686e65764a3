"""Data that does not grow forever: each wing names what it keeps and for how long; ``idp purge`` and the
worker's housekeeping delete what is past keeping, in small batches.

A :class:`Rule` is a table and a condition ``past(table, cutoff)``; the cutoff is the purge's moment minus
the rule's retention setting (a number of days, :data:`SETTINGS`). Every batch is one statement deleting at
most ``batch`` rows by primary key, committed on its own, so no table is locked for long and a node
serving requests meanwhile waits at most for one batch. Wings whose older purges delete everything at once
in a single statement (small tables) register them with :func:`job`; they run after the rules.

The audit log has its own rule, ``IDP_AUDIT_RETENTION_DAYS`` (0: kept for ever), and its own purge,
which keeps the chain verifiable (:mod:`idp.audit_purge`).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import delete, select, tuple_

from .audit_purge import purge_audit
from .db import db, utcnow
from .worker import housekeeping

log = logging.getLogger(__name__)

RULES = "idp.retention.rules"
JOBS = "idp.retention.jobs"
BATCH = 1000
# What each setting keeps, in days after the row stopped being usable (idp.config documents them).
SETTINGS = ("IDP_RETENTION_EXPIRED_DAYS", "IDP_RETENTION_SESSION_DAYS", "IDP_RETENTION_OUTBOX_DAYS")


@dataclass(frozen=True)
class Rule:
    name: str
    table: object  # a SQLAlchemy Table
    past: Callable  # (table, cutoff) -> a WHERE clause
    setting: str = "IDP_RETENTION_EXPIRED_DAYS"


def rule(app, name: str, table, past, setting: str = "IDP_RETENTION_EXPIRED_DAYS") -> None:
    if setting not in SETTINGS:
        raise ValueError(f"unknown retention setting {setting}")
    app.extensions.setdefault(RULES, []).append(Rule(name, table, past, setting))
    _register(app)


def job(app, *jobs) -> None:
    """Whole purges, ``job(moment)``, that a wing runs in one statement of its own."""
    app.extensions.setdefault(JOBS, []).extend(jobs)
    _register(app)


def _register(app) -> None:
    if not app.extensions.get("idp.retention.registered"):
        app.extensions["idp.retention.registered"] = True
        housekeeping(app, lambda moment: purge(app, moment))


def purge(app, moment, *, batch: int = BATCH) -> dict[str, int]:
    """Apply every rule, then every job; how many rows each rule deleted (jobs report their own)."""
    counts = {}
    for item in app.extensions.get(RULES, []):
        cutoff = moment - timedelta(days=app.config[item.setting])
        counts[item.name] = _purge_rule(item, cutoff, batch)
    for whole in app.extensions.get(JOBS, []):
        whole(moment)
        db.session.commit()
    counts["audit_events"] = purge_audit(moment, batch=batch)
    return counts


def _purge_rule(item: Rule, cutoff, batch: int) -> int:
    table = item.table
    key = list(table.primary_key.columns)
    keys = key[0] if len(key) == 1 else tuple_(*key)
    chosen = select(*key).where(item.past(table, cutoff)).limit(batch)
    if len(key) == 1:
        statement = delete(table).where(keys.in_(chosen.scalar_subquery()))
    else:
        statement = delete(table).where(keys.in_(chosen))
    total = 0
    while True:
        deleted = db.session.execute(statement).rowcount
        db.session.commit()
        total += deleted
        if deleted < batch:
            return total


@click.command("purge")
@click.option("--batch", default=BATCH, show_default=True, type=click.IntRange(1, 100_000),
              help="rows deleted by one statement")
@with_appcontext
def purge_command(batch):
    """Delete expired codes, tokens, used jti values, sessions, challenges and delivered logouts past their
    retention (IDP_RETENTION_*_DAYS); the worker does it every IDP_HOUSEKEEPING_SECONDS."""
    app = current_app._get_current_object()
    moment = (app.config.get("CLOCK") or utcnow)()
    for name, count in purge(app, moment, batch=batch).items():
        click.echo(f"{name}: {count} deleted")
