"""Scoring: fit, engagement with decay and caps, total and grade, with an explanation.

One definition serves every path (ingest, rescore, "as of t", backtest), so they agree:

* ``fit`` = Σ points of fit rules whose predicate holds on the lead and its account;
* ``engagement`` = Σ over rules r of ``bound(cap_r, Σ_e points_r · 2^(−age_e / half_life_r))``
  over touchpoints e with time ≤ t that match r, within its look-back window; a count rule
  gives its points once while its count holds; then the model-wide engagement cap;
* ``total`` = fit + engagement; ``grade`` from the fit bands.

Touchpoints are summed in (time, message id) order so that the floating-point result does
not depend on the order they arrived in.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar

from leadgate.domain.leads import Lead
from leadgate.domain.predicates import Test, compile_test
from leadgate.domain.scoring_model import EngagementRule, FitRule, Grade, ScoringModel
from leadgate.domain.touchpoints import Touchpoint

_DAY = 86_400.0

MODEL_CAP_RULE = "engagement_cap"


@dataclass(frozen=True, slots=True)
class MatchedTouchpoint:
    """A touchpoint that fed a rule: its raw points and what is left after decay."""

    message_id: str
    name: str
    occurred_at: datetime
    points: float
    decayed: float


@dataclass(frozen=True, slots=True)
class Contribution:
    """One rule's share of a score; the ``points`` of all contributions sum to the total.

    ``raw`` is before decay, ``decayed`` after decay and before the cap, ``points`` after
    the cap. For a fit rule ``value`` is the attribute value the rule matched.
    """

    rule_id: str
    kind: Literal["fit", "engagement"]
    points: float
    raw: float
    decayed: float
    cap: float | None = None
    capped: bool = False
    matches: tuple[MatchedTouchpoint, ...] = ()
    value: Any = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class Score:
    """A lead's score at a moment, with its explanation in ``contributions``."""

    fit: float
    engagement: float
    total: float
    grade: Grade | None
    at: datetime
    contributions: tuple[Contribution, ...] = ()
    probability: float | None = None


def effective_touchpoints(
    touchpoints: Iterable[Touchpoint], at: datetime, since: datetime | None = None
) -> list[Touchpoint]:
    """Given a lead's history, return what counts at ``at``, oldest first.

    Only touchpoints with time ≤ ``at`` count; with ``since`` (a recycle that reset
    engagement at or before ``at``) only those at or after it.
    """
    cut = since if since is not None and since <= at else None
    kept = [
        tp for tp in touchpoints if tp.occurred_at <= at and (cut is None or tp.occurred_at >= cut)
    ]
    kept.sort(key=lambda tp: (tp.occurred_at, tp.message_id))
    return kept


def score_lead(
    lead: Lead,
    touchpoints: Iterable[Touchpoint],
    model: ScoringModel,
    at: datetime,
    *,
    explain: bool = True,
) -> Score:
    """Given a lead, its touchpoints and a model, return its score as of ``at``.

    With ``explain=False`` the numbers are the same; only the contributions are left out
    (the ingest and rescore hot paths store numbers, ``explain`` recomputes the rest).
    """
    history = effective_touchpoints(touchpoints, at, lead.engagement_reset_at)
    return score_history(lead, history, model, at, explain=explain)


def score_history(
    lead: Lead,
    history: Sequence[Touchpoint],
    model: ScoringModel,
    at: datetime,
    *,
    explain: bool = True,
) -> Score:
    """As ``score_lead``, for a history already cut and ordered by ``effective_touchpoints``
    (callers that also evaluate gates over it need not cut it twice)."""
    plan = compiled(model)
    contributions: list[Contribution] | None = [] if explain else None
    fit = _fit(lead, plan, contributions)
    engagement = _engagement_sum(_match(history, plan), model, at, contributions)
    return Score(
        fit=fit,
        engagement=engagement,
        total=fit + engagement,
        grade=model.grade_for(fit),
        at=at,
        contributions=tuple(contributions or ()),
    )


def fit_points(lead: Lead, model: ScoringModel) -> float:
    """Given a lead and a model, return its fit (the same number ``score_history`` gives:
    fit does not depend on the moment, so callers scoring one lead at many moments
    compute it once)."""
    return _fit(lead, compiled(model), None)


def engagement_points(
    matched: Sequence[Sequence[Touchpoint]], model: ScoringModel, at: datetime
) -> float:
    """Given, per engagement rule (by position), the touchpoints it matched that count at
    ``at`` (time ≤ ``at``, none before an engagement reset), oldest first, return the
    engagement ``score_history`` gives (the same sums, in the same order)."""
    return _engagement_sum(matched, model, at, None)


def _fit(lead: Lead, plan: CompiledModel, contributions: list[Contribution] | None) -> float:
    fit = 0.0
    for fit_rule, test in plan.fit:
        value = lead.attribute(fit_rule.predicate.field)
        if test(value):
            fit += fit_rule.points
            if contributions is not None:
                contributions.append(
                    Contribution(
                        fit_rule.id,
                        "fit",
                        fit_rule.points,
                        fit_rule.points,
                        fit_rule.points,
                        value=value,
                        description=fit_rule.description,
                    )
                )
    return fit


