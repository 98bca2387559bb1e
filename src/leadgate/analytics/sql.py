"""SQL expressions that SQLite and PostgreSQL spell differently, behind one name each.

Times are stored as naive UTC on both back ends (``UTCDateTime``), so every helper here
works in UTC: a week starts on Monday 00:00 UTC, a month on the 1st 00:00 UTC.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Float, case, cast, func, literal, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.sql.elements import ColumnElement

DAY_SECONDS = 86_400.0


def is_sqlite(connection: Connection) -> bool:
    return connection.dialect.name == "sqlite"


def seconds_between(
    connection: Connection, start: ColumnElement[Any], end: ColumnElement[Any]
) -> ColumnElement[float]:
    """``end − start`` in seconds, as a float.

    SQLite has no interval type: julianday differences are days as doubles (about 10 µs
    of rounding error), so the result is rounded to the millisecond, which makes a
    comparison such as "within 7 days" exact for times stored to the second.

    Example: ``seconds_between(c, t.handoffs.c.created_at, t.handoffs.c.first_touch_at)``.
    """
    if is_sqlite(connection):
        return func.round((func.julianday(end) - func.julianday(start)) * DAY_SECONDS, 3)
    return cast(func.extract("epoch", end - start), Float)


def week_start(connection: Connection, at: ColumnElement[Any]) -> ColumnElement[str]:
    """The Monday (UTC) of the ISO week holding ``at``, as ``YYYY-MM-DD``."""
    if is_sqlite(connection):
        # 'weekday 0' moves forward to the next Sunday (or stays on one); six days back
        # from there is that week's Monday.
        return func.date(at, "weekday 0", "-6 days")
    return func.to_char(func.date_trunc("week", at), "YYYY-MM-DD")


def month_start(connection: Connection, at: ColumnElement[Any]) -> ColumnElement[str]:
    """The first day (UTC) of the month holding ``at``, as ``YYYY-MM-DD``."""
    if is_sqlite(connection):
        return func.strftime("%Y-%m-01", at)
    return func.to_char(func.date_trunc("month", at), "YYYY-MM-DD")


def json_number(
    connection: Connection, document: ColumnElement[Any], key: str
) -> ColumnElement[float]:
    """``document[key]`` as a float when it is a JSON number, else NULL.

    A plain cast would make PostgreSQL raise on a text value ("n/a") and SQLite turn it
    into 0, so the JSON type is checked first on both.
    """
    if is_sqlite(connection):
        path = f"$.{key}"
        return case(
            (
                func.json_type(document, path).in_(("integer", "real")),
                cast(func.json_extract(document, path), Float),
            ),
            else_=None,
        )
    element = document[key]
    return case(
        (func.jsonb_typeof(element) == "number", cast(element.as_string(), Float)),
        else_=None,
    )


def json_text(document: ColumnElement[Any], *path: str) -> ColumnElement[str]:
    """``document`` at ``path`` as text (NULL when absent); the same on both back ends."""
    # One key is ``->>``; a path is ``#>>`` on PostgreSQL (json_extract on SQLite).
    element = document[path[0]] if len(path) == 1 else document[path]
    text_value: ColumnElement[str] = element.as_string()
    return text_value


# exp() of less than this is below what a double holds: PostgreSQL refuses to compute it
# (underflow) where SQLite gives 0. Clamped, both give e^-700 (about 1e-304).
_MIN_EXPONENT = -700.0


def half_life_weight(
    connection: Connection, age_days: ColumnElement[float], half_life_days: float
) -> ColumnElement[float]:
    """``2^(−age / half_life)``, written with ``exp`` (PostgreSQL and SQLite math); a
    weight below about 1e-304 is that, the same on both back ends, never an error."""
    exponent = age_days * literal(-math.log(2) / half_life_days)
    larger = func.max if is_sqlite(connection) else func.greatest  # SQLite's max(a, b)
    return func.exp(larger(exponent, literal(_MIN_EXPONENT)))


def ensure_math(connection: Connection) -> None:
    """Make sure SQLite has ``exp`` (builds without SQLITE_ENABLE_MATH_FUNCTIONS lack it).

    Registered on the raw connection only when missing; PostgreSQL always has it.
    """
    if not is_sqlite(connection):
        return
    try:
        connection.execute(text("SELECT exp(0)")).scalar()
    except OperationalError:  # no such function: exp
        raw = connection.connection.driver_connection
        raw.create_function("exp", 1, math.exp, deterministic=True)  # type: ignore[union-attr]


def materialized_cte(connection: Connection) -> bool:
    """Whether ``WITH x AS MATERIALIZED`` is understood: PostgreSQL 12+, SQLite 3.35+."""
    if is_sqlite(connection):
        import sqlite3

        return sqlite3.sqlite_version_info >= (3, 35)
    version = connection.dialect.server_version_info or (0,)
    return version >= (12,)


# A report reads hundreds of thousands of rows: with SQLite's default 2 MiB page cache its
# sorts spilled to temporary files and every page came through a read() call. The sorter
# keeps up to the cache size in memory; mapping the file lets random row reads (touchpoints
# by lead) skip a system call and a copy each (SQLite caps the size at its compile-time
# maximum, 2 GiB by default). temp_store is left alone: changing it drops temporary tables.
_READ_PRAGMAS = {"cache_size": -65_536, "mmap_size": 4 << 30}
_PG_READ_SETTINGS = {"jit": "off"}


@contextmanager
def tuned_for_reads(connection: Connection) -> Iterator[None]:
    """Settings for the duration of a report, restored afterwards.

    SQLite: a 64 MiB page cache (sorts stay in memory) and a memory-mapped file; pooled
    connections also serve ingestion, which should not keep the memory. PostgreSQL: no JIT
    compilation, local to the transaction (a report's plans are costed high enough to
    trigger it, and compiling them took longer than running them: 9 of 14 s for a year's
    attribution at 100k leads).

    Example: ``with tuned_for_reads(connection): rows = connection.execute(query)``.
    """
    with _sqlite_pragmas(connection) if is_sqlite(connection) else _postgres_settings(connection):
        yield


@contextmanager
def _postgres_settings(connection: Connection) -> Iterator[None]:
    before = {
        name: connection.execute(text(f"SELECT current_setting('{name}')")).scalar()
        for name in _PG_READ_SETTINGS
    }
    for name, value in _PG_READ_SETTINGS.items():
        connection.execute(text(f"SELECT set_config('{name}', '{value}', true)"))
    # Restored only after success: the settings are local to the transaction, which a
    # failed statement has aborted (a restore would fail too and hide the first error).
    yield
    for name, old in before.items():
        connection.execute(text(f"SELECT set_config('{name}', :old, true)"), {"old": old})


@contextmanager
def _sqlite_pragmas(connection: Connection) -> Iterator[None]:
    before = {name: connection.exec_driver_sql(f"PRAGMA {name}").scalar() for name in _READ_PRAGMAS}
    for name, value in _READ_PRAGMAS.items():
        connection.exec_driver_sql(f"PRAGMA {name}={int(value)}")
    try:
        yield
    finally:
        for name, old in before.items():
            connection.exec_driver_sql(f"PRAGMA {name}={int(old or 0)}")
