"""Building engines: SQLite tuned for one writer at a time, PostgreSQL through psycopg 3."""

from __future__ import annotations

import threading
import weakref
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import QueuePool


class BadDatabaseUrl(ValueError):
    """The configured database URL cannot be used."""


# SQLite has one writer at a time, and every leadgate transaction takes the write lock at
# BEGIN. Threads of one process queue on this lock instead: SQLite's own busy handler
# sleeps in growing steps and wakes in no order, which gave requests waiting behind a
# burst seconds of latency. Other processes still queue in SQLite's busy handler.
_WRITE_LOCKS: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()


def writer_lock(engine: Engine) -> threading.Lock | None:
    """The in-process lock a unit of work holds around a SQLite transaction (None for
    PostgreSQL, which has row locks)."""
    return _WRITE_LOCKS.get(engine)


def build_engine(url: str, *, echo: bool = False) -> Engine:
    """Given a database URL, return an engine configured for leadgate.

    ``postgresql://`` URLs use psycopg 3. SQLite runs in WAL mode with a busy timeout and
    takes its write lock at BEGIN, so two writers queue instead of failing halfway.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise BadDatabaseUrl(f"cannot parse database URL {url!r}: {exc}") from None
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        if parsed.drivername in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, echo=echo, pool_pre_ping=True)
    if backend == "sqlite":
        return _sqlite_engine(url, echo=echo)
    raise BadDatabaseUrl(
        f"unsupported database {backend!r} in {url!r}: use sqlite:///PATH or "
        "postgresql://USER@HOST/DB"
    )


def _sqlite_engine(url: str, *, echo: bool) -> Engine:
    memory = ":memory:" in url or url.rstrip("/") in ("sqlite:", "sqlite:/")
    # File databases keep their connections in a pool: closing the last connection to a
    # WAL database checkpoints it, which cost more than the request itself when every
    # unit of work opened and closed its own.
    kwargs: dict[str, Any] = (
        {} if memory else {"poolclass": QueuePool, "pool_size": 8, "max_overflow": 8}
    )
    engine = create_engine(url, echo=echo, connect_args={"timeout": 30}, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy issue BEGIN itself (pysqlite's implicit BEGIN is deferred).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    _WRITE_LOCKS[engine] = threading.Lock()
    return engine
