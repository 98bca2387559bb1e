"""How the CLI and the API read a report's period and tables (no database)."""

from __future__ import annotations

import doctest
from datetime import UTC, datetime, timedelta

import pytest

from leadgate.analytics import report_params
from leadgate.analytics.output import Table
from leadgate.analytics.report_params import (
    BadParameter,
    parse_moment,
    period_of,
    pick_tables,
    tables_csv,
)

NOW = datetime(2026, 3, 31, 12, 30, tzinfo=UTC)


def test_docstring_examples_run() -> None:
    failed, _ = doctest.testmod(report_params, optionflags=doctest.ELLIPSIS)
    assert failed == 0


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-03-01", datetime(2026, 3, 1, tzinfo=UTC)),
        ("2026-03-01T09:30", datetime(2026, 3, 1, 9, 30, tzinfo=UTC)),
        ("2026-03-01 09:30:15", datetime(2026, 3, 1, 9, 30, 15, tzinfo=UTC)),
        ("2026-03-01T09:30:15.25Z", datetime(2026, 3, 1, 9, 30, 15, 250_000, tzinfo=UTC)),
        ("2026-03-01T09:30-05:00", datetime(2026, 3, 1, 14, 30, tzinfo=UTC)),
        (" 2026-03-01 ", datetime(2026, 3, 1, tzinfo=UTC)),
        ("0001-01-01T00:00:00+01:00", datetime.min.replace(tzinfo=UTC)),  # shifted past year 1
    ],
)
def test_dates_and_times_are_read_as_utc(raw: str, expected: datetime) -> None:
    assert parse_moment(raw, "from") == expected


@pytest.mark.parametrize(
    "raw", ["", "March", "2026-3-1", "20260301", "2026-02-30", "2026-03-01T25:00", "1700000000"]
)
def test_anything_else_is_refused_naming_the_parameter(raw: str) -> None:
    with pytest.raises(BadParameter) as caught:
        parse_moment(raw, "to")
    assert caught.value.name == "to"
    assert repr(raw) in str(caught.value)


def test_the_default_period_is_the_last_30_days_and_either_end_may_be_given() -> None:
    assert period_of(None, None, now=NOW).start == NOW - timedelta(days=30)
    assert period_of(None, None, now=NOW).end == NOW
    end = datetime(2026, 2, 1, tzinfo=UTC)
    assert period_of(None, end, now=NOW).start == end - timedelta(days=30)
    start = datetime(2026, 3, 30, tzinfo=UTC)
    assert period_of(start, None, now=NOW).end == NOW
    # Near the first representable moment the default start stops there.
    early = datetime(1, 1, 5, tzinfo=UTC)
    assert period_of(None, early, now=NOW).start == datetime.min.replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "end", "named"),
    [
        (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC), "from"),
        (datetime(2026, 4, 1, tzinfo=UTC), None, "from"),
        (None, datetime.min.replace(tzinfo=UTC), "to"),
    ],
)
def test_an_empty_period_is_refused(
    start: datetime | None, end: datetime | None, named: str
) -> None:
    with pytest.raises(BadParameter) as caught:
        period_of(start, end, now=NOW)
    assert caught.value.name == named


def test_tables_are_picked_by_name_and_written_as_csv_sections() -> None:
    a = Table("a", ("x", "y"), ((1, None), (2, "two, words")))
    b = Table("b", ("z",), ())
    assert pick_tables("funnel", (a, b), None) == (a, b)
    assert pick_tables("funnel", (a, b), "b") == (b,)
    with pytest.raises(BadParameter, match="its tables: stages, conversions"):
        pick_tables("funnel", (a, b), "c")
    assert tables_csv([a]) == 'x,y\n1,\n2,"two, words"\n'
    assert tables_csv([a, b]) == '# a\nx,y\n1,\n2,"two, words"\n\n# b\nz\n'
