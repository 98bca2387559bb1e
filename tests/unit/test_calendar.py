"""Business-hours calendars: nights, weekends, holidays, time zones and DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadgate.domain.calendar import (
    END_OF_DAY,
    WORKWEEK,
    BusinessCalendar,
    CalendarError,
    NaiveDatetimeError,
    Weekday,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
H = timedelta(hours=1)


def office(name: str, zone: str, holidays: tuple[date, ...] = ()) -> BusinessCalendar:
    return BusinessCalendar.weekly(
        name, zone, {day: [(time(9), time(17))] for day in WORKWEEK}, holidays
    )


def always(zone: str) -> BusinessCalendar:
    return BusinessCalendar.weekly(
        "always", zone, {day: [(time(0), END_OF_DAY)] for day in Weekday}
    )


def at(zone: ZoneInfo, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=zone)


BERLIN_OFFICE = office("berlin", "Europe/Berlin", (date(2026, 12, 24), date(2026, 12, 25)))
NY_OFFICE = office("ny", "America/New_York", (date(2026, 11, 26),))


def test_within_one_day() -> None:
    start = at(BERLIN, 2026, 3, 2, 10)  # Monday 10:00 CET
    assert BERLIN_OFFICE.add_business_time(start, 4 * H) == at(BERLIN, 2026, 3, 2, 14)


def test_results_are_utc() -> None:
    due = BERLIN_OFFICE.add_business_time(at(BERLIN, 2026, 3, 2, 10), H)
    assert due.tzinfo is UTC and due == datetime(2026, 3, 2, 10, tzinfo=UTC)


def test_ending_exactly_at_closing_time_stays_there() -> None:
    start = at(BERLIN, 2026, 3, 2, 13)
    assert BERLIN_OFFICE.add_business_time(start, 4 * H) == at(BERLIN, 2026, 3, 2, 17)
    assert BERLIN_OFFICE.add_business_time(start, 4 * H + timedelta(seconds=1)) == at(
        BERLIN, 2026, 3, 3, 9, 0, 1
    )


def test_overnight() -> None:
    start = at(BERLIN, 2026, 3, 3, 16)  # Tuesday 16:00
    assert BERLIN_OFFICE.add_business_time(start, 4 * H) == at(BERLIN, 2026, 3, 4, 12)
    assert BERLIN_OFFICE.business_time_between(start, at(BERLIN, 2026, 3, 4, 12)) == 4 * H


def test_handoff_at_night_starts_the_clock_at_opening() -> None:
    start = at(BERLIN, 2026, 3, 3, 23, 30)
    assert BERLIN_OFFICE.add_business_time(start, H) == at(BERLIN, 2026, 3, 4, 10)
    assert BERLIN_OFFICE.next_open(start) == at(BERLIN, 2026, 3, 4, 9)


def test_over_a_weekend() -> None:
    friday = at(BERLIN, 2026, 3, 6, 15)
    assert BERLIN_OFFICE.add_business_time(friday, 4 * H) == at(BERLIN, 2026, 3, 9, 11)
    saturday = at(BERLIN, 2026, 3, 7, 12)
    assert BERLIN_OFFICE.add_business_time(saturday, H) == at(BERLIN, 2026, 3, 9, 10)
    assert BERLIN_OFFICE.business_time_between(saturday, at(BERLIN, 2026, 3, 8, 23)) == timedelta()


def test_over_holidays() -> None:
    # Wednesday 23 Dec 16:00 → 24th and 25th are holidays, 26th/27th a weekend.
    start = at(BERLIN, 2026, 12, 23, 16)
    assert BERLIN_OFFICE.add_business_time(start, 4 * H) == at(BERLIN, 2026, 12, 28, 12)
    assert not BERLIN_OFFICE.is_open(at(BERLIN, 2026, 12, 24, 10))
    thanksgiving_eve = at(NEW_YORK, 2026, 11, 25, 15)
    assert NY_OFFICE.add_business_time(thanksgiving_eve, 4 * H) == at(NEW_YORK, 2026, 11, 27, 11)


def test_time_zones_give_different_instants_for_the_same_local_hours() -> None:
    moment = datetime(2026, 3, 2, 14, tzinfo=UTC)  # 15:00 Berlin, 09:00 New York
    assert BERLIN_OFFICE.add_business_time(moment, 4 * H) == datetime(2026, 3, 3, 10, tzinfo=UTC)
    assert NY_OFFICE.add_business_time(moment, 4 * H) == datetime(2026, 3, 2, 18, tzinfo=UTC)
    # An input in any zone means the same instant.
    assert NY_OFFICE.add_business_time(moment.astimezone(BERLIN), 4 * H) == datetime(
        2026, 3, 2, 18, tzinfo=UTC
    )


def test_split_hours_and_zero_duration() -> None:
    lunch = BusinessCalendar.weekly(
        "lunch", "Europe/Berlin", {Weekday.MONDAY: [(time(13), time(17)), (time(9), time(12))]}
    )
    start = at(BERLIN, 2026, 3, 2, 11)
    assert lunch.add_business_time(start, 2 * H) == at(BERLIN, 2026, 3, 2, 14)
    assert lunch.is_open(start) and not lunch.is_open(at(BERLIN, 2026, 3, 2, 12, 30))
    assert lunch.next_open(at(BERLIN, 2026, 3, 2, 12, 30)) == at(BERLIN, 2026, 3, 2, 13)
    assert lunch.add_business_time(at(BERLIN, 2026, 3, 2, 12, 30), timedelta()) == at(
        BERLIN, 2026, 3, 2, 12, 30
    )
    assert lunch.is_open(at(BERLIN, 2026, 3, 2, 9)) and not lunch.is_open(
        at(BERLIN, 2026, 3, 2, 17)
    )


# -- daylight saving time, 2026 ---------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "day", "hours"),
    [
        ("Europe/Berlin", date(2026, 3, 29), 23),
        ("Europe/Berlin", date(2026, 10, 25), 25),
        ("America/New_York", date(2026, 3, 8), 23),
        ("America/New_York", date(2026, 11, 1), 25),
        ("Europe/Berlin", date(2026, 3, 30), 24),
    ],
)
def test_an_always_open_calendar_counts_real_time_on_dst_days(
    zone: str, day: date, hours: int
) -> None:
    calendar = always(zone)
    tz = ZoneInfo(zone)
    midnight = datetime.combine(day, time(0), tz)
    next_midnight = datetime.combine(day + timedelta(days=1), time(0), tz)
    assert calendar.business_time_between(midnight, next_midnight) == hours * H
    assert calendar.add_business_time(midnight, hours * H) == next_midnight


def test_office_hours_stay_local_across_the_berlin_spring_change() -> None:
    # Friday 27 March 16:00 CET (UTC+1); clocks go forward on Sunday 29 March.
    friday = at(BERLIN, 2026, 3, 27, 16)
    due = BERLIN_OFFICE.add_business_time(friday, 4 * H)
    assert due == at(BERLIN, 2026, 3, 30, 12)  # Monday 12:00 CEST
    assert due == datetime(2026, 3, 30, 10, tzinfo=UTC)
    assert BERLIN_OFFICE.business_time_between(friday, due) == 4 * H


def test_office_hours_stay_local_across_the_berlin_autumn_change() -> None:
    friday = at(BERLIN, 2026, 10, 23, 16)  # CEST, UTC+2
    due = BERLIN_OFFICE.add_business_time(friday, 4 * H)
    assert due == datetime(2026, 10, 26, 11, tzinfo=UTC)  # Monday 12:00 CET, UTC+1


def test_new_york_changes_and_the_weeks_between_the_two_zones() -> None:
    friday = at(NEW_YORK, 2026, 3, 6, 15)  # EST, UTC-5
    assert NY_OFFICE.add_business_time(friday, 4 * H) == datetime(2026, 3, 9, 15, tzinfo=UTC)
    autumn = at(NEW_YORK, 2026, 10, 30, 15)  # EDT, UTC-4
    assert NY_OFFICE.add_business_time(autumn, 4 * H) == datetime(2026, 11, 2, 16, tzinfo=UTC)
    # From 8 to 29 March New York is on summer time and Berlin is not: 5 hours apart.
    moment = datetime(2026, 3, 16, 13, tzinfo=UTC)
    assert NY_OFFICE.next_open(moment) == datetime(2026, 3, 16, 13, tzinfo=UTC)
    assert BERLIN_OFFICE.is_open(moment)


def test_a_span_in_the_spring_gap_is_empty_and_a_doubled_hour_counts_twice() -> None:
    night = BusinessCalendar.weekly(
        "night", "Europe/Berlin", {Weekday.SUNDAY: [(time(1), time(4))]}
    )
    spring = at(BERLIN, 2026, 3, 29, 0)
    assert night.business_time_between(spring, spring + timedelta(days=1)) == 2 * H
    autumn = at(BERLIN, 2026, 10, 25, 0)
    assert night.business_time_between(autumn, autumn + timedelta(days=1)) == 4 * H
    gap = BusinessCalendar.weekly(
        "gap", "Europe/Berlin", {Weekday.SUNDAY: [(time(2, 15), time(2, 45))]}
    )
    assert gap.business_time_between(spring, spring + timedelta(days=1)) == timedelta()
    assert gap.business_time_between(autumn, autumn + timedelta(days=1)) == timedelta(minutes=30)


def test_between_is_signed_and_additive() -> None:
    a, b = at(BERLIN, 2026, 3, 2, 10), at(BERLIN, 2026, 3, 3, 11)
    assert BERLIN_OFFICE.business_time_between(a, b) == 9 * H
    assert BERLIN_OFFICE.business_time_between(b, a) == -9 * H


# -- refusals ---------------------------------------------------------------------------


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2026, 3, 2, 10)
    with pytest.raises(NaiveDatetimeError):
        BERLIN_OFFICE.add_business_time(naive, H)
    with pytest.raises(NaiveDatetimeError):
        BERLIN_OFFICE.business_time_between(naive, naive)
    with pytest.raises(NaiveDatetimeError):
        BERLIN_OFFICE.is_open(naive)
    with pytest.raises(NaiveDatetimeError):
        BERLIN_OFFICE.next_open(naive)


def test_negative_durations_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        BERLIN_OFFICE.add_business_time(at(BERLIN, 2026, 3, 2, 10), -H)


@pytest.mark.parametrize(
    ("zone", "hours", "message"),
    [
        ("Europe/Berlinn", {0: [(time(9), time(17))]}, "unknown time zone"),
        ("Europe/Berlin", {0: [(time(17), time(9))]}, "must end after it starts"),
        ("Europe/Berlin", {0: [(time(9), time(13)), (time(12), time(17))]}, "overlap"),
        ("Europe/Berlin", {}, "no working hours"),
    ],
)
def test_invalid_calendars_are_refused(
    zone: str, hours: dict[int, list[tuple[time, time]]], message: str
) -> None:
    with pytest.raises(CalendarError, match=message):
        BusinessCalendar.weekly("bad", zone, hours)


# -- properties -------------------------------------------------------------------------

CALENDARS = [
    BERLIN_OFFICE,
    NY_OFFICE,
    always("America/New_York"),
    # Split hours, a Sunday night across the 02:00 changes, a 30-minute DST zone.
    BusinessCalendar.weekly(
        "odd",
        "Australia/Lord_Howe",
        {
            Weekday.MONDAY: [(time(8), time(12)), (time(13), time(18, 30))],
            Weekday.SATURDAY: [(time(10), time(11))],
            Weekday.SUNDAY: [(time(0), time(3)), (time(22), END_OF_DAY)],
        },
        {date(2026, 4, 6)},
    ),
    BusinessCalendar.weekly(
        "night", "Europe/Berlin", {Weekday.SUNDAY: [(time(1), time(4))]}, {date(2026, 7, 5)}
    ),
]
instants = st.datetimes(
    min_value=datetime(2025, 12, 1), max_value=datetime(2027, 2, 1), timezones=st.just(UTC)
)
durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=400))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(CALENDARS), instants, durations)
def test_add_and_between_agree(
    calendar: BusinessCalendar, start: datetime, duration: timedelta
) -> None:
    due = calendar.add_business_time(start, duration)
    assert due >= start
    assert calendar.business_time_between(start, due) == duration
    # ...and it is the earliest such instant: just before, less time has passed.
    if duration:
        assert calendar.business_time_between(start, due - timedelta(microseconds=1)) < duration


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(CALENDARS), instants, instants, instants)
def test_between_adds_up(calendar: BusinessCalendar, a: datetime, b: datetime, c: datetime) -> None:
    between = calendar.business_time_between
    assert between(a, b) + between(b, c) == between(a, c)
    assert between(a, b) <= abs(b - a)
    assert calendar.next_open(a) >= a and calendar.is_open(calendar.next_open(a))
