"""Small statistics the reports share: percentiles and the Wilson score interval.

Percentiles are computed here, in Python, over one narrow column the SQL returns:
SQLite has no ``percentile_cont``, and one implementation keeps both back ends equal.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Z_95 = 1.959963984540054  # the standard normal quantile for a two-sided 95% interval


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-quantile (0 ≤ q ≤ 1) with linear interpolation between closest ranks,
    the definition of PostgreSQL's ``percentile_cont`` and numpy's default; None when empty.

    >>> percentile([1, 2, 3, 4], 0.5), percentile([1, 2, 3, 4], 0.75), percentile([], 0.5)
    (2.5, 3.25, None)
    """
    if not 0 <= q <= 1:
        raise ValueError(f"quantile {q} is not between 0 and 1")
    if not values:
        return None
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    fraction = position - low
    return ordered[low] + (ordered[high] - ordered[low]) * fraction


def wilson(successes: int, trials: int, z: float = Z_95) -> tuple[float, float] | None:
    """The Wilson score interval for a proportion ``successes / trials``; None for 0 trials.

    Unlike the normal approximation it stays inside [0, 1] and is sensible for small
    counts and for rates near 0 or 1, which is what small segments of a funnel give.

    >>> low, high = wilson(8, 10)
    >>> round(low, 4), round(high, 4)
    (0.4902, 0.9433)
    >>> wilson(0, 0) is None
    True
    """
    if trials < 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 ≤ successes ≤ trials (got {successes} of {trials})")
    if trials == 0:
        return None
    p = successes / trials
    z2 = z * z
    denominator = 1 + z2 / trials
    centre = (p + z2 / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / denominator
    # At 0 or all successes one bound is exactly 0 or 1; floating point gives 0.99999...
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return low, high


def ratio(part: int | float, whole: int | float) -> float | None:
    """``part / whole``, or None when ``whole`` is 0 (a rate of nothing is not 0%)."""
    return part / whole if whole else None


@dataclass(frozen=True, slots=True)
class Durations:
    """How long something took over ``count`` cases, in one unit (the field names say
    which): median, 75th and 90th percentile and mean; None when there are no cases.

    >>> Durations.of([1.0, 2.0, 3.0, 10.0])
    Durations(count=4, median=2.5, p75=4.75, p90=7.9, mean=4.0)
    """

    count: int
    median: float | None
    p75: float | None
    p90: float | None
    mean: float | None

    @classmethod
    def of(cls, values: Sequence[float]) -> Durations:
        def r(value: float | None) -> float | None:
            return None if value is None else round(value, 4)

        return cls(
            count=len(values),
            median=r(percentile(values, 0.5)),
            p75=r(percentile(values, 0.75)),
            p90=r(percentile(values, 0.9)),
            mean=r(sum(values) / len(values)) if values else None,
        )
