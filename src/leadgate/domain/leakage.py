"""Screening attributes before a model learns from them: leaks and identifiers.

Profile attributes are read as they are stored now (leadgate keeps no history of them),
so an attribute sales fill in after contact ("lead quality", a call-outcome tag) tells a
model what happened. Two symptoms are checked:

* **determines the label**: the attribute's values alone rank converted leads above the
  others almost perfectly (out-of-fold, so a value seen once cannot vouch for itself);
* **filled after contact**: its fill rate differs a lot between converted leads and the
  others (sales fill it for the leads they work, and those are the ones that convert).

Neither proves a leak; both are reported so a person can decide (``--exclude``).
Identifiers (a value per lead: ids, lead numbers) are left out without asking: a model
can only memorise them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from leadgate.domain.predictive import FeatureValue

_ACTIVITY = (
    "account.touches.",
    "account.engaged_contacts.",
    "account.intent.",
    "account.intent_max.",
)


class Concern(StrEnum):
    DETERMINES_LABEL = "determines_label"
    FILLED_AFTER_CONTACT = "filled_after_contact"
    IDENTIFIER = "identifier"


@dataclass(frozen=True, slots=True)
class Screening:
    """One attribute and what is suspicious about it, with the numbers."""

    feature: str
    concern: Concern
    detail: str


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When to speak up. ``auc``: single-attribute out-of-fold ROC AUC at or above which
    values 'nearly determine' the label; ``fill_gap`` and ``fill_ratio``: how different the
    fill rates of converted and other leads must be (both); ``identifier``: share of
    distinct values among the filled ones."""

    auc: float = 0.90
    fill_gap: float = 0.25
    fill_ratio: float = 1.5
    identifier: float = 0.95
    min_filled: int = 50


def is_profile(name: str) -> bool:
    """Given a feature name, return whether it is a stored attribute (not activity)."""
    if name.startswith(("lead.", "trait.")):
        return name not in ("lead.age_days", "lead.stage")
    return name.startswith("account.") and not name.startswith(_ACTIVITY)


def screen(
    rows: Sequence[Mapping[str, FeatureValue]],
    labels: Sequence[bool],
    folds: Sequence[int],
    thresholds: Thresholds = Thresholds(),
) -> list[Screening]:
    """Given rows, their labels and a fold (0 or 1) per row, return the concerns about
    their profile attributes, one per attribute at most, in name order."""
    names = sorted({name for row in rows for name in row if is_profile(name)})
    positives = sum(labels)
    negatives = len(labels) - positives
    found: list[Screening] = []
    for name in names:
        values = [row.get(name) for row in rows]
        concern = _identifier(name, values, thresholds)
        if concern is None and positives and negatives:
            concern = _fill_rates(name, values, labels, positives, negatives, thresholds)
            concern = concern or _determines(name, values, labels, folds, thresholds)
        if concern is not None:
            found.append(concern)
    return found


def _identifier(name: str, values: list[FeatureValue], t: Thresholds) -> Screening | None:
    filled = [v for v in values if v is not None]
    if len(filled) < max(t.min_filled, len(values) // 2):
        return None
    # Continuous measurements (revenue with cents) are all different too: only text and
    # whole numbers can be identifiers.
    if any(isinstance(v, float) and not v.is_integer() for v in filled):
        return None
    distinct = len(set(filled))
    if distinct < t.identifier * len(filled):
        return None
    return Screening(
        name,
        Concern.IDENTIFIER,
        f"{distinct} distinct values in {len(filled)} leads: an identifier, left out",
    )


def _fill_rates(
    name: str,
    values: list[FeatureValue],
    labels: Sequence[bool],
    positives: int,
    negatives: int,
    t: Thresholds,
) -> Screening | None:
    filled_pos = sum(1 for v, y in zip(values, labels, strict=True) if y and v is not None)
    filled_neg = sum(1 for v, y in zip(values, labels, strict=True) if not y and v is not None)
    if filled_pos + filled_neg < t.min_filled:
        return None
    rate_pos, rate_neg = filled_pos / positives, filled_neg / negatives
    high, low = max(rate_pos, rate_neg), min(rate_pos, rate_neg)
    if high - low < t.fill_gap or (low > 0 and high / low < t.fill_ratio):
        return None
    return Screening(
        name,
        Concern.FILLED_AFTER_CONTACT,
        f"filled for {rate_pos:.0%} of converted leads but {rate_neg:.0%} of the others: "
        "possibly filled in after sales contact",
    )


def _determines(
    name: str,
    values: list[FeatureValue],
    labels: Sequence[bool],
    folds: Sequence[int],
    t: Thresholds,
) -> Screening | None:
    keys = _keys(values)
    # Per value and fold: [converted, all]. Each row is scored with the other fold's
    # conversion rate of its value, so an identifier-like value cannot vouch for itself.
    counts: list[dict[str, list[int]]] = [{}, {}]
    for key, label, fold in zip(keys, labels, folds, strict=True):
        cell = counts[fold % 2].setdefault(key, [0, 0])
        cell[0] += int(label)
        cell[1] += 1
    prior = sum(labels) / len(labels)
    encoded = []
    for key, fold in zip(keys, folds, strict=True):
        converted, seen = counts[1 - fold % 2].get(key, (0, 0))
        encoded.append((converted + 10 * prior) / (seen + 10))
    auc = roc_auc(encoded, labels)
    if auc < t.auc:
        return None
    return Screening(
        name,
        Concern.DETERMINES_LABEL,
        f"its values alone rank converted leads first with ROC AUC {auc:.2f} "
        "(out of fold): they nearly determine the label",
    )


def _keys(values: list[FeatureValue]) -> list[str]:
    """Text as itself (case-folded); numbers by decile, so that a measurement is judged by
    its range; missing as its own value."""
    numbers = sorted(v for v in values if isinstance(v, float))
    edges = sorted({numbers[len(numbers) * k // 10] for k in range(1, 10)}) if numbers else []
    keys = []
    for v in values:
        if v is None:
            keys.append("\0missing")
        elif isinstance(v, float):
            keys.append(f"\0bin{sum(1 for e in edges if v >= e)}")
        else:
            keys.append(v.casefold())
    return keys


def roc_auc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """Given scores and labels, return the ROC AUC (ties count half), or 0.5 when one
    class is absent. Pure Python (Mann-Whitney U over average ranks)."""
    positives = sum(1 for y in labels if y)
    negatives = len(labels) - positives
    if not positives or not negatives:
        return 0.5
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    rank_sum = 0.0
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        average = (i + j) / 2 + 1
        rank_sum += average * sum(1 for k in range(i, j + 1) if labels[order[k]])
        i = j + 1
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)
