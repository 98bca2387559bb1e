"""The scoring model: a versioned, declarative set of rules, decay, caps, grades and gates.

These are plain frozen dataclasses. Reading them from YAML (with line and column in every
error) is the job of ``leadgate.adapters.model_yaml``; the domain only evaluates them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property

from leadgate.domain.predicates import Predicate


@dataclass(frozen=True, slots=True)
class FitRule:
    """Points for who the lead is.

    Example: ``FitRule("vp_or_above", Predicate("seniority", Operator.IN, ("vp", "c_level")),
    points=15)``.
    """

    id: str
    predicate: Predicate
    points: float
    description: str = ""


@dataclass(frozen=True, slots=True)
class CountThreshold:
    """'At least N matching touchpoints within D days' (D None: ever)."""

    at_least: int
    within_days: float | None = None


@dataclass(frozen=True, slots=True)
class EngagementRule:
    """Points for what the lead did.

    Each matching touchpoint earns ``points`` decayed by its age with ``half_life_days``
    (None: no decay); the rule's total is bounded by ``cap`` (for negative points, the cap
    bounds the size of the penalty). ``within_days`` ignores older touchpoints. With
    ``count`` set the rule is a count rule: it gives ``points`` once, undecayed, while at
    least ``count.at_least`` matching touchpoints fall in the window.

    Example: pricing visits, +10 each, at most 30, half-life 30 days:
    ``EngagementRule("pricing", "page_view", (Predicate("category", Operator.EQ, "pricing"),),
    points=10, cap=30, half_life_days=30)``.
    """

    id: str
    touchpoint: str
    points: float
    where: tuple[Predicate, ...] = ()
    cap: float | None = None
    half_life_days: float | None = None
    within_days: float | None = None
    count: CountThreshold | None = None
    description: str = ""


class Grade(StrEnum):
    """Fit grade, best first."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"


@dataclass(frozen=True, slots=True)
class GradeBand:
    """Fit in ``[min_fit, max_fit)`` earns ``grade``; a missing bound is open."""

    grade: Grade
    min_fit: float | None = None
    max_fit: float | None = None

    def holds(self, fit: float) -> bool:
        """Given a fit score, return whether it falls in this band."""
        return (self.min_fit is None or fit >= self.min_fit) and (
            self.max_fit is None or fit < self.max_fit
        )


class ScoreField(StrEnum):
    """Numbers and facts a gate can read from a score."""

    FIT = "fit"
    ENGAGEMENT = "engagement"
    TOTAL = "total"
    GRADE = "grade"
    PROBABILITY = "probability"


@dataclass(frozen=True, slots=True)
class ScoreCondition:
    """A predicate over a score field, e.g. total ≥ 60."""

    predicate: Predicate


@dataclass(frozen=True, slots=True)
class TouchpointCondition:
    """'At least N touchpoints named X (matching ``where``) within D days.'"""

    touchpoint: str
    within_days: float | None = None
    at_least: int = 1
    where: tuple[Predicate, ...] = ()


@dataclass(frozen=True, slots=True)
class AllOf:
    """Every condition holds (an empty list always holds)."""

    conditions: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    """At least one condition holds (an empty list never holds)."""

    conditions: tuple[Condition, ...]


Condition = ScoreCondition | TouchpointCondition | AllOf | AnyOf


@dataclass(frozen=True, slots=True)
class Gates:
    """When a lead moves forward.

    ``mql``: lead (or requalifying recycled lead) → MQL. ``sales_ready``: MQL → SQL, or
    only flagged for a rep when ``requires_acceptance``. ``skip_to_sql``: a hard trigger
    (a demo request from a good fit) that takes a lead straight to SQL. None: never.
    """

    mql: Condition | None
    sales_ready: Condition | None
    skip_to_sql: Condition | None = None
    requires_acceptance: bool = False


class RecycleEngagement(StrEnum):
    """What recycling does to a lead's engagement."""

    KEEP = "keep"  # earlier touchpoints keep counting (and keep decaying)
    RESET = "reset"  # only touchpoints after the recycle count again


@dataclass(frozen=True, slots=True)
class RecyclePolicy:
    """How a recycled lead may qualify again."""

    engagement: RecycleEngagement = RecycleEngagement.RESET
    cooldown_days: float = 0.0


# No slots here: ``cached_property`` keeps the per-touchpoint rule index on the instance.
@dataclass(frozen=True)
class ScoringModel:
    """A whole scoring model as loaded from its YAML document."""

    name: str
    fit_rules: tuple[FitRule, ...]
    engagement_rules: tuple[EngagementRule, ...]
    grades: tuple[GradeBand, ...]
    gates: Gates
    half_life_days: float | None = 30.0
    engagement_cap: float | None = None
    recycle: RecyclePolicy = RecyclePolicy()
    # Incoming event name (case-folded) → touchpoint name.
    aliases: dict[str, str] = field(default_factory=dict)
    # URL path pattern ('/pricing*') → page category, first match wins.
    page_categories: tuple[tuple[str, str], ...] = ()
    description: str = ""

    def grade_for(self, fit: float) -> Grade | None:
        """Given a fit score, return the grade of the first band it falls in."""
        for band in self.grades:
            if band.holds(fit):
                return band.grade
        return None

    @cached_property
    def rules_by_touchpoint(self) -> dict[str, tuple[EngagementRule, ...]]:
        """Engagement rules grouped by the touchpoint name they match, in model order."""
        index: dict[str, list[EngagementRule]] = {}
        for rule in self.engagement_rules:
            index.setdefault(rule.touchpoint, []).append(rule)
        return {name: tuple(rules) for name, rules in index.items()}
