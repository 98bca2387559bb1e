"""The analytics building blocks that need no database: doctests, statistics, periods,
tables; and the SQL helpers checked on both back ends against Python's own arithmetic."""

from __future__ import annotations

import doctest
import importlib
import math
import statistics
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, literal, select

from leadgate.adapters.db import tables as t
from leadgate.analytics.output import Table
from leadgate.analytics.periods import Period
from leadgate.analytics.sql import month_start, seconds_between, week_start
from leadgate.analytics.stats import Durations, percentile, wilson

MODULES = [
    "account_report",
    "attribution",
    "channels",
    "dimensions",
    "entries",
    "funnel_report",
    "handoff_report",
    "output",
    "periods",
    "signals",
    "sql",
    "stats",
    "velocity",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(f"leadgate.analytics.{name}")
    failed, _ = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert failed == 0


def test_percentiles_agree_with_the_statistics_module() -> None:
    for values in ([3.0], [1.0, 9.0], [5.0, 1.0, 4.0, 2.0, 8.0, 7.0, 3.0]):
        quartiles = (
            statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else None
        )
        assert percentile(values, 0.5) == pytest.approx(statistics.median(values))
        if quartiles:
            assert percentile(values, 0.75) == pytest.approx(quartiles[2])
    assert percentile([2.0, 4.0], 0) == 2.0 and percentile([2.0, 4.0], 1) == 4.0
    with pytest.raises(ValueError):
        percentile([1.0], 1.5)
    assert Durations.of([]) == Durations(0, None, None, None, None)


def test_wilson_interval() -> None:
    # Known values: 0 of 10 → [0, 0.2775]; 10 of 10 → [0.7225, 1]; 50 of 100 → ±0.0962.
    low, high = wilson(0, 10)  # type: ignore[misc]
    assert low == 0 and high == pytest.approx(0.2775, abs=1e-4)
    low, high = wilson(10, 10)  # type: ignore[misc]
    assert low == pytest.approx(0.7225, abs=1e-4) and high == 1
    low, high = wilson(50, 100)  # type: ignore[misc]
    assert (low, high) == pytest.approx((0.4038, 0.5962), abs=1e-4)
    assert wilson(0, 0) is None
    with pytest.raises(ValueError):
        wilson(3, 2)


def test_periods_need_time_zones_and_an_order() -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="time zone"):
        Period(datetime(2026, 3, 1), start)  # a naive time: the point of the test
    with pytest.raises(ValueError, match="not after"):
        Period(start, start)
    assert Period.last_days(2, now=start).start == start - timedelta(days=2)


def test_tables_check_their_width_and_write_csv() -> None:
    table = Table.of("x", ("a", "b"), [(1, None), ("q,r", 0.5)])
    assert table.to_csv() == 'a,b\n1,\n"q,r",0.5\n'
    with pytest.raises(ValueError, match="cells"):
        Table.of("x", ("a", "b"), [(1,)])


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 8, 0, 0, 1, tzinfo=UTC)),
        (datetime(2026, 1, 31, 23, tzinfo=UTC), datetime(2026, 2, 1, 0, 30, tzinfo=UTC)),
        (datetime(2026, 3, 29, 12, tzinfo=UTC), datetime(2026, 3, 29, 12, tzinfo=UTC)),
    ],
)
def test_sql_time_helpers_on_both_back_ends(engine: Engine, start: datetime, end: datetime) -> None:
    a = literal(start, t.UTCDateTime())
    b = literal(end, t.UTCDateTime())
    with engine.connect() as c:
        seconds, week, month = c.execute(
            select(seconds_between(c, a, b), week_start(c, b), month_start(c, b))
        ).one()
    assert math.isclose(seconds, (end - start).total_seconds(), abs_tol=1e-3)
    assert week == (end.date() - timedelta(days=end.weekday())).isoformat()
    assert month == end.date().replace(day=1).isoformat()


def test_sunday_belongs_to_the_week_before(engine: Engine) -> None:
    sunday = datetime(2026, 3, 8, 23, 59, tzinfo=UTC)
    with engine.connect() as c:
        week = c.execute(select(week_start(c, literal(sunday, t.UTCDateTime())))).scalar_one()
    assert week == "2026-03-02"