def _engagement_sum(
    matched: Sequence[Sequence[Touchpoint]],
    model: ScoringModel,
    at: datetime,
    contributions: list[Contribution] | None,
) -> float:
    explain = contributions is not None
    engagement = 0.0
    for index, rule in enumerate(model.engagement_rules):
        events = matched[index]
        if not events:
            continue
        contribution = _engagement(rule, events, model, at, explain)
        if contribution is None:
            continue
        engagement += contribution.points
        if contributions is not None:
            contributions.append(contribution)

    cap = model.engagement_cap
    if cap is not None and engagement > cap:
        if contributions is not None:
            contributions.append(
                Contribution(
                    MODEL_CAP_RULE,
                    "engagement",
                    cap - engagement,
                    0.0,
                    0.0,
                    cap=cap,
                    capped=True,
                    description="model-wide engagement cap",
                )
            )
        engagement = cap
    return engagement


@dataclass(frozen=True, slots=True)
class CompiledModel:
    """A model's predicates turned into plain functions, built once per model object.

    ``fit`` pairs each fit rule with its compiled test; ``matchers`` gives, per touchpoint
    name, each engagement rule that reads it (by position in the model) with the compiled
    tests of its ``where`` clause.
    """

    fit: tuple[tuple[FitRule, Test], ...]
    matchers: dict[str, tuple[tuple[int, tuple[tuple[str, Test], ...]], ...]]
    rule_count: int


def compiled(model: ScoringModel) -> CompiledModel:
    """Given a model, return its compiled form (built once per model object)."""
    return per_model(model, _compile)


def _compile(model: ScoringModel) -> CompiledModel:
    matchers: dict[str, list[tuple[int, tuple[tuple[str, Test], ...]]]] = {}
    for index, rule in enumerate(model.engagement_rules):
        where = tuple((p.field, compile_test(p)) for p in rule.where)
        matchers.setdefault(rule.touchpoint, []).append((index, where))
    return CompiledModel(
        fit=tuple((rule, compile_test(rule.predicate)) for rule in model.fit_rules),
        matchers={name: tuple(rules) for name, rules in matchers.items()},
        rule_count=len(model.engagement_rules),
    )


_T = TypeVar("_T")

# Keyed by (id(model), builder): models are frozen but hold a dict, so they cannot be
# hashed. A weak reference drops a model's entries when it goes away, so a reused id
# never finds another model's.
_PER_MODEL: dict[tuple[int, object], tuple[weakref.ref[ScoringModel], object]] = {}


def per_model(model: ScoringModel, build: Callable[[ScoringModel], _T]) -> _T:
    """Given a model and a function of it, return ``build(model)``, computed once per model
    object (stored models are parsed once per process, so this is once per version)."""
    key = (id(model), build)
    entry = _PER_MODEL.get(key)
    if entry is not None and entry[0]() is model:
        return entry[1]  # type: ignore[return-value]
    value = build(model)
    _PER_MODEL[key] = (weakref.ref(model, lambda _ref: _PER_MODEL.pop(key, None)), value)
    return value


def _match(history: Sequence[Touchpoint], plan: CompiledModel) -> list[list[Touchpoint]]:
    """Given ordered touchpoints, return the ones each engagement rule matches, by position."""
    matchers = plan.matchers
    matched: list[list[Touchpoint]] = [[] for _ in range(plan.rule_count)]
    for tp in history:
        rules = matchers.get(tp.name)
        if rules is None:
            continue
        for index, where in rules:
            for field_name, test in where:
                if not test(tp.attribute(field_name)):
                    break
            else:
                matched[index].append(tp)
    return matched


def _engagement(
    rule: EngagementRule,
    events: Sequence[Touchpoint],
    model: ScoringModel,
    at: datetime,
    explain: bool,
) -> Contribution | None:
    """Given the touchpoints a rule matched, return its contribution at ``at`` (or None)."""
    if rule.within_days is not None:
        horizon = rule.within_days * _DAY
        events = [tp for tp in events if (at - tp.occurred_at).total_seconds() <= horizon]
        if not events:
            return None

    if rule.count is not None:
        window = rule.count.within_days
        counted = events
        if window is not None:
            counted = [
                tp for tp in events if (at - tp.occurred_at).total_seconds() <= window * _DAY
            ]
        if len(counted) < rule.count.at_least:
            return None
        matches = (
            tuple(
                MatchedTouchpoint(tp.message_id, tp.name, tp.occurred_at, 0.0, 0.0)
                for tp in counted
            )
            if explain
            else ()
        )
        return Contribution(
            rule.id,
            "engagement",
            rule.points,
            rule.points,
            rule.points,
            matches=matches,
            description=rule.description,
        )

    half_life = rule.half_life_days
    total = 0.0
    matches_list: list[MatchedTouchpoint] = []
    for tp in events:
        if half_life is None:
            decayed = rule.points
        else:
            age_days = (at - tp.occurred_at).total_seconds() / _DAY
            decayed = rule.points * 2.0 ** (-age_days / half_life)
        total += decayed
        if explain:
            matches_list.append(
                MatchedTouchpoint(tp.message_id, tp.name, tp.occurred_at, rule.points, decayed)
            )

    value = total
    capped = False
    if rule.cap is not None:
        bound = abs(rule.cap)
        if total > bound:
            value, capped = bound, True
        elif total < -bound:
            value, capped = -bound, True
    raw = rule.points * len(events)
    return Contribution(
        rule.id,
        "engagement",
        value,
        raw,
        total,
        cap=rule.cap,
        capped=capped,
        matches=tuple(matches_list),
        description=rule.description,
    )
