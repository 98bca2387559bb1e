"""The naive Bayes frequency baseline, as Odoo CRM's predictive lead scoring works.

For every field and value the training leads had, count how many were won and how many
lost, each count plus a light smoothing ``alpha`` (Odoo adds 0.1 so that no frequency is
zero). A lead's probability multiplies, over its fields, the share of won leads with its
value by the prior share of won leads, and the same for lost:

    s_won  = P(won)  · Π_f (won_f(v)  / Σ_v' won_f(v'))
    s_lost = P(lost) · Π_f (lost_f(v) / Σ_v' lost_f(v'))
    p      = s_won / (s_won + s_lost)

A value never seen in training (and a missing value) is neutral: it is skipped, as Odoo
skips it. Values compare case-insensitively, as rule predicates do. The result is kept
within [0.0001, 0.9999], as Odoo keeps it within 0.01 %–99.99 %.

Trained models are compared with this baseline: it is what an off-the-shelf CRM offers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from leadgate.domain.predictive import FeatureValue

_FLOOR, _CEILING = 0.0001, 0.9999


@dataclass(frozen=True, slots=True)
class NaiveBayes:
    """Smoothed won/lost counts per field and value, and the class totals."""

    won: int
    lost: int
    counts: dict[str, dict[str, tuple[float, float]]]
    totals: dict[str, tuple[float, float]]

    def probability(self, row: Mapping[str, FeatureValue]) -> float:
        """Given a lead's field values, return its probability of being won."""
        if not self.won or not self.lost:
            return _clamp(self.won / max(1, self.won + self.lost))
        log_won = math.log(self.won / (self.won + self.lost))
        log_lost = math.log(self.lost / (self.won + self.lost))
        for name, value in row.items():
            seen = self.counts.get(name)
            if seen is None or value is None:
                continue
            found = seen.get(_key(value))
            if found is None:
                continue  # unseen value: neutral
            won_total, lost_total = self.totals[name]
            log_won += math.log(found[0] / won_total)
            log_lost += math.log(found[1] / lost_total)
        return _clamp(1.0 / (1.0 + math.exp(log_lost - log_won)))


def fit_naive_bayes(
    rows: Sequence[Mapping[str, FeatureValue]],
    labels: Sequence[bool],
    *,
    alpha: float = 0.1,
) -> NaiveBayes:
    """Given leads' field values (text or numbers; numbers count as exact values) and
    whether each was won, return the frequency table."""
    raw: dict[str, dict[str, list[int]]] = {}
    for row, is_won in zip(rows, labels, strict=True):
        for name, value in row.items():
            if value is None:
                continue
            cell = raw.setdefault(name, {}).setdefault(_key(value), [0, 0])
            cell[0 if is_won else 1] += 1
    counts = {
        name: {value: (c[0] + alpha, c[1] + alpha) for value, c in values.items()}
        for name, values in raw.items()
    }
    totals = {
        name: (sum(w for w, _ in values.values()), sum(lo for _, lo in values.values()))
        for name, values in counts.items()
    }
    won = sum(1 for label in labels if label)
    return NaiveBayes(won, len(labels) - won, counts, totals)


def _key(value: FeatureValue) -> str:
    return value.casefold() if isinstance(value, str) else repr(value)


def _clamp(p: float) -> float:
    return min(_CEILING, max(_FLOOR, p))
