"""The reporting period every analytics function takes: ``[start, end)`` in aware times."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any


@dataclass(frozen=True, slots=True)
class Period:
    """A half-open span of time ``[start, end)``: a moment at ``end`` belongs to the next one.

    Both ends must carry a time zone (leadgate stores UTC; a naive time would be read in
    nobody knows which zone). Half-open periods tile: March and April share no moment.

    >>> march = Period(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
    >>> march.contains(datetime(2026, 3, 31, 23, 59, tzinfo=UTC)), march.days
    (True, 31.0)
    >>> march.contains(datetime(2026, 4, 1, tzinfo=UTC))
    False
    """

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        for name, value in (("start", self.start), ("end", self.end)):
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(f"period {name} {value.isoformat()} has no time zone")
        if self.end <= self.start:
            raise ValueError(
                f"period end {self.end.isoformat()} is not after its start {self.start.isoformat()}"
            )

    @classmethod
    def last_days(cls, days: float, *, now: datetime) -> Period:
        """The ``days`` days up to ``now``.

        >>> Period.last_days(7, now=datetime(2026, 3, 8, tzinfo=UTC)).start.isoformat()
        '2026-03-01T00:00:00+00:00'
        """
        return cls(now - timedelta(days=days), now)

    @property
    def days(self) -> float:
        return (self.end - self.start) / timedelta(days=1)

    def contains(self, at: datetime) -> bool:
        return self.start <= at < self.end

    def to_json(self) -> dict[str, Any]:
        return {
            "from": self.start.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "to": self.end.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        }
