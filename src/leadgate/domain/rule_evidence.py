"""How much each rule of a scoring model has to do with conversion, and what it should be worth.

The question asked of every fit rule, engagement rule and touchpoint type: *once it has
fired, do leads reach the target sooner?* It is answered with conversion rates over the
days leads were open (a discrete-time hazard), which is fair to rules that fire late and
to leads that convert fast:

* each lead is followed day by day from when it was first seen (day 0) for ``horizon``
  days, until it reaches the target (that day included), or until today;
* a lead is **exposed** to a rule from the day the rule first fired (a fit rule: from day
  0, when its predicate holds on the lead; an engagement rule: the day of its first
  matching touchpoint, a count rule the day its count was first met); a rule that fires
  only after the lead converted, or after the horizon, leaves the lead unexposed;
* a conversion counts as exposed when the rule fired on or before its day;
* ``rate_with`` = conversions while exposed / lead-days exposed, ``rate_without`` the
  same over unexposed days, and ``lift`` = ``rate_with / rate_without``.

The confidence interval of the lift is the Wilson interval of the share of conversions
that happened while exposed, turned into a rate ratio (conditioned on the number of
conversions, the exposed count is binomial with ``p = E·lift / (E·lift + U)``).

Suggested points keep the model's scale: a rule's effect, the log of its joint lift (from
a model of every rule at once, see ``leadgate.adapters.ml.rule_effects``) or, without one,
of its own lift shrunk towards 1 (one pseudo conversion at the overall rate on each side,
so thin evidence stays near 1), is multiplied by ``scale = Σ|points| / Σ|effect|`` over
the rules with enough evidence, which keeps their total of points, and so the model's
thresholds, about where they were. A rule whose interval holds 1 has shown no effect
and is suggested 0 points; a rule with too few leads or conversions (``Thresholds``)
keeps its points.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from leadgate.domain.leads import Lead
from leadgate.domain.scoring import _match, compiled
from leadgate.domain.scoring_model import EngagementRule, ScoringModel
from leadgate.domain.touchpoints import Touchpoint

_DAY = 86_400.0
Z_95 = 1.959963984540054
# Points per doubling of the conversion rate when no rule of the model has points with
# evidence to take the scale from (an empty or all-zero model).
FALLBACK_SCALE = 10 / math.log(2)


class Kind(StrEnum):
    """What a piece of evidence is about."""

    FIT = "fit"
    ENGAGEMENT = "engagement"
    TOUCHPOINT = "touchpoint"  # a touchpoint type no engagement rule reads


@dataclass(frozen=True, slots=True, order=True)
class Subject:
    """A rule (by id) or an unmodelled touchpoint type (by name)."""

    kind: Kind
    id: str


@dataclass(frozen=True, slots=True)
class Exposure:
    """One lead as evidence: when it was first seen, when it reached the target (None:
    not yet) and when each subject first fired for it."""

    lead_id: int
    seen_at: datetime
    reached_at: datetime | None
    fired: Mapping[Subject, datetime] = field(default_factory=dict)


def first_fired(rule: EngagementRule, matched: Sequence[Touchpoint]) -> datetime | None:
    """Given an engagement rule and the touchpoints it matched (oldest first), return when
    it first gave points: its first touchpoint, or for a count rule the first moment at
    least ``at_least`` matched touchpoints fell within its window (bounds inclusive, as
    the scoring engine counts)."""
    if not matched:
        return None
    if rule.count is None:
        return matched[0].occurred_at
    need = rule.count.at_least
    window = rule.count.within_days
    for i in range(need - 1, len(matched)):
        first, last = matched[i - need + 1].occurred_at, matched[i].occurred_at
        if window is None or (last - first).total_seconds() <= window * _DAY:
            return last
    return None


def lead_exposure(
    lead: Lead,
    touchpoints: Iterable[Touchpoint],
    model: ScoringModel,
    *,
    seen_at: datetime,
    reached_at: datetime | None,
) -> Exposure:
    """Given a lead, its touchpoints and a model, return when each rule (and each
    touchpoint type the model does not read) first fired for it."""
    history = sorted(touchpoints, key=lambda tp: (tp.occurred_at, tp.message_id))
    plan = compiled(model)
    fired: dict[Subject, datetime] = {}
    for fit_rule, test in plan.fit:
        if test(lead.attribute(fit_rule.predicate.field)):
            fired[Subject(Kind.FIT, fit_rule.id)] = seen_at
    for rule, matched in zip(model.engagement_rules, _match(history, plan), strict=True):
        when = first_fired(rule, matched)
        if when is not None:
            fired[Subject(Kind.ENGAGEMENT, rule.id)] = when
    for tp in history:
        if tp.name not in plan.matchers:
            fired.setdefault(Subject(Kind.TOUCHPOINT, tp.name), tp.occurred_at)
    return Exposure(lead.id or 0, seen_at, reached_at, fired)


@dataclass(slots=True)
class Tally:
    """Counts behind one subject's rates: leads, lead-days and conversions, with and
    without the subject having fired."""

    exposed_leads: int = 0
    exposed_days: int = 0
    exposed_conversions: int = 0
    unexposed_leads: int = 0
    unexposed_days: int = 0
    unexposed_conversions: int = 0


@dataclass(frozen=True, slots=True)
class Cohort:
    """The leads followed: how many, their lead-days and conversions."""

    leads: int
    days: int
    conversions: int
    horizon_days: int


def _day(moment: datetime, start: datetime) -> int:
    return math.floor((moment - start).total_seconds() / _DAY)


def _followed(e: Exposure, slots: int, now: datetime) -> tuple[int, int | None] | None:
    """A lead's days at risk and the day it converted (None: it did not), or None when
    it has no day at risk (reached the target before it was first seen, or seen after
    ``now``)."""
    last = min(slots - 1, _day(now, e.seen_at))
    event: int | None = None
    if e.reached_at is not None:
        if e.reached_at < e.seen_at:
            return None
        reached_day = _day(e.reached_at, e.seen_at)
        if reached_day <= last:
            event, last = reached_day, reached_day
    if last < 0:
        return None
    return last + 1, event


def _fired_day(e: Exposure, subject: Subject, days: int) -> int:
    """The day a subject first fired for a lead (``days``: not while it was followed)."""
    when = e.fired.get(subject)
    return min(days, max(0, _day(when, e.seen_at))) if when is not None else days


def tally(
    exposures: Iterable[Exposure],
    subjects: Iterable[Subject],
    *,
    horizon_days: float,
    now: datetime,
) -> tuple[Cohort, dict[Subject, Tally]]:
    """Given the leads' exposures, return the cohort and each subject's counts.

    A lead that reached the target before it was first seen, or is first seen after
    ``now``, has no day at risk and is left out.
    """
    slots = max(1, math.ceil(horizon_days))
    tallies = {subject: Tally() for subject in subjects}
    leads = days_all = conversions = 0
    for e in exposures:
        followed = _followed(e, slots, now)
        if followed is None:
            continue
        days, event = followed
        leads += 1
        days_all += days
        conversions += event is not None
        for subject, t in tallies.items():
            fired_day = _fired_day(e, subject, days)
            if fired_day < days:
                t.exposed_leads += 1
                t.exposed_days += days - fired_day
            if fired_day:
                t.unexposed_leads += 1
                t.unexposed_days += fired_day
            if event is not None:
                if fired_day <= event:
                    t.exposed_conversions += 1
                else:
                    t.unexposed_conversions += 1
    return Cohort(leads, days_all, conversions, slots), tallies


Pattern = tuple[bool, ...]


def exposure_cells(
    exposures: Iterable[Exposure],
    subjects: Sequence[Subject],
    *,
    horizon_days: float,
    now: datetime,
) -> dict[Pattern, list[int]]:
    """Given the leads' exposures, return the lead-days and conversions per exposure
    pattern (which of ``subjects`` had fired, in their order): what a joint model of
    the rules' effects learns from. Summed over the patterns where a subject is on,
    the cells give that subject's exposed days and conversions in ``tally``."""
    slots = max(1, math.ceil(horizon_days))
    cells: dict[Pattern, list[int]] = {}
    for e in exposures:
        followed = _followed(e, slots, now)
        if followed is None:
            continue
        days, event = followed
        fired = [_fired_day(e, s, days) for s in subjects]
        starts = sorted({0, *(d for d in fired if d < days)})
        for start, end in zip(starts, [*starts[1:], days], strict=True):
            pattern = tuple(d <= start for d in fired)
            cell = cells.setdefault(pattern, [0, 0])
            cell[0] += end - start
            cell[1] += event is not None and start <= event < end
    return cells


