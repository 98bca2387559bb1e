"""Predictive scoring in the domain: targets, labels, and what a trained model answers.

A predictive model estimates the probability that a lead reaches a target stage (SQL,
opportunity or customer) within a horizon, from what was known about it at a moment.
Training, calibration and serialisation live in ``leadgate.adapters.ml``; the domain only
defines the questions and the answers, so that scoring and gates stay pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from leadgate.domain.lifecycle import Stage

FeatureValue = str | float | None
FeatureRow = dict[str, FeatureValue]
"""One lead's features at one moment: name → text (categorical), number, or None (unknown).

A name missing from the row takes its column's default: 0 for counts, unknown otherwise
(see ``leadgate.domain.features.absent_value``)."""


class Target(StrEnum):
    """The stage a predictive model learns to foresee."""

    SQL = "sql"
    OPPORTUNITY = "opportunity"
    CUSTOMER = "customer"


# A lead has reached a target when it enters one of these stages (``lost`` is a lost
# opportunity, so it was an opportunity first) or when sales report one of these outcomes.
_STAGES: dict[Target, frozenset[str]] = {
    Target.SQL: frozenset({Stage.SQL, Stage.OPPORTUNITY, Stage.CUSTOMER, Stage.LOST}),
    Target.OPPORTUNITY: frozenset({Stage.OPPORTUNITY, Stage.CUSTOMER, Stage.LOST}),
    Target.CUSTOMER: frozenset({Stage.CUSTOMER}),
}
_OUTCOMES: dict[Target, frozenset[str]] = {
    Target.SQL: frozenset({"accepted", "opportunity", "won", "lost"}),
    Target.OPPORTUNITY: frozenset({"opportunity", "won", "lost"}),
    Target.CUSTOMER: frozenset({"won"}),
}


@dataclass(frozen=True, slots=True)
class Milestone:
    """A stage a lead entered (a transition) or an outcome sales reported, at a time."""

    occurred_at: datetime
    stage: str | None = None
    outcome: str | None = None

    def reaches(self, target: Target) -> bool:
        """Given a target, return whether this milestone means the lead reached it."""
        if self.stage is not None and self.stage in _STAGES[target]:
            return True
        return self.outcome is not None and self.outcome in _OUTCOMES[target]


def reached_at(target: Target, milestones: Iterable[Milestone]) -> datetime | None:
    """Given a lead's milestones, return when it first reached ``target`` (None: never)."""
    times = [m.occurred_at for m in milestones if m.reaches(target)]
    return min(times) if times else None


def stage_before(milestones: Iterable[Milestone], at: datetime) -> str:
    """Given a lead's milestones, return its stage just before ``at``.

    Strictly before: a transition made at ``at`` itself (a gate met by this very score)
    must not feed the prediction that the gate may read.
    """
    stage, when = Stage.LEAD.value, None
    for m in milestones:
        if m.stage is not None and m.occurred_at < at and (when is None or m.occurred_at >= when):
            stage, when = m.stage, m.occurred_at
    return stage


@dataclass(frozen=True, slots=True)
class Factor:
    """One feature's share of a lead's prediction, in log-odds against the average lead.

    Example: ``Factor("trait.lead_origin", "Lead Add Form", 1.9)``: that origin raises
    this lead's odds about e^1.9 ≈ 6.7 times.
    """

    feature: str
    value: str
    contribution: float


@dataclass(frozen=True, slots=True)
class Prediction:
    """A calibrated probability and, when asked for, the features that moved it most."""

    probability: float
    factors: tuple[Factor, ...] = ()


class Predictor(Protocol):
    """A trained model: feature rows in, predictions out (one per row, in order)."""

    def predict(
        self, rows: Sequence[FeatureRow], *, explain: bool = False, top: int = 5
    ) -> list[Prediction]: ...
