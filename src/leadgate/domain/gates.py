"""Gates: evaluating the conditions that move a lead forward."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from leadgate.domain.scoring import Score
from leadgate.domain.scoring_model import (
    AllOf,
    AnyOf,
    Condition,
    ScoreCondition,
    ScoreField,
    TouchpointCondition,
)
from leadgate.domain.touchpoints import Touchpoint

_DAY = 86_400.0


def score_value(score: Score, field: str) -> object:
    """Given a score and a gate field name, return the value the gate compares."""
    match ScoreField(field):
        case ScoreField.FIT:
            return score.fit
        case ScoreField.ENGAGEMENT:
            return score.engagement
        case ScoreField.TOTAL:
            return score.total
        case ScoreField.GRADE:
            return score.grade.value if score.grade else None
        case ScoreField.PROBABILITY:
            return score.probability


def holds(
    condition: Condition | None,
    score: Score,
    history: Sequence[Touchpoint],
    at: datetime,
) -> bool:
    """Given a gate condition, the score and the touchpoints that count at ``at``, evaluate it.

    A missing condition (a gate the model leaves out) never holds.
    """
    if condition is None:
        return False
    match condition:
        case ScoreCondition(predicate):
            return predicate.test(score_value(score, predicate.field))
        case TouchpointCondition():
            return _touchpoint_fact(condition, history, at)
        case AllOf(conditions):
            return all(holds(c, score, history, at) for c in conditions)
        case AnyOf(conditions):
            return any(holds(c, score, history, at) for c in conditions)
    raise TypeError(f"unknown condition {condition!r}")  # pragma: no cover


def _touchpoint_fact(
    condition: TouchpointCondition, history: Sequence[Touchpoint], at: datetime
) -> bool:
    horizon = None if condition.within_days is None else condition.within_days * _DAY
    found = 0
    for tp in history:
        if tp.name != condition.touchpoint or tp.occurred_at > at:
            continue
        if horizon is not None and (at - tp.occurred_at).total_seconds() > horizon:
            continue
        if all(p.test(tp.attribute(p.field)) for p in condition.where):
            found += 1
            if found >= condition.at_least:
                return True
    return False
