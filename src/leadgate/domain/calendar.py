"""Business-hours calendars: when a team works, so that SLA clocks only run in working time.

A calendar is a time zone, the local working hours of each weekday and a set of local
holidays. Every instant going in or out is an aware datetime; results are in UTC. Working
hours are wall-clock times in the calendar's zone, so "09:00-17:00" stays 09:00-17:00
local across a daylight-saving change, and business time is real elapsed time: a day open
00:00-24:00 counts 23 hours on the spring-forward day and 25 on the fall-back day.

Two wall-clock corner cases, both only at a DST change:

- a local time that happens twice (fall back) means its first occurrence;
- a local time that never happens (spring forward) means the moment the clock jumped,
  so "02:00-03:00" on that day in Europe/Berlin is open for no time at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import IntEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from leadgate.domain.errors import DomainError

Span = tuple[time, time]
"""Local working hours ``(start, end)``; an ``end`` of ``time(0)`` means 24:00."""

END_OF_DAY = time(0)
"""As the end of a span: midnight at the end of the day (24:00)."""

_ZERO = timedelta(0)


class CalendarError(DomainError):
    """A calendar that cannot be used: unknown time zone, invalid or overlapping hours."""


class NaiveDatetimeError(ValueError):
    """A datetime without a time zone where an instant is needed (a programming error)."""


class Weekday(IntEnum):
    """Days as ``date.weekday()`` numbers them."""

    MONDAY = 0
    TUESDAY = 1
    WEDNESDAY = 2
    THURSDAY = 3
    FRIDAY = 4
    SATURDAY = 5
    SUNDAY = 6


WORKWEEK: tuple[Weekday, ...] = (
    Weekday.MONDAY,
    Weekday.TUESDAY,
    Weekday.WEDNESDAY,
    Weekday.THURSDAY,
    Weekday.FRIDAY,
)


def zone_info(name: str) -> ZoneInfo:
    """Given an IANA time zone name ('Europe/Berlin'), return the zone or raise CalendarError."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise CalendarError(
            f"unknown time zone {name!r}; use an IANA name such as 'Europe/Berlin'"
        ) from exc


