"""A model's trackers: what a lead state keeps for each engagement rule and each touchpoint
condition of the gates, and which trackers a touchpoint feeds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from leadgate.domain.gates import score_thresholds, touchpoint_conditions
from leadgate.domain.predicates import Test, compile_test
from leadgate.domain.scoring import per_model
from leadgate.domain.scoring_model import EngagementRule, ScoringModel, TouchpointCondition
from leadgate.domain.touchpoints import Touchpoint

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
US_PER_S = 1_000_000
DAY = 86_400.0


def micros(moment: datetime) -> int:
    """Given an aware datetime, return microseconds since the epoch (exact)."""
    return (moment - _EPOCH) // _MICROSECOND


def from_micros(value: int) -> datetime:
    """Given microseconds since the epoch, return the aware UTC datetime."""
    return _EPOCH + timedelta(microseconds=value)


@dataclass(frozen=True, slots=True)
class Tracker:
    """What one engagement rule or touchpoint condition keeps.

    ``kind``: ``sum`` (decayed or plain sum without window), ``window`` (sum over the
    matched times inside ``horizon``) or ``count`` (how many matched times, inside
    ``horizon`` when it is set). ``half_life`` in days (None: no decay).
    """

    kind: str
    touchpoint: str
    where: tuple[tuple[str, Test], ...]
    horizon: float | None  # seconds, compared as score_lead compares ages
    half_life: float | None
    at_least: int = 0


@dataclass(frozen=True, slots=True)
class StatePlan:
    """A model's trackers, built once per model object: the engagement rules first (by
    position), then the gates' touchpoint conditions (depth first: mql, sales_ready,
    skip_to_sql)."""

    trackers: tuple[Tracker, ...]
    by_name: dict[str, tuple[int, ...]]
    condition_index: dict[int, int]  # id(TouchpointCondition) → tracker position
    thresholds: tuple[tuple[str, float], ...]


def state_plan(model: ScoringModel) -> StatePlan:
    """Given a model, return its state plan (built once per model object)."""
    return per_model(model, _plan)


def _rule_tracker(rule: EngagementRule) -> Tracker:
    where = tuple((p.field, compile_test(p)) for p in rule.where)
    if rule.count is not None:
        windows = [w * DAY for w in (rule.within_days, rule.count.within_days) if w is not None]
        return Tracker(
            "count",
            rule.touchpoint,
            where,
            min(windows) if windows else None,
            None,
            rule.count.at_least,
        )
    if rule.within_days is not None:
        return Tracker(
            "window", rule.touchpoint, where, rule.within_days * DAY, rule.half_life_days
        )
    return Tracker("sum", rule.touchpoint, where, None, rule.half_life_days)


def _condition_tracker(condition: TouchpointCondition) -> Tracker:
    return Tracker(
        "count",
        condition.touchpoint,
        tuple((p.field, compile_test(p)) for p in condition.where),
        None if condition.within_days is None else condition.within_days * DAY,
        None,
        condition.at_least,
    )


def _plan(model: ScoringModel) -> StatePlan:
    trackers = [_rule_tracker(rule) for rule in model.engagement_rules]
    condition_index: dict[int, int] = {}
    gates = model.gates
    for gate in (gates.mql, gates.sales_ready, gates.skip_to_sql):
        for condition in touchpoint_conditions(gate):
            condition_index[id(condition)] = len(trackers)
            trackers.append(_condition_tracker(condition))
    by_name: dict[str, list[int]] = {}
    for index, tracker in enumerate(trackers):
        by_name.setdefault(tracker.touchpoint, []).append(index)
    thresholds = tuple(
        t
        for gate in (gates.mql, gates.sales_ready, gates.skip_to_sql)
        for t in score_thresholds(gate)
    )
    return StatePlan(
        tuple(trackers),
        {name: tuple(indexes) for name, indexes in by_name.items()},
        condition_index,
        thresholds,
    )


def matches(plan: StatePlan, touchpoint: Touchpoint) -> tuple[int, ...]:
    """The trackers a touchpoint feeds (a plain loop: this runs for every touchpoint of
    every lead a rebuild reads)."""
    indexes = plan.by_name.get(touchpoint.name)
    if not indexes:
        return ()
    found = []
    trackers = plan.trackers
    for index in indexes:
        for name, test in trackers[index].where:
            if not test(touchpoint.attribute(name)):
                break
        else:
            found.append(index)
    return tuple(found)
