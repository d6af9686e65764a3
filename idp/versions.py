"""Per-process caches that every process and node drops within a second of a change.

A cache (clients, signing keys) names the tables it is built from. Any flush that writes a row of such
a table bumps that cache's counter in ``cache_versions`` inside the same transaction, so the bump
commits or rolls back with the change. Each process reads all counters in one statement at most
every ``IDP_CACHE_CHECK_SECONDS`` (default 0.5 s) and drops a cache whose counter moved; a commit
in this process drops it at once. The database is the only thing the nodes share, so this works the
same on SQLite and PostgreSQL, with no extra service.
"""
from __future__ import annotations

import threading
import time
import weakref

from sqlalchemy import BigInteger, String, event, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from .db import db, insert


class CacheVersion(db.Model):
    __tablename__ = "cache_versions"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


# cache name → the model classes whose rows it is built from (filled by :func:`track`)
_TRACKED: dict[type, str] = {}
NAMES = ("clients", "keys", "trust")


def track(model: type, name: str) -> None:
    """Bump ``name`` whenever a flush writes a row of ``model``."""
    assert name in NAMES, name
    _TRACKED[model] = name


class Versions:
    """The counters as this process last read them."""

    def __init__(self, check_seconds: float = 0.5):
        self.check_seconds = check_seconds
        self._lock = threading.Lock()
        self._read_at = float("-inf")
        self._seen: dict[str, int] = {}
        self._local = 0  # bumped by commits in this process: a cache built before one is stale

    def current(self, name: str) -> tuple[int, int]:
        """A token that changes whenever ``name`` may have changed: (stored counter, local commits)."""
        if time.monotonic() - self._read_at >= self.check_seconds:
            self.refresh()
        return self._seen.get(name, 0), self._local

    def refresh(self) -> None:
        table = CacheVersion.__table__
        with db.engine.connect() as conn:
            rows = dict(conn.execute(select(table.c.name, table.c.version)).all())
        with self._lock:
            self._seen = rows
            self._read_at = time.monotonic()

    def changed_here(self) -> None:
        with self._lock:
            self._local += 1
            self._read_at = float("-inf")  # read the counters again before the next use


def _bump_before_flush(session: Session, flush_context, instances) -> None:
    names = {_TRACKED[type(obj)] for obj in (*session.new, *session.dirty, *session.deleted)
             if type(obj) in _TRACKED}
    if not names:
        return
    table = CacheVersion.__table__
    for name in sorted(names):  # one order everywhere: concurrent bumps never deadlock
        session.execute(insert(table, session).values(name=name, version=1).on_conflict_do_update(
            index_elements=[table.c.name], set_={"version": table.c.version + 1}))
    session.info.setdefault("idp.bumped", set()).update(names)


def _after_commit(session: Session) -> None:
    if session.info.pop("idp.bumped", None):
        for versions in _INSTANCES:
            versions.changed_here()


def _after_rollback(session: Session) -> None:
    session.info.pop("idp.bumped", None)


_INSTANCES: weakref.WeakSet[Versions] = weakref.WeakSet()
event.listen(Session, "before_flush", _bump_before_flush)
event.listen(Session, "after_commit", _after_commit)
event.listen(Session, "after_soft_rollback", lambda session, previous: _after_rollback(session))


def init_app(app) -> Versions:
    versions = Versions(app.config.get("IDP_CACHE_CHECK_SECONDS", 0.5))
    _INSTANCES.add(versions)
    app.extensions["idp.versions"] = versions
    return versions


class VersionedCache:
    """A dict that empties itself when the named counter (or a local commit) moves. ``None`` (not found)
    is never kept."""

    def __init__(self, versions: Versions, name: str):
        self.versions = versions
        self.name = name
        self._token = None
        self._data: dict = {}
        self._lock = threading.Lock()

    def get(self, key, load):
        token = self.versions.current(self.name)
        with self._lock:
            if token != self._token:
                self._data, self._token = {}, token
            data = self._data
            if key in data:
                return data[key]
        value = load(key)
        if value is not None:
            with self._lock:
                if self._token == token:  # not dropped meanwhile
                    self._data[key] = value
        return value

    def clear(self) -> None:
        with self._lock:
            self._data, self._token = {}, None
