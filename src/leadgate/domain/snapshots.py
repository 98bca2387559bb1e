"""Which moments a predictive model learns from, and what the right answer was at each.

Each lead is looked at on landmarks of its life: when it was first seen, and a given
number of days later while it is still open (has not reached the target). The label of a
landmark ``t`` is whether the lead reached the target in ``(t, t + horizon]``.

A landmark is *matured* when ``t + horizon`` has passed: its label can no longer change.
Training uses matured landmarks only. When the recorded history is too short for that
(an import of leads and outcomes without dates, for instance), it falls back to one
landmark per lead, when it was first seen, labelled with what is known today: *censored*
labels, and the report says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

DEFAULT_LANDMARKS = (0.0, 30.0, 90.0)


class LabelMode(StrEnum):
    MATURED = "matured"
    CENSORED = "censored"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A lead at one landmark: the moment, its label, and whether the label is final."""

    lead_id: int
    at: datetime
    label: bool
    matured: bool
    landmark: float


def lead_snapshots(
    lead_id: int,
    seen_at: datetime,
    reached: datetime | None,
    *,
    now: datetime,
    horizon: timedelta,
    landmarks: Sequence[float] = DEFAULT_LANDMARKS,
) -> list[Snapshot]:
    """Given when a lead was first seen and when it reached the target (None: not yet),
    return its snapshots at the landmarks (days after ``seen_at``) while it is open."""
    found: list[Snapshot] = []
    for days in sorted(landmarks):
        at = seen_at + timedelta(days=days)
        if at > now or (reached is not None and reached <= at):
            break  # in the future, or already reached: nothing left to predict
        label = reached is not None and reached <= at + horizon
        found.append(Snapshot(lead_id, at, label, at + horizon <= now, days))
    return found


def choose_snapshots(
    snapshots: Sequence[Snapshot], *, min_positives: int, min_negatives: int
) -> tuple[list[Snapshot], LabelMode]:
    """Given every lead's snapshots, return those to train on and how they are labelled:
    the matured ones when they hold enough of each class, else each lead's first snapshot
    with its censored label."""
    matured = [s for s in snapshots if s.matured]
    positives = sum(s.label for s in matured)
    if positives >= min_positives and len(matured) - positives >= min_negatives:
        return matured, LabelMode.MATURED
    first: dict[int, Snapshot] = {}
    for s in snapshots:
        if s.lead_id not in first or s.at < first[s.lead_id].at:
            first[s.lead_id] = s
    return sorted(first.values(), key=lambda s: s.lead_id), LabelMode.CENSORED
