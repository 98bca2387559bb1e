"""The period and breakdown pickers of the analytics pages, read from the query string."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from leadgate.analytics.dimensions import Dimension
from leadgate.analytics.periods import Period
from leadgate.web.auth import BadInput

PRESETS = {"7d": 7, "30d": 30, "90d": 90, "365d": 365}
PRESET_LABELS = {
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "90d": "Last 90 days",
    "365d": "Last 12 months",
    "custom": "Dates",
}


@dataclass(frozen=True, slots=True)
class Picked:
    preset: str
    period: Period
    start: date  # as shown in the date fields
    end: date  # inclusive, as people say "March 1 to March 31"


def _date(raw: str, name: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadInput(f"{name}: {raw!r} is not a date (YYYY-MM-DD)") from None


def pick_period(preset: str | None, start: str | None, end: str | None, *, now: datetime) -> Picked:
    """A preset ending today (whole UTC days: the last 30 days are the 30 days up to
    tomorrow's midnight), or ``from``–``to`` dates, both days included."""
    preset = preset or ("custom" if start or end else "30d")
    tomorrow = now.astimezone(UTC).date() + timedelta(days=1)
    if preset in PRESETS:
        first = tomorrow - timedelta(days=PRESETS[preset])
        last = tomorrow - timedelta(days=1)
    elif preset == "custom":
        if not start or not end:
            raise BadInput("from, to: give both dates for a custom period")
        first, last = _date(start, "from"), _date(end, "to")
        if last < first:
            raise BadInput(f"to: {last} is before from ({first})")
    else:
        raise BadInput(f"period: unknown period {preset!r}; one of {', '.join(PRESET_LABELS)}")
    period = Period(
        datetime.combine(first, time(), UTC),
        datetime.combine(last + timedelta(days=1), time(), UTC),
    )
    return Picked(preset, period, first, last)


def pick_dimension(raw: str | None) -> Dimension | None:
    if not raw:
        return None
    try:
        return Dimension(raw)
    except ValueError:
        known = ", ".join(d.value for d in Dimension)
        raise BadInput(f"by: unknown breakdown {raw!r}; one of {known}") from None
