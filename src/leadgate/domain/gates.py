"""Gates: evaluating the conditions that move a lead forward."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from leadgate.domain.predicates import compile_test
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


Facts = Callable[[TouchpointCondition], bool]
"""Whether a gate's touchpoint condition holds at the moment being evaluated: read from a
history (``history_facts``) or from a lead's incremental state (``domain.lead_state``)."""

GateCheck = Callable[[Score, Facts], bool]
"""A compiled gate condition: (score, touchpoint facts) → holds."""

Check = Callable[[Score, Sequence[Touchpoint], datetime], bool]
"""A compiled gate condition over a history: (score, touchpoints that count, at) → holds."""


def history_facts(history: Sequence[Touchpoint], at: datetime) -> Facts:
    """Given the touchpoints that count at ``at``, return the facts a gate reads from them."""
    return lambda condition: _touchpoint_fact(condition, history, at)


def _never(score: Score, facts: Facts) -> bool:
    return False


def compile_gate(condition: Condition | None) -> GateCheck:
    """Given a gate condition, return a function equal to ``holds`` over it, reading its
    touchpoint conditions from whatever facts it is given.

    Gates are evaluated for every lead a batch touches; compiling them once per model
    leaves out the pattern matching and field-name dispatch ``holds`` does on each call.
    """
    if condition is None:
        return _never
    match condition:
        case ScoreCondition(predicate):
            test = compile_test(predicate)
            read = _SCORE_READERS[ScoreField(predicate.field)]
            return lambda score, facts: test(read(score))
        case TouchpointCondition():
            fact = condition
            return lambda score, facts: facts(fact)
        case AllOf(conditions):
            checks = tuple(compile_gate(c) for c in conditions)
            return lambda score, facts: all(c(score, facts) for c in checks)
        case AnyOf(conditions):
            checks = tuple(compile_gate(c) for c in conditions)
            return lambda score, facts: any(c(score, facts) for c in checks)
    raise TypeError(f"unknown condition {condition!r}")  # pragma: no cover


def compile_condition(condition: Condition | None) -> Check:
    """As ``compile_gate``, for callers that hold the history (replays, backtests)."""
    gate = compile_gate(condition)
    return lambda score, history, at: gate(score, history_facts(history, at))


def touchpoint_conditions(condition: Condition | None) -> tuple[TouchpointCondition, ...]:
    """Given a gate condition, return its touchpoint conditions, depth first."""
    match condition:
        case TouchpointCondition():
            return (condition,)
        case AllOf(conditions) | AnyOf(conditions):
            return tuple(c for part in conditions for c in touchpoint_conditions(part))
    return ()


def score_thresholds(condition: Condition | None) -> tuple[tuple[str, float], ...]:
    """Given a gate condition, return each (score field, number) its score conditions
    compare against: a score within rounding of one of them is decided from the log."""
    match condition:
        case ScoreCondition(predicate):
            values = (
                predicate.value if isinstance(predicate.value, list | tuple) else (predicate.value,)
            )
            return tuple(
                (predicate.field, float(v))
                for v in values
                if isinstance(v, int | float) and not isinstance(v, bool)
            )
        case AllOf(conditions) | AnyOf(conditions):
            return tuple(t for part in conditions for t in score_thresholds(part))
    return ()


_SCORE_READERS: dict[ScoreField, Callable[[Score], object]] = {
    ScoreField.FIT: lambda score: score.fit,
    ScoreField.ENGAGEMENT: lambda score: score.engagement,
    ScoreField.TOTAL: lambda score: score.total,
    ScoreField.GRADE: lambda score: score.grade.value if score.grade else None,
    ScoreField.PROBABILITY: lambda score: score.probability,
}


def touchpoints_named(condition: Condition | None) -> frozenset[str]:
    """Given a gate condition, return the touchpoint names it reads (none for score-only)."""
    match condition:
        case TouchpointCondition(touchpoint=name):
            return frozenset({name})
        case AllOf(conditions) | AnyOf(conditions):
            return frozenset().union(*(touchpoints_named(c) for c in conditions))
    return frozenset()


def gate_trigger(condition: Condition | None, history: Sequence[Touchpoint]) -> str | None:
    """Given the gate a lead just met and its ordered history, return the touchpoint that
    most plausibly tipped it: the latest one the gate names, else the latest of any kind.

    Example: a skip-to-SQL gate on ``demo_request`` → ``"demo_request"`` even when page
    views came after it in the same batch. SLA policies and routing rules match on it.
    """
    named = touchpoints_named(condition)
    for touchpoint in reversed(history):
        if not named or touchpoint.name in named:
            return touchpoint.name
    return history[-1].name if history else None
