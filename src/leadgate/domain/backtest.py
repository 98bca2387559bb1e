"""Backtest replay: when each gate of a model would first have held for a lead, day by day.

A backtest asks, for every day of a window, the question ``qualify`` asks at the end of
that day (UTC): the lead's score as of that moment (exactly ``score_lead(..., at=end of
day)``) and whether the MQL gate and the sales-ready gate (or skip-to-SQL) hold. Asking it
naively is ~90 evaluations per lead and model; this module asks far fewer, exactly.

Why that is exact. Between two *breakpoints* (a matched touchpoint arriving; one leaving a
rule's ``within_days`` or count window, or a gate's touchpoint window; the engagement reset
taking effect) no rule's set of counted touchpoints changes, so each rule's contribution
only decays: a rule with positive points can only fall, one with negative points can only
rise towards zero, an undecayed or count rule stays put. Floating-point addition, ``min``
and ``2 ** x`` are monotone, so the sums the scoring engine makes in its fixed order are
bounded by the same sums over each rule's bound. A gate over ``total ≥ 60`` that fails
where a run of quiet days starts and whose upper bound stays below 60 fails on every day of
the run; only a run whose bounds straddle a threshold is walked day by day. Fit, grade and
(absent in a replay) probability never change; touchpoint facts change only at
breakpoints. The score a replay computes on any day is ``score_lead``'s (tested).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from leadgate.domain.gates import Check, compile_condition, score_value, touchpoints_named
from leadgate.domain.leads import Lead
from leadgate.domain.predicates import Operator, compile_test
from leadgate.domain.scoring import (
    Score,
    _engagement,
    _match,
    compiled,
    per_model,
)
from leadgate.domain.scoring_model import (
    AllOf,
    AnyOf,
    Condition,
    ScoreCondition,
    ScoreField,
    ScoringModel,
    TouchpointCondition,
)
from leadgate.domain.touchpoints import Touchpoint

_DAY = timedelta(days=1)
# Window edges computed with floats (``within_days * 86400`` against ``total_seconds()``)
# may land a hair either side of the datetime arithmetic used here; marking the days on
# both sides of this margin as breakpoints can only add evaluations, never miss one.
_MARGIN = timedelta(milliseconds=1)


def day_end(day: date) -> datetime:
    """Given a day, return the last moment of it in UTC (a touchpoint at midnight belongs
    to the next day)."""
    return datetime.combine(day + _DAY, time(0), UTC) - timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Window:
    """The days a backtest looks at, ``first`` to ``last`` inclusive.

    Day index 0 is the day before ``first`` (what already held when the window opened);
    index ``k`` ≥ 1 is ``first + k - 1``.
    """

    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError(f"the window ends ({self.last}) before it starts ({self.first})")

    @property
    def days(self) -> int:
        """How many days the window holds (index 0, the day before, not counted)."""
        return (self.last - self.first).days + 1

    def day(self, index: int) -> date:
        """Given a day index, return the day."""
        return self.first + timedelta(days=index - 1)

    def ends(self) -> list[datetime]:
        """The end of each indexed day, index 0 (the day before the window) first."""
        return [day_end(self.first + timedelta(days=k - 1)) for k in range(self.days + 1)]

    def index_of(self, day: date) -> int:
        """Given a day, return its index (may fall outside 0..days)."""
        return (day - self.first).days + 1


@dataclass(frozen=True, slots=True)
class GateDays:
    """For one lead under one model: the first day index (0..days) on which each gate held
    at the end of the day, or None when it never did within the window.

    ``sales_ready`` is the sales-ready gate or the skip-to-SQL gate, whichever held first:
    either sends the lead to sales.
    """

    mql: int | None
    sales_ready: int | None

    @property
    def flagged(self) -> int | None:
        """The first day either gate held (the model's first word on the lead)."""
        days = [d for d in (self.mql, self.sales_ready) if d is not None]
        return min(days) if days else None

    @property
    def status(self) -> str:
        """``sales_ready``, ``mql`` or ``none``: the furthest gate the lead met."""
        if self.sales_ready is not None:
            return "sales_ready"
        return "mql" if self.mql is not None else "none"


NEVER = GateDays(None, None)


Facts = Callable[[TouchpointCondition], "bool | None"]
"""Answers a gate's touchpoint fact over a run of days: True/False, or None (cannot tell)."""

Decider = Callable[[Score, float, float, Facts], "bool | None"]
"""A compiled gate over a run of days: (the score on a day of the run, the run's lower and
upper engagement bounds, its facts) → holds on every day / on none / cannot tell."""


@dataclass(frozen=True, slots=True)
class _Plan:
    """What a replay needs of a model, worked out once per model object."""

    conditions: tuple[Condition | None, Condition | None]
    checks: tuple[Check, Check]
    deciders: tuple[Decider, Decider]
    # Touchpoint names the gates read, and each gate touchpoint condition's window (days).
    fact_names: frozenset[str]
    fact_windows: dict[str, tuple[float, ...]]
    rule_windows: tuple[tuple[float, ...], ...]
    reads_probability: bool
    # Each rule's text: two models' rules with the same text match and score alike, so a
    # lead's replay under the second reuses what the first worked out.
    rule_keys: tuple[str, ...]
    fit_keys: tuple[str, ...]


def _plan(model: ScoringModel) -> _Plan:
    gates = model.gates
    options = tuple(c for c in (gates.sales_ready, gates.skip_to_sql) if c is not None)
    sales_ready: Condition | None = AnyOf(options) if options else None
    windows: dict[str, list[float]] = {}
    for fact in [*_facts(gates.mql), *_facts(sales_ready)]:
        if fact.within_days is not None:
            windows.setdefault(fact.touchpoint, []).append(fact.within_days)
    return _Plan(
        conditions=(gates.mql, sales_ready),
        checks=(compile_condition(gates.mql), compile_condition(sales_ready)),
        deciders=(_compile_decider(gates.mql), _compile_decider(sales_ready)),
        fact_names=touchpoints_named(gates.mql) | touchpoints_named(sales_ready),
        fact_windows={name: tuple(days) for name, days in windows.items()},
        rule_windows=tuple(
            tuple(w for w in (rule.within_days, rule.count and rule.count.within_days) if w)
            for rule in model.engagement_rules
        ),
        reads_probability=any(_reads(c, ScoreField.PROBABILITY) for c in (gates.mql, sales_ready)),
        rule_keys=tuple(repr(rule) for rule in model.engagement_rules),
        fit_keys=tuple(repr(rule) for rule in model.fit_rules),
    )


def _facts(condition: Condition | None) -> Iterator[TouchpointCondition]:
    match condition:
        case TouchpointCondition():
            yield condition
        case AllOf(conditions) | AnyOf(conditions):
            for inner in conditions:
                yield from _facts(inner)


def _reads(condition: Condition | None, field: ScoreField) -> bool:
    match condition:
        case ScoreCondition(predicate):
            return predicate.field == field.value
        case AllOf(conditions) | AnyOf(conditions):
            return any(_reads(c, field) for c in conditions)
    return False


def reads_probability(model: ScoringModel) -> bool:
    """Given a model, return whether a gate reads ``probability`` (never set in a replay,
    so such a gate part never holds there)."""
    return per_model(model, _plan).reads_probability


class LeadHistory:
    """One lead's touchpoints up to the window's last moment, ordered as the scoring engine
    orders them, shared by the models replayed over it."""

    def __init__(
        self, lead: Lead, touchpoints: Iterable[Touchpoint], ends: Sequence[datetime]
    ) -> None:
        self.lead = lead
        self.ends = ends
        last = ends[-1]
        # Touchpoints after the window never count on any of its days.
        self.touchpoints = sorted(
            (tp for tp in touchpoints if tp.occurred_at <= last),
            key=lambda tp: (tp.occurred_at, tp.message_id),
        )
        self.times = [tp.occurred_at for tp in self.touchpoints]
        self.names: dict[str, int] = {}
        for tp in self.touchpoints:
            self.names[tp.name] = self.names.get(tp.name, 0) + 1
        # Shared between the models replayed over this lead, by rule text (see _Plan).
        self.fit_hits: dict[str, bool] = {}
        self.matched: dict[str, tuple[list[Touchpoint], list[datetime]]] = {}
        self.points: dict[tuple[str, int], float | None] = {}
        self._by_name: dict[str, list[datetime]] | None = None

    def arrivals(self, name: str) -> list[datetime]:
        """The times of the lead's touchpoints named ``name``, ascending."""
        if self._by_name is None:
            self._by_name = {}
            for tp in self.touchpoints:
                self._by_name.setdefault(tp.name, []).append(tp.occurred_at)
        return self._by_name.get(name, [])


@dataclass(frozen=True, slots=True)
class _Day:
    """One evaluated day: the score, each engagement rule's points (None: no say), and the
    touchpoints that count (for the gates' touchpoint facts)."""

    score: Score
    rules: tuple[float | None, ...]
    history: Sequence[Touchpoint]

    def fact(self, condition: TouchpointCondition) -> bool | None:
        # Facts change only at breakpoints: on a quiet run, as on its first day.
        return compile_condition(condition)(self.score, self.history, self.score.at)


class LeadReplay:
    """One lead's history under one model, arranged to be asked about any day's end.

    Built once per lead and model: the touchpoints each rule matches and the fit do not
    depend on the day; which of them count does, and is found by bisection.
    """

    def __init__(
        self,
        lead: Lead | LeadHistory,
        touchpoints: Iterable[Touchpoint] | None,
        model: ScoringModel,
        window: Window,
        ends: Sequence[datetime] | None = None,
    ) -> None:
        if isinstance(lead, LeadHistory):
            shared = lead
        else:
            shared = LeadHistory(lead, touchpoints or (), ends or window.ends())
        self.shared = shared
        self.lead = shared.lead
        self.model = model
        self.window = window
        self.ends = shared.ends
        self.history = shared.touchpoints
        self.times = shared.times
        self.plan = per_model(model, _plan)
        self.fit = self._fit()
        self.grade = model.grade_for(self.fit)
        self._matched: list[list[Touchpoint]] | None = None
        self._matched_at: list[list[datetime]] = []
        self._active: list[int] = []
        self._days: dict[int, _Day] = {}

    def _fit(self) -> float:
        """The fit ``fit_points`` gives (the same sum in the same order), each rule's test
        shared with the other models."""
        hits = self.shared.fit_hits
        fit = 0.0
        for key, (rule, test) in zip(self.plan.fit_keys, compiled(self.model).fit, strict=True):
            hit = hits.get(key)
            if hit is None:
                hit = hits[key] = bool(test(self.lead.attribute(rule.predicate.field)))
            if hit:
                fit += rule.points
        return fit

    @property
    def matched(self) -> list[list[Touchpoint]]:
        """Per engagement rule, the touchpoints it matches (found on first use: a lead
        whose bounds rule every gate out never needs them)."""
        if self._matched is None:
            shared, keys = self.shared.matched, self.plan.rule_keys
            if not all(key in shared for key in keys):
                for key, events in zip(
                    keys, _match(self.history, compiled(self.model)), strict=True
                ):
                    shared[key] = (events, [tp.occurred_at for tp in events])
            self._matched = [shared[key][0] for key in keys]
            self._matched_at = [shared[key][1] for key in keys]
            # Most leads match a few rules: the rest never have a say and are skipped.
            self._active = [i for i, events in enumerate(self._matched) if events]
        return self._matched

    def score_at(self, index: int) -> Score:
        """Given a day index, return the score as of the end of that day (the number
        ``score_lead(lead, touchpoints, model, at=end of day, explain=False)`` gives)."""
        return self._day(index).score

    def _day(self, index: int) -> _Day:
        found = self._days.get(index)
        if found is not None:
            return found
        at = self.ends[index]
        reset = self.lead.engagement_reset_at
        cut = reset if reset is not None and reset <= at else None
        model = self.model
        matched = self.matched
        cache = self.shared.points
        keys, all_rules = self.plan.rule_keys, model.engagement_rules
        rules: list[float | None] = [None] * len(all_rules)
        # The same sums, in the same order, as scoring's ``_engagement_sum`` (a rule
        # without matches adds nothing there either).
        engagement = 0.0
        for i in self._active:
            key = keys[i]
            if (key, index) in cache:
                points = cache[key, index]
            else:
                times = self._matched_at[i]
                low = bisect_left(times, cut) if cut is not None else 0
                high = bisect_right(times, at)
                contribution = (
                    _engagement(all_rules[i], matched[i][low:high], model, at, False)
                    if low < high
                    else None
                )
                points = cache[key, index] = (
                    contribution.points if contribution is not None else None
                )
            rules[i] = points
            if points is not None:
                engagement += points
        cap = model.engagement_cap
        if cap is not None and engagement > cap:
            engagement = cap
        low = bisect_left(self.times, cut) if cut is not None else 0
        history = self.history[low : bisect_right(self.times, at)]
        score = Score(self.fit, engagement, self.fit + engagement, self.grade, at)
        found = self._days[index] = _Day(score, tuple(rules), history)
        return found

    def _holds(self, gate: int, index: int) -> bool:
        day = self._day(index)
        return self.plan.checks[gate](day.score, day.history, day.score.at)

    def breakpoints(self) -> list[int]:
        """The day indexes at which a touchpoint starts or stops counting for some rule or
        gate fact, or the engagement reset takes effect, ascending (a superset is fine)."""
        ends = self.ends
        marks: set[int] = set()
        plan = self.plan
        self.matched  # noqa: B018 (fills _matched_at)
        for windows, times in zip(plan.rule_windows, self._matched_at, strict=True):
            for moment in times:
                marks.add(bisect_left(ends, moment))
                for days in windows:
                    edge = moment + timedelta(days=days)
                    marks.add(bisect_left(ends, edge - _MARGIN))
                    marks.add(bisect_right(ends, edge + _MARGIN))
        if plan.fact_names:
            for tp in self.history:
                if tp.name in plan.fact_names:
                    marks.add(bisect_left(ends, tp.occurred_at))
                    for days in plan.fact_windows.get(tp.name, ()):
                        edge = tp.occurred_at + timedelta(days=days)
                        marks.add(bisect_left(ends, edge - _MARGIN))
                        marks.add(bisect_right(ends, edge + _MARGIN))
        reset = self.lead.engagement_reset_at
        if reset is not None:
            marks.add(bisect_left(ends, reset))
        return sorted(marks)

    def gate_days(self, seen: datetime | None = None) -> GateDays:
        """Given when the lead was first seen (no gate can hold before it), return the first
        day index each gate held at the day's end, walking runs of quiet days as wholes."""
        last = len(self.ends) - 1
        start = 0 if seen is None else bisect_left(self.ends, seen)
        if start > last:
            return NEVER
        found: list[int | None] = [None, None]
        pending = self._possible()
        if not pending:
            return NEVER
        starts = [start, *(k for k in self.breakpoints() if start < k <= last)]
        anchor: int | None = None  # the latest day scored so far
        for position, a in enumerate(starts):
            b = starts[position + 1] - 1 if position + 1 < len(starts) else last
            if anchor is not None and self._ruled_out(pending, anchor, b):
                continue
            anchor = a
            # Most leads never qualify: one look at the whole window from its first day
            # rules them out without walking the runs.
            if (
                position == 0
                and b < last
                and self._ruled_out(pending, a, last)
                and not any(self._holds(gate, a) for gate in pending)
            ):
                break
            for gate in list(pending):
                if self._holds(gate, a):
                    found[gate] = a
                    pending.remove(gate)
            if not pending:
                break
            if a == b:
                continue
            for gate in list(pending):
                hit = self._search(gate, a, b)
                if hit is not None:
                    found[gate] = hit
                    pending.remove(gate)
            if b in self._days:
                anchor = b
            if not pending:
                break
        return GateDays(found[0], found[1])

    def _ruled_out(self, pending: list[int], p: int, q: int) -> bool:
        """Whether none of the pending gates can hold on any day in (p, q], judged from
        day p's numbers and the touchpoints arriving after it, each at full points (what
        leaves a window or a reset cuts can only move a rule towards 0)."""
        day = self._day(p)
        after, until = self.ends[p], self.ends[q]
        low = high = 0.0
        all_rules = self.model.engagement_rules
        for i in self._active:
            rule, value, times = all_rules[i], day.rules[i], self._matched_at[i]
            arrived = bisect_right(times, until) - bisect_right(times, after)
            current = value if value is not None else 0.0
            points = rule.points
            if rule.count is not None:
                if arrived or value is not None:
                    low += min(0.0, points)
                    high += max(0.0, points)
                continue
            if not arrived:
                # Nothing new: decay and windows move it from where it was towards 0.
                low += min(0.0, current)
                high += max(0.0, current)
                continue
            moved = current + points * arrived
            if rule.cap is not None:
                bound = abs(rule.cap)
                moved = max(-bound, min(bound, moved))
            if points > 0:
                high += moved
            else:
                low += moved
        low, high = low - 1e-6, high + 1e-6  # slack for the rounding of the real sums
        cap = self.model.engagement_cap
        if cap is not None:
            low, high = min(low, cap), min(high, cap)
        arrivals = self.shared.arrivals

        def fact(condition: TouchpointCondition) -> bool | None:
            if day.fact(condition):
                return None  # may stop holding as touchpoints leave its window
            times = arrivals(condition.touchpoint)
            return None if bisect_right(times, until) > bisect_right(times, after) else False

        decide = self.plan.deciders
        return all(decide[g](day.score, low, high, fact) is False for g in pending)

    def _possible(self) -> list[int]:
        """The gates that could hold on some day at all, judged from the fit and from how
        many touchpoints of each name the lead has (each counted at full points, no decay:
        an upper bound on what any rule can give), without scoring a single day."""
        names = self.shared.names
        by_name = self.model.rules_by_touchpoint
        low = high = 0.0
        for name, n in names.items():
            for rule in by_name.get(name, ()):
                if rule.count is not None:
                    most = rule.points if n >= rule.count.at_least else 0.0
                else:
                    most = rule.points * n
                    if rule.cap is not None:
                        bound = abs(rule.cap)
                        most = max(-bound, min(bound, most))
                if most > 0:
                    high += most
                else:
                    low += most
        # Slack for the rounding of the real sums (scores are far from 1e6).
        low, high = low - 1e-6, high + 1e-6
        cap = self.model.engagement_cap
        if cap is not None:
            low, high = min(low, cap), min(high, cap)
        score = Score(self.fit, 0.0, self.fit, self.grade, self.ends[-1])

        def fact(condition: TouchpointCondition) -> bool | None:
            return None if names.get(condition.touchpoint, 0) >= condition.at_least else False

        deciders = self.plan.deciders
        return [
            gate
            for gate in (0, 1)
            if self.plan.conditions[gate] is not None
            and deciders[gate](score, low, high, fact) is not False
        ]

    def _search(self, gate: int, a: int, b: int) -> int | None:
        """The first day in (a, b] the gate holds, given that it does not hold on day a
        and nothing breaks the run a..b: first from a's numbers alone, then from both
        ends', then day by day."""
        first = self._day(a)
        decide = self.plan.deciders[gate]
        if decide(first.score, *self._bounds(first, None), first.fact) is False:
            return None
        if decide(first.score, *self._bounds(first, self._day(b)), first.fact) is False:
            return None
        for index in range(a + 1, b + 1):
            if self._holds(gate, index):
                return index
        return None

    def _bounds(self, a: _Day, b: _Day | None) -> tuple[float, float]:
        """Lower and upper bounds of engagement over a quiet run starting on day ``a`` (and
        ending on day ``b`` when given), summed in the scoring engine's order."""
        low = high = 0.0
        all_rules = self.model.engagement_rules
        for index in self._active:
            rule, value = all_rules[index], a.rules[index]
            if value is None:
                continue
            if rule.count is not None or rule.half_life_days is None or rule.points == 0:
                low += value
                high += value
                continue
            end = b.rules[index] if b is not None else None
            if rule.points > 0:  # falls towards 0
                low += end if end is not None else 0.0
                high += value
            else:  # rises towards 0
                low += value
                high += end if end is not None else 0.0
        cap = self.model.engagement_cap
        if cap is not None:
            low, high = min(low, cap), min(high, cap)
        return low, high


def _compile_decider(condition: Condition | None) -> Decider:
    """Given a gate, return a function deciding it over a run of days (see ``Decider``):
    fit, grade and probability are the same all run long, engagement and total lie within
    the bounds, facts are answered by the caller."""
    if condition is None:
        return lambda score, low, high, facts: False
    match condition:
        case ScoreCondition(predicate):
            field = ScoreField(predicate.field)
            test = compile_test(predicate)
            op, value = predicate.op, predicate.value
            if field is ScoreField.ENGAGEMENT:
                return lambda score, low, high, facts: _range_test(op, value, low, high, test)
            if field is ScoreField.TOTAL:
                return lambda score, low, high, facts: _range_test(
                    op, value, score.fit + low, score.fit + high, test
                )
            name = predicate.field
            return lambda score, low, high, facts: test(score_value(score, name))
        case TouchpointCondition():
            fact = condition
            return lambda score, low, high, facts: facts(fact)
        case AllOf(conditions):
            parts = tuple(_compile_decider(c) for c in conditions)

            def every(score: Score, low: float, high: float, facts: Facts) -> bool | None:
                unknown = False
                for part in parts:
                    result = part(score, low, high, facts)
                    if result is False:
                        return False
                    unknown = unknown or result is None
                return None if unknown else True

            return every
        case AnyOf(conditions):
            parts = tuple(_compile_decider(c) for c in conditions)

            def some(score: Score, low: float, high: float, facts: Facts) -> bool | None:
                unknown = False
                for part in parts:
                    result = part(score, low, high, facts)
                    if result is True:
                        return True
                    unknown = unknown or result is None
                return None if unknown else False

            return some
    raise TypeError(f"unknown condition {condition!r}")  # pragma: no cover


def _range_test(
    op: Operator, value: Any, low: float, high: float, test: Callable[[Any], bool]
) -> bool | None:
    """Whether a number known to lie in [low, high] passes a predicate: True, False, or
    None (depends where in the range it is)."""
    if low == high or op is Operator.EXISTS:  # a number is always present
        return test(low)
    if op is Operator.GTE:
        bound = float(value)
        return True if low >= bound else False if high < bound else None
    if op is Operator.LTE:
        bound = float(value)
        return True if high <= bound else False if low > bound else None
    if op is Operator.BETWEEN:
        bottom, top = float(value[0]), float(value[1])
        if low >= bottom and high <= top:
            return True
        return False if high < bottom or low > top else None
    return None


def replay(
    lead: Lead,
    touchpoints: Sequence[Touchpoint],
    models: Sequence[ScoringModel],
    window: Window,
    *,
    seen: datetime | None = None,
    ends: Sequence[datetime] | None = None,
) -> list[GateDays]:
    """Given a lead, its touchpoints and models, return each model's gate days for it."""
    shared = LeadHistory(lead, touchpoints, ends if ends is not None else window.ends())
    return [LeadReplay(shared, None, model, window).gate_days(seen) for model in models]
