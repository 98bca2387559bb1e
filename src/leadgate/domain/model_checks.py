"""Semantic checks on a scoring model: gates that no lead could ever meet."""

from __future__ import annotations

import math

from leadgate.domain.predicates import Operator
from leadgate.domain.scoring_model import (
    AllOf,
    AnyOf,
    Condition,
    ScoreCondition,
    ScoringModel,
)

Where = tuple[str | int, ...]


def score_bounds(model: ScoringModel) -> dict[str, float]:
    """Upper bounds of fit, engagement and total that any lead could reach."""
    fit = sum(rule.points for rule in model.fit_rules if rule.points > 0)
    engagement = 0.0
    for rule in model.engagement_rules:
        if rule.points <= 0:
            continue
        if rule.count is not None:
            engagement += rule.points
        elif rule.cap is None:
            engagement = math.inf
        else:
            engagement += rule.cap
    if model.engagement_cap is not None:
        engagement = min(engagement, model.engagement_cap)
    return {"fit": fit, "engagement": engagement, "total": fit + engagement}


def unreachable(model: ScoringModel, condition: Condition) -> list[tuple[Where, str]]:
    """Given a gate condition, return why (and where in it) it can never hold, if so."""
    bounds = score_bounds(model)
    grades = {band.grade.value for band in model.grades}
    return _check(condition, (), bounds, grades)


def _check(
    condition: Condition, where: Where, bounds: dict[str, float], grades: set[str]
) -> list[tuple[Where, str]]:
    match condition:
        case ScoreCondition(predicate):
            name, op, value = predicate.field, predicate.op, predicate.value
            if name in bounds and op is Operator.GTE and value > bounds[name]:
                return [
                    (where, f"{name} ≥ {value:g} but the most a lead can reach is {bounds[name]:g}")
                ]
            if name in bounds and op is Operator.BETWEEN and value[0] > bounds[name]:
                return [
                    (
                        where,
                        f"{name} between {value[0]:g} and {value[1]:g} but the most "
                        f"a lead can reach is {bounds[name]:g}",
                    )
                ]
            if name == "grade" and op in (Operator.IN, Operator.EQ):
                wanted = set(value) if op is Operator.IN else {value}
                if not {str(w).upper() for w in wanted} & grades:
                    return [
                        (
                            where,
                            f"no grade band gives {', '.join(map(str, wanted))} "
                            f"(bands: {', '.join(sorted(grades)) or 'none'})",
                        )
                    ]
            if name == "probability" and op is Operator.GTE and value > 1:
                return [(where, f"probability ≥ {value:g} but a probability is at most 1")]
            return []
        case AllOf(conditions):
            found = [
                p
                for i, c in enumerate(conditions)
                for p in _check(c, (*where, "all", i), bounds, grades)
            ]
            return found or _contradictions(conditions, where)
        case AnyOf(conditions):
            parts = [
                _check(c, (*where, "any", i), bounds, grades) for i, c in enumerate(conditions)
            ]
            if conditions and all(parts):
                return [p for part in parts for p in part]
            return []
    return []


def _contradictions(conditions: tuple[Condition, ...], where: Where) -> list[tuple[Where, str]]:
    """``total ≥ 100`` and ``total ≤ 50`` in one all-of can never both hold."""
    low: dict[str, float] = {}
    high: dict[str, float] = {}
    for c in conditions:
        if isinstance(c, ScoreCondition):
            p = c.predicate
            if p.op is Operator.GTE:
                low[p.field] = max(low.get(p.field, -math.inf), p.value)
            elif p.op is Operator.LTE:
                high[p.field] = min(high.get(p.field, math.inf), p.value)
    return [
        ((*where, "all"), f"{name} ≥ {low[name]:g} and {name} ≤ {high[name]:g} cannot both hold")
        for name in low
        if name in high and low[name] > high[name]
    ]
