"""Rate limits (Flask-Limiter) in a store every process and node shares: Redis when ``IDP_REDIS_URL`` is
set, otherwise the database itself (:class:`DatabaseStorage`).

The policy (which endpoint, what limit, counted per what) belongs to the wing that owns the endpoints and
is handed to :func:`apply`: :data:`idp.accounts.rate_limits.LIMITS` today.
Each application gets its own :class:`Limiter`, so two apps in one process never share state.
A limit kept in one process's memory would be multiplied by the number of processes (and reset by
moving to another), so there is no in-memory store and no in-memory fallback: when the store cannot
be reached, limited endpoints answer 503 (fail closed) rather than count per process.
"""
from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

from flask import current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits.errors import StorageError
from limits.storage import Storage
from sqlalchemy import Integer, String, bindparam, case, delete, select, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from . import errors
from .clock import now
from .db import UTCDateTime, db
from . import retention

log = logging.getLogger(__name__)


class RateLimitCounter(db.Model):
    """One fixed-window counter of :class:`DatabaseStorage`. The key is a SHA-256 digest: limit keys
    carry addresses, login identifiers and email addresses."""

    __tablename__ = "rate_limit_counters"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer, nullable=False)
    expires_at = mapped_column(UTCDateTime, nullable=False, index=True)


class DatabaseStorage(Storage):
    """A ``limits`` storage for the fixed-window strategy in the application's database (SQLite or
    PostgreSQL), shared by every process and node that uses that database. Each hit is one atomic
    ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` in its own short transaction (never the request's),
    so concurrent hits from any number of processes are all counted, and a rolled-back request still
    counts. Windows follow the application's clock (:func:`idp.clock.now`)."""

    STORAGE_SCHEME = ["motid+database"]
    URI = "motid+database://"

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions)

    @property
    def base_exceptions(self):
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        moment = now()
        # One statement is atomic by itself: an autocommit connection spares the BEGIN and COMMIT round trips.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            return conn.execute(_counting(conn.dialect.name), {
                "key": _digest(key), "amount": amount, "moment": moment,
                "until": moment + timedelta(seconds=expiry)}).scalar_one()

    def _live(self, key: str):
        table = RateLimitCounter.__table__
        with db.engine.connect() as conn:
            return conn.execute(select(table.c.hits, table.c.expires_at).where(
                table.c.key == _digest(key), table.c.expires_at > now())).first()

    def get(self, key: str) -> int:
        row = self._live(key)
        return row.hits if row else 0

    def get_expiry(self, key: str) -> float:
        row = self._live(key)
        return (row.expires_at if row else now()).timestamp()

    def check(self) -> bool:
        try:
            with db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except SQLAlchemyError:
            return False

    def reset(self) -> int | None:
        with db.engine.begin() as conn:
            return conn.execute(delete(RateLimitCounter.__table__)).rowcount

    def clear(self, key: str) -> None:
        table = RateLimitCounter.__table__
        with db.engine.begin() as conn:
            conn.execute(delete(table).where(table.c.key == _digest(key)))


_COUNTING: dict = {}


def _counting(dialect: str):
    """The counting upsert for ``dialect``, built once: a window that has ended starts again at ``amount``."""
    if dialect not in _COUNTING:
        table = RateLimitCounter.__table__
        until, amount = bindparam("until", type_=UTCDateTime), bindparam("amount", type_=Integer)
        expired = table.c.expires_at <= bindparam("moment", type_=UTCDateTime)
        insert = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(table)
        _COUNTING[dialect] = insert.values(key=bindparam("key"), hits=amount, expires_at=until).on_conflict_do_update(
            index_elements=[table.c.key],
            set_={"hits": case((expired, amount), else_=table.c.hits + amount),
                  "expires_at": case((expired, until), else_=table.c.expires_at)},
        ).returning(table.c.hits)
    return _COUNTING[dialect]


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def purge_expired_counters(moment) -> int:
    """Delete the counters whose window has ended (``idp worker`` runs it with its housekeeping)."""
    table = RateLimitCounter.__table__
    deleted = db.session.execute(delete(table).where(table.c.expires_at <= moment)).rowcount
    db.session.commit()
    return deleted


def setting(name: str):
    """A limit read from the application's configuration when the request is counted."""
    return lambda: current_app.config[name]


def init_app(app) -> Limiter:
    redis_url = app.config["IDP_REDIS_URL"]
    app.config.setdefault("RATELIMIT_STORAGE_URI", redis_url or DatabaseStorage.URI)
    # Store errors become StorageError (answered 503 below); a hung Redis must not hold a login for minutes.
    app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", {"wrap_exceptions": True, **(
        {"socket_connect_timeout": 2, "socket_timeout": 2} if redis_url else {})})
    app.config.setdefault("RATELIMIT_KEY_PREFIX", app.config["IDP_RATELIMIT_KEY_PREFIX"])
    # No X-RateLimit-* headers: each would cost two more reads of the store on every limited POST, and no
    # person or client of a login page reads them (a refusal is a 429 page).
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", False)
    # No per-process fallback: an attacker who could make the store unreachable would multiply every
    # limit by the number of processes. Limited endpoints answer 503 until the store is back.
    app.config["RATELIMIT_IN_MEMORY_FALLBACK_ENABLED"] = False
    limiter = Limiter(key_func=get_remote_address, default_limits=[])
    limiter.init_app(app)
    # Every limit is on a view (:func:`apply` decorates them; the decorator checks when the view runs) and
    # there are no default limits, so the before-request check Flask-Limiter adds to every request of
    # every endpoint only costs time.
    app.before_request_funcs[None].remove(limiter._check_request_limit)
    app.extensions["idp.limiter"] = limiter
    retention.job(app, purge_expired_counters)

    @app.errorhandler(StorageError)
    def store_unreachable(exc):
        log.error("rate-limit store unreachable: %s", exc)
        db.session.rollback()
        return errors.render_error(503)

    return limiter


def apply(app, policy: dict) -> None:
    """Wrap the registered views named in ``policy`` (endpoint → [(limit, key function or None for the
    client address[, methods])], applied to POST unless methods are given), after blueprints are registered."""
    limiter = app.extensions["idp.limiter"]
    for endpoint, specs in policy.items():
        view = app.view_functions[endpoint]
        for limit_value, key_func, *methods in specs:
            view = limiter.limit(limit_value, key_func=key_func, methods=methods[0] if methods else ["POST"])(view)
        app.view_functions[endpoint] = view