def wilson(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (0 trials: the whole of [0, 1])."""
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    centre = p + z * z / (2 * trials)
    spread = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    scale = 1 + z * z / trials
    low = 0.0 if successes == 0 else (centre - spread) / scale
    high = 1.0 if successes == trials else (centre + spread) / scale
    return low, high


def _ratio(share: float, exposed_days: int, unexposed_days: int) -> float | None:
    """A share of conversions while exposed, as a rate ratio (None: unbounded)."""
    if share >= 1.0:
        return None
    return share / (1 - share) * unexposed_days / exposed_days


@dataclass(frozen=True, slots=True)
class Evidence:
    """A subject's counts, rates (conversions per lead-day) and lift with its 95%
    interval. ``lift``/``low``/``high`` are None when undefined (no days on a side, or
    an unbounded upper limit). ``joint_lift`` is the rate ratio of a model of every
    subject at once, when one was fitted."""

    subject: Subject
    tally: Tally
    rate_with: float | None
    rate_without: float | None
    lift: float | None
    low: float | None
    high: float | None
    joint_lift: float | None = None  # with the other rules held fixed (None: not estimated)


def evidence(subject: Subject, t: Tally) -> Evidence:
    """Given a subject's counts, return its rates and lift with the interval."""
    rate_with = t.exposed_conversions / t.exposed_days if t.exposed_days else None
    rate_without = t.unexposed_conversions / t.unexposed_days if t.unexposed_days else None
    lift = low = high = None
    if rate_with is not None and rate_without:
        lift = rate_with / rate_without
    if t.exposed_days and t.unexposed_days:
        share_low, share_high = wilson(
            t.exposed_conversions, t.exposed_conversions + t.unexposed_conversions
        )
        low = _ratio(share_low, t.exposed_days, t.unexposed_days)
        high = _ratio(share_high, t.exposed_days, t.unexposed_days)
    return Evidence(subject, t, rate_with, rate_without, lift, low, high)


class Verdict(StrEnum):
    CHANGED = "changed"
    KEPT = "kept"  # enough evidence, and it agrees with the current points
    TOO_LITTLE = "too_little_evidence"
    NEW = "new"  # a touchpoint type worth a rule of its own
    NOT_WORTH_A_RULE = "not_worth_a_rule"


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When evidence is enough: at least ``min_leads`` leads on each side (exposed, and
    with unexposed days) and ``min_conversions`` conversions over both."""

    min_leads: int = 30
    min_conversions: int = 10


@dataclass(frozen=True, slots=True)
class Proposal:
    """What to do with one subject, and why."""

    evidence: Evidence
    verdict: Verdict
    points: float | None  # current points (None: not a rule yet)
    suggested: float | None  # suggested points (None: leave as is)
    cap: float | None = None
    suggested_cap: float | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Suggestion:
    """Every subject's proposal, and the scale used (points per unit of log lift)."""

    proposals: list[Proposal]
    scale: float
    scale_from: str


def enough(t: Tally, thresholds: Thresholds) -> bool:
    """Given a subject's counts, return whether they are enough to change its points."""
    return (
        t.exposed_leads >= thresholds.min_leads
        and t.unexposed_leads >= thresholds.min_leads
        and t.exposed_conversions + t.unexposed_conversions >= thresholds.min_conversions
    )


def distinguishable(e: Evidence) -> bool:
    """Given evidence, return whether its 95% interval leaves out a lift of 1."""
    return (e.low is not None and e.low > 1) or (e.high is not None and e.high < 1)


def shrunk_log_lift(t: Tally) -> float:
    """The log of the lift with one pseudo conversion at the overall rate added to each
    side: near 0 when conversions are few, close to the log lift when they are many."""
    conversions = t.exposed_conversions + t.unexposed_conversions
    days = t.exposed_days + t.unexposed_days
    rate = conversions / days if conversions and days else 1.0
    prior_days = 1 / rate
    with_ = (t.exposed_conversions + 1) / (t.exposed_days + prior_days)
    without = (t.unexposed_conversions + 1) / (t.unexposed_days + prior_days)
    return math.log(with_ / without)


def effect(e: Evidence) -> float:
    """Given evidence, return the effect points are made from: the log of the joint lift
    when there is one, else the shrunken log lift. A joint effect whose sign contradicts
    the rule's own lift is 0: the rule adds nothing beyond the rules it fires with
    (attending a webinar after registering for it), which is no reason to penalise it."""
    own = shrunk_log_lift(e.tally)
    if e.joint_lift is None or e.joint_lift <= 0:
        return own
    joint = math.log(e.joint_lift)
    return joint if joint * own > 0 else 0.0


def _round(value: float) -> float:
    return float(round(value))


def suggest(
    model: ScoringModel, found: Sequence[Evidence], thresholds: Thresholds = Thresholds()
) -> Suggestion:
    """Given a model and the evidence about its rules and unmodelled touchpoint types,
    return a proposal per subject: new points on the model's scale where the evidence is
    enough, the current points (and the reason) where it is not."""
    current: dict[Subject, tuple[float, float | None]] = {}
    for fit_rule in model.fit_rules:
        current[Subject(Kind.FIT, fit_rule.id)] = (fit_rule.points, None)
    for rule in model.engagement_rules:
        current[Subject(Kind.ENGAGEMENT, rule.id)] = (rule.points, rule.cap)

    # A rule whose interval holds 1 has shown no effect: it is worth 0 points, not the
    # sign of its noise. Otherwise its joint effect when one was estimated (points add
    # up in a score as log rates add up in the joint model), else its own.
    effects = {
        e.subject: effect(e) if distinguishable(e) else 0.0
        for e in found
        if enough(e.tally, thresholds)
    }
    # The points of every rule with enough evidence are shared out again by effect: a rule
    # that showed none gives its points to those that did.
    scaled = [s for s in effects if s in current and current[s][0] != 0]
    spread = sum(abs(effects[s]) for s in scaled)
    if spread > 0:
        scale = sum(abs(current[s][0]) for s in scaled) / spread
        scale_from = f"the points of {len(scaled)} rules with enough evidence, kept in all"
    else:
        scale = FALLBACK_SCALE
        scale_from = "no rule with points has enough evidence of an effect: 10 per doubling"

    proposals = []
    for e in found:
        points, cap = current.get(e.subject, (None, None))
        if e.subject not in effects:
            t = e.tally
            proposals.append(
                Proposal(
                    e,
                    Verdict.TOO_LITTLE,
                    points,
                    None,
                    cap,
                    None,
                    f"too little evidence ({t.exposed_leads} leads with it, "
                    f"{t.unexposed_leads} without, "
                    f"{t.exposed_conversions + t.unexposed_conversions} conversions; needs "
                    f"{thresholds.min_leads}, {thresholds.min_leads} and "
                    f"{thresholds.min_conversions})"
                    + ("; left unchanged" if points is not None else ""),
                )
            )
            continue
        value = _round(scale * effects[e.subject])
        if points is None:
            if value == 0:
                why = "its effect rounds to 0 points" if distinguishable(e) else "no effect shown"
                proposals.append(Proposal(e, Verdict.NOT_WORTH_A_RULE, None, None, reason=why))
            else:
                proposals.append(
                    Proposal(
                        e,
                        Verdict.NEW,
                        None,
                        value,
                        None,
                        3 * abs(value),
                        "not read by any rule; a new rule, capped at three touchpoints",
                    )
                )
            continue
        if value == points:
            proposals.append(Proposal(e, Verdict.KEPT, points, None, cap, None, "evidence agrees"))
            continue
        new_cap = None
        if cap is not None and points != 0 and value != 0:
            # The same number of touchpoints keeps counting before the cap.
            new_cap = max(1.0, _round(cap * abs(value / points)))
        why = f"{points:g} → {value:g}"
        if not distinguishable(e):
            why += ": no effect shown (the interval holds a lift of 1)"
        elif effects[e.subject] == 0 and e.joint_lift is not None:
            why += f": adds nothing beyond the rules it fires with (joint lift {e.joint_lift:.2f})"
        proposals.append(Proposal(e, Verdict.CHANGED, points, value, cap, new_cap, why))
    return Suggestion(proposals, scale, scale_from)


def subjects_of(model: ScoringModel, exposures: Iterable[Exposure]) -> list[Subject]:
    """Every rule of the model and every touchpoint type seen that no rule reads, sorted
    by kind then id, rules in model order."""
    subjects = [Subject(Kind.FIT, r.id) for r in model.fit_rules]
    subjects += [Subject(Kind.ENGAGEMENT, r.id) for r in model.engagement_rules]
    names = {s for e in exposures for s in e.fired if s.kind is Kind.TOUCHPOINT}
    return subjects + sorted(names)
