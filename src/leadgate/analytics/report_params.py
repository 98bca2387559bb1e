"""What a caller asks of a report, read the same way by the CLI and the HTTP API: the
period from two optional ends, the tables to show, and CSV with several tables.

Every problem is a ``BadParameter`` naming the parameter by its neutral name (``from``,
``to``, ``table`` ...); the CLI shows it as ``--from``, the API as ``from``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from leadgate.analytics.output import Table
from leadgate.analytics.periods import Period

if TYPE_CHECKING:  # the command line imports this module on start-up: keep it light
    pass

DEFAULT_DAYS = 30  # the period when neither end is given: the last 30 days up to now
MAX_DAYS = 36_500.0  # bound of every "days" option (within, look-back, half-life): a century

# The tables of each report, in the order ``tables()`` gives them (a test checks).
REPORT_TABLES: dict[str, tuple[str, ...]] = {
    "funnel": ("stages", "conversions"),
    "velocity": ("steps", "time_in_stage"),
    "sla": ("summary", "by_rep", "by_team"),
    "reasons": ("exits", "reasons"),
    "attribution": ("conversions", "credits", "amounts"),
    "signals": ("signals", "precursors"),
    "accounts": ("accounts",),
}

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
# A date and a time of day, optionally with seconds, a fraction and a zone (none: UTC).
_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?([Zz]|[+-]\d{2}:\d{2})?", re.ASCII
)
_FIRST = datetime.min.replace(tzinfo=UTC)
_LAST = datetime.max.replace(tzinfo=UTC)


class BadParameter(ValueError):
    """A parameter the report cannot use; ``name`` is the parameter, ``str()`` says why."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # within a day of year 1 or 9999, shifted past it by its zone
        return _FIRST if value.year == 1 else _LAST


def parse_moment(raw: str, name: str) -> datetime:
    """A date (midnight UTC) or an ISO 8601 date and time (no zone: UTC), as aware UTC.

    >>> parse_moment("2026-03-01", "from").isoformat()
    '2026-03-01T00:00:00+00:00'
    >>> parse_moment("2026-03-01T09:30+02:00", "to").isoformat()
    '2026-03-01T07:30:00+00:00'
    >>> try:
    ...     parse_moment("2026-02-30", "from")
    ... except BadParameter as exc:
    ...     print(exc.name, "-", exc)
    from - '2026-02-30' is not a real date or time (day is out of range for month)
    """
    text = raw.strip()
    if not (_DATE.fullmatch(text) or _TIME.fullmatch(text)):
        raise BadParameter(
            name, f"{raw!r} is not a date (YYYY-MM-DD) or an ISO 8601 time (2026-03-01T09:00Z)"
        )
    try:
        value = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError as exc:  # the right shape, but no such day or time (2026-02-30)
        raise BadParameter(name, f"{raw!r} is not a real date or time ({exc})") from None
    return _utc(value)


def _shown(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def period_of(
    start: datetime | None, end: datetime | None, *, now: datetime, days: int = DEFAULT_DAYS
) -> Period:
    """The period ``[start, end)``: ``end`` defaults to ``now``, ``start`` to ``days``
    days before ``end``. Refuses a start that is not before the end, naming ``from``.

    >>> now = datetime(2026, 3, 31, 12, tzinfo=UTC)
    >>> period_of(None, None, now=now).start.isoformat()
    '2026-03-01T12:00:00+00:00'
    >>> try:
    ...     period_of(datetime(2026, 4, 1, tzinfo=UTC), None, now=now)
    ... except BadParameter as exc:
    ...     print(exc.name, "-", exc)
    from - 2026-04-01T00:00:00Z is not before the end of the period, 2026-03-31T12:00:00Z (now)
    """
    stop = _utc(end) if end is not None else now
    if start is None:
        try:
            begin = stop - timedelta(days=days)
        except OverflowError:
            begin = _FIRST
        if begin >= stop:  # an end at the first representable moment
            raise BadParameter("to", f"{_shown(stop)} leaves no time before it for a period")
        return Period(begin, stop)
    begin = _utc(start)
    if begin >= stop:
        what = "" if end is not None else " (now)"
        raise BadParameter(
            "from", f"{_shown(begin)} is not before the end of the period, {_shown(stop)}{what}"
        )
    return Period(begin, stop)


def pick_tables(report: str, tables: Sequence[Table], only: str | None) -> tuple[Table, ...]:
    """The tables to show: all of them, or the one named ``only``."""
    if only is None:
        return tuple(tables)
    chosen = tuple(t for t in tables if t.name == only)
    if not chosen:
        names = ", ".join(REPORT_TABLES[report])
        raise BadParameter("table", f"{report} has no table {only!r}; its tables: {names}")
    return chosen


def tables_csv(tables: Sequence[Table]) -> str:
    """One table as plain CSV; several as sections, each opened by a ``# NAME`` line and
    parted by an empty line (split on those to read them apart).

    >>> one = Table("a", ("x",), ((1,),))
    >>> print(tables_csv([one, Table("b", ("y",), ((2,),))]), end="")
    # a
    x
    1
    <BLANKLINE>
    # b
    y
    2
    """
    if len(tables) == 1:
        return tables[0].to_csv()
    return "\n".join(f"# {table.name}\n{table.to_csv()}" for table in tables)