def as_utc(moment: datetime) -> datetime:
    """Given an aware datetime, return the same instant in UTC; a naive one is refused.

    Example: ``as_utc(datetime(2026, 3, 2, 9, tzinfo=ZoneInfo("Europe/Berlin")))`` is
    ``datetime(2026, 3, 2, 8, tzinfo=UTC)``.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise NaiveDatetimeError(
            f"{moment.isoformat()} has no time zone; pass an aware datetime (UTC)"
        )
    return moment.astimezone(UTC)


def span_problem(span: Span) -> str | None:
    """Given a span, return why it is invalid, or None. Used by the YAML reader too."""
    start, end = span
    if start.tzinfo is not None or end.tzinfo is not None:
        return "working hours are local times and take no time zone"
    if end != END_OF_DAY and end <= start:
        return f"a span must end after it starts, found {start:%H:%M}-{end:%H:%M}"
    return None


def spans_overlap(first: Span, second: Span) -> bool:
    """Given two valid spans of one day, return whether they share any time."""
    return _since_midnight(first[0]) < _end(second) and _since_midnight(second[0]) < _end(first)


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """When a team works: a time zone, local hours per weekday, and local holidays.

    ``weekly_hours`` has seven entries, Monday first, each a tuple of ``(start, end)``
    local times (sorted, not overlapping; ``end`` may be ``END_OF_DAY`` for 24:00). A span
    cannot cross midnight: write a night shift as two days' spans. Holidays are local
    dates on which the calendar is closed all day.

    Example::

        berlin = BusinessCalendar.weekly(
            "berlin", "Europe/Berlin", {day: [(time(9), time(17))] for day in WORKWEEK},
            holidays=[date(2026, 12, 25)],
        )
        berlin.add_business_time(datetime(2026, 3, 27, 15, tzinfo=UTC), timedelta(hours=4))
        # Friday 16:00 CET + 4 business hours = Monday 12:00 CEST (after the DST change)
        # -> datetime(2026, 3, 30, 10, tzinfo=UTC)

    Raises CalendarError for an unknown zone, invalid or overlapping spans, or a week
    without any working hours (a clock on it could never run).
    """

    name: str
    timezone: str
    weekly_hours: tuple[tuple[Span, ...], ...]
    holidays: frozenset[date] = frozenset()
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_zone", zone_info(self.timezone))
        if len(self.weekly_hours) != 7:
            raise CalendarError(
                f"calendar {self.name!r}: weekly_hours needs 7 days (Monday first), "
                f"found {len(self.weekly_hours)}"
            )
        ordered = []
        for day, spans in zip(Weekday, self.weekly_hours, strict=True):
            for span in spans:
                if problem := span_problem(span):
                    raise CalendarError(f"calendar {self.name!r}, {day.name.lower()}: {problem}")
            day_spans = tuple(sorted(spans, key=lambda span: span[0]))
            for i, first in enumerate(day_spans):
                for second in day_spans[i + 1 :]:
                    if spans_overlap(first, second):
                        raise CalendarError(
                            f"calendar {self.name!r}, {day.name.lower()}: spans "
                            f"{_show(first)} and {_show(second)} overlap"
                        )
            ordered.append(day_spans)
        if not any(ordered):
            raise CalendarError(f"calendar {self.name!r} has no working hours on any day")
        object.__setattr__(self, "weekly_hours", tuple(ordered))
        object.__setattr__(self, "holidays", frozenset(self.holidays))

    @classmethod
    def weekly(
        cls,
        name: str,
        timezone: str,
        hours: Mapping[Weekday, Sequence[Span]] | Mapping[int, Sequence[Span]],
        holidays: Iterable[date] = (),
    ) -> BusinessCalendar:
        """Given hours by weekday (days left out are closed), return the calendar.

        Example: ``BusinessCalendar.weekly("ny", "America/New_York",
        {d: [(time(9), time(17))] for d in WORKWEEK})``.
        """
        by_day: dict[int, Sequence[Span]] = {int(day): spans for day, spans in hours.items()}
        week = tuple(tuple(by_day.get(int(day), ())) for day in Weekday)
        return cls(name, timezone, week, frozenset(holidays))

    @property
    def zone(self) -> ZoneInfo:
        """The calendar's time zone."""
        return self._zone

    # -- questions about instants ---------------------------------------------------------
    def is_open(self, moment: datetime) -> bool:
        """Given an aware instant, return whether it falls in working hours ([start, end))."""
        start, _ = next(self._spans_from(as_utc(moment)))
        return start <= as_utc(moment)

    def next_open(self, moment: datetime) -> datetime:
        """Given an aware instant, return it (UTC) when open, else the next opening (UTC)."""
        moment = as_utc(moment)
        start, _ = next(self._spans_from(moment))
        return max(start, moment)

    def add_business_time(self, start: datetime, duration: timedelta) -> datetime:
        """Given an aware instant and a business duration ≥ 0, return (UTC) the earliest
        instant by which that much working time has passed since ``start``.

        A deadline that uses up a day exactly lands on closing time, not the next opening:
        with hours 09:00-17:00, 13:00 + 4h is 17:00 the same day. Zero returns ``start``.
        """
        moment = as_utc(start)
        if duration < _ZERO:
            raise ValueError(f"business duration must not be negative, found {duration}")
        if duration == _ZERO:
            return moment
        remaining = duration
        for span_start, span_end in self._spans_from(moment):
            opens = max(span_start, moment)
            length = span_end - opens
            if remaining <= length:
                return opens + remaining
            remaining -= length
        raise AssertionError("unreachable: a calendar's spans never run out")  # pragma: no cover

    def business_time_between(self, first: datetime, second: datetime) -> timedelta:
        """Given two aware instants, return the working time between them.

        The result is negative when ``second`` is before ``first`` (so "time left until
        due" goes below zero once a deadline has passed).
        Example: with hours 09:00-17:00 Monday-Friday, Friday 16:00 → Monday 10:00 is 2h.
        """
        a, b = as_utc(first), as_utc(second)
        if b < a:
            return -self.business_time_between(b, a)
        total = _ZERO
        for span_start, span_end in self._spans_from(a):
            if span_start >= b:
                break
            total += min(span_end, b) - max(span_start, a)
        return total

    # -- spans as instants ----------------------------------------------------------------
    def _spans_from(self, moment: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Yield the UTC working spans that end after ``moment`` (UTC), in order, forever."""
        # A local day's spans lie between that day's midnight and the next one, and the
        # local → UTC mapping below never goes backwards, so starting at the local date of
        # ``moment`` misses nothing.
        day = moment.astimezone(self._zone).date()
        while True:
            for span in self._day_spans(day):
                if span[1] > moment:
                    yield span
            day += timedelta(days=1)

    def _day_spans(self, day: date) -> list[tuple[datetime, datetime]]:
        if day in self.holidays:
            return []
        spans = []
        for start, end in self.weekly_hours[day.weekday()]:
            opens = self._instant(datetime.combine(day, start))
            end_day = day + timedelta(days=1) if end == END_OF_DAY else day
            closes = self._instant(datetime.combine(end_day, end))
            if closes > opens:  # a span inside a spring-forward gap is empty
                spans.append((opens, closes))
        return spans

    def _instant(self, wall: datetime) -> datetime:
        """Given a naive local wall time, return the earliest UTC instant showing it or later."""
        early = wall.replace(tzinfo=self._zone, fold=0).astimezone(UTC)
        if early.astimezone(self._zone).replace(tzinfo=None) == wall:
            return early  # exists; fold=0 is the first of two occurrences
        # The wall time fell in a spring-forward gap. The two folds bracket the jump; find
        # the first second whose wall time is at or after ``wall`` (transitions are on whole
        # seconds in the tz database).
        late = wall.replace(tzinfo=self._zone, fold=1).astimezone(UTC)
        low, high = min(early, late), max(early, late)
        steps = int((high - low).total_seconds())
        lo, hi = 0, steps
        while lo < hi:
            mid = (lo + hi) // 2
            probe = low + timedelta(seconds=mid)
            if probe.astimezone(self._zone).replace(tzinfo=None) >= wall:
                hi = mid
            else:
                lo = mid + 1
        return low + timedelta(seconds=lo)


def _since_midnight(moment: time) -> timedelta:
    return timedelta(
        hours=moment.hour,
        minutes=moment.minute,
        seconds=moment.second,
        microseconds=moment.microsecond,
    )


def _end(span: Span) -> timedelta:
    return timedelta(days=1) if span[1] == END_OF_DAY else _since_midnight(span[1])


def _show(span: Span) -> str:
    end = "24:00" if span[1] == END_OF_DAY else f"{span[1]:%H:%M}"
    return f"{span[0]:%H:%M}-{end}"
