"""Incremental lead state: what a lead's score and gates need, rolled forward per touchpoint.

``score_lead`` reads a lead's whole history; a lead that collects thousands of touchpoints
would make each new one cost thousands. A ``LeadState`` keeps, per engagement rule and per
touchpoint condition of the gates, only what the score at any later moment needs:

* a decayed sum without a window: Σ 2^((t_e − ref) / half-life), anchored at ``ref``, the
  latest time folded in. Every term is at most 1, so nothing overflows however short the
  half-life or long the history; rolling forward is one multiplication and a late arrival
  one addition (exponential decay does not depend on the order terms arrive in);
* no decay: a count;
* a window (``within_days``, count rules, touchpoint conditions with ``within_days``): the
  matched times still inside it, oldest first;
* for handoffs: the latest time of each touchpoint name (which touchpoint tipped a gate).

Times are integer microseconds since the epoch, so window boundaries compare exactly as
``score_lead``'s timedeltas do. Touchpoints dated after the state's moment wait in
``pending`` until their time comes. Caps are applied when the score is read.

The law (tested with hypothesis): for any stream, in any arrival order, the score read
from the state at ``t`` equals ``score_lead`` over the log at ``t`` within 1e-9 relative
(plus 1e-9 absolute) per rule, and every gate fact is the same.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from leadgate.domain.gates import Facts, score_thresholds, touchpoint_conditions
from leadgate.domain.leads import Lead
from leadgate.domain.predicates import Test, compile_test
from leadgate.domain.scoring import Score, fit_points, per_model
from leadgate.domain.scoring_model import EngagementRule, ScoringModel, TouchpointCondition
from leadgate.domain.touchpoints import Touchpoint

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_US_PER_S = 1_000_000
_DAY = 86_400.0

# How far a rule's decayed or summed points read from the state may be from score_lead's:
# the two sum the same terms in another order and anchoring, so they agree up to rounding
# (far inside these bounds, which the property tests check). A score within the summed
# bounds of a gate threshold is decided from the log, so gate decisions are the same.
_RULE_RELATIVE = 1e-9
_RULE_ABSOLUTE = 1e-9


def micros(moment: datetime) -> int:
    """Given an aware datetime, return microseconds since the epoch (exact)."""
    return (moment - _EPOCH) // _MICROSECOND


def from_micros(value: int) -> datetime:
    """Given microseconds since the epoch, return the aware UTC datetime."""
    return _EPOCH + timedelta(microseconds=value)


@dataclass(frozen=True, slots=True)
class _Tracker:
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

    trackers: tuple[_Tracker, ...]
    by_name: dict[str, tuple[int, ...]]
    condition_index: dict[int, int]  # id(TouchpointCondition) → tracker position
    thresholds: tuple[tuple[str, float], ...]


def state_plan(model: ScoringModel) -> StatePlan:
    """Given a model, return its state plan (built once per model object)."""
    return per_model(model, _plan)


def _rule_tracker(rule: EngagementRule) -> _Tracker:
    where = tuple((p.field, compile_test(p)) for p in rule.where)
    if rule.count is not None:
        windows = [w * _DAY for w in (rule.within_days, rule.count.within_days) if w is not None]
        return _Tracker(
            "count",
            rule.touchpoint,
            where,
            min(windows) if windows else None,
            None,
            rule.count.at_least,
        )
    if rule.within_days is not None:
        return _Tracker(
            "window", rule.touchpoint, where, rule.within_days * _DAY, rule.half_life_days
        )
    return _Tracker("sum", rule.touchpoint, where, None, rule.half_life_days)


def _condition_tracker(condition: TouchpointCondition) -> _Tracker:
    return _Tracker(
        "count",
        condition.touchpoint,
        tuple((p.field, compile_test(p)) for p in condition.where),
        None if condition.within_days is None else condition.within_days * _DAY,
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


def _matches(plan: StatePlan, touchpoint: Touchpoint) -> tuple[int, ...]:
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


@dataclass(slots=True)
class _Track:
    """One tracker's running values (which are used depends on the tracker's kind)."""

    n: int = 0
    ref: int = 0
    mass: float = 0.0
    times: list[int] = field(default_factory=list)


@dataclass(slots=True)
class LeadState:
    """One lead's incremental state under one model version, valid from ``as_of`` on.

    Example: ``state = build_state(model, 3, history, now, since=None)``, then for each new
    touchpoint ``state.add(plan, touchpoint)``, and ``state.advance(plan, later)`` before
    reading ``state.engagement(model, later)``.
    """

    model_version: int
    as_of: int  # microseconds; reads and folds are valid at this moment or later
    since: int | None  # the lead's engagement reset: older touchpoints never count
    tracks: dict[int, _Track]  # by tracker position; a tracker with nothing yet has none
    last_seen: dict[str, tuple[int, str]] = field(default_factory=dict)
    pending: list[tuple[int, str, str, tuple[int, ...]]] = field(default_factory=list)
    latest: int | None = None  # the latest time folded in (None: none yet)

    # -- rolling forward ---------------------------------------------------------------

    def add(self, plan: StatePlan, touchpoint: Touchpoint) -> None:
        """Fold in one new touchpoint (once: the caller passes only touchpoints it stored).

        One before the engagement reset never counts; one dated after ``as_of`` waits
        until the state is advanced past its time."""
        at = micros(touchpoint.occurred_at)
        if self.since is not None and at < self.since:
            return
        entry = (at, touchpoint.message_id, touchpoint.name, _matches(plan, touchpoint))
        if at > self.as_of:
            insort(self.pending, entry)
            return
        self._fold(plan, entry)

    def advance(self, plan: StatePlan, moment: datetime) -> None:
        """Move the state's moment forward to ``moment``: touchpoints whose time has come
        join, and window times that can never count again are dropped."""
        now = micros(moment)
        if now < self.as_of:
            raise ValueError("a lead state only moves forward; rebuild it for an earlier time")
        self.as_of = now
        if self.pending and self.pending[0][0] <= now:
            due = bisect_right(self.pending, (now, "\U0010ffff"))
            ready, self.pending = self.pending[:due], self.pending[due:]
            for entry in ready:
                self._fold(plan, entry)
        for index, track in self.tracks.items():
            horizon = plan.trackers[index].horizon
            if horizon is not None and track.times:
                _prune(track, horizon, now)

    def _fold(self, plan: StatePlan, entry: tuple[int, str, str, tuple[int, ...]]) -> None:
        at, message_id, name, indexes = entry
        seen = self.last_seen.get(name)
        if seen is None or (at, message_id) > seen:
            self.last_seen[name] = (at, message_id)
        if self.latest is None or at > self.latest:
            self.latest = at
        for index in indexes:
            tracker = plan.trackers[index]
            track = self.tracks.get(index)
            if track is None:
                track = self.tracks[index] = _Track()
            if tracker.horizon is not None:
                if (self.as_of - at) / _US_PER_S <= tracker.horizon:
                    insort(track.times, at)
                    if tracker.kind == "count" and len(track.times) > tracker.at_least:
                        # "At least k in the window" holds at any later moment exactly
                        # when the k newest times are in it: older ones never decide.
                        del track.times[0]
                continue
            track.n += 1
            if tracker.kind != "sum" or tracker.half_life is None:
                continue
            scale = tracker.half_life * _DAY * _US_PER_S
            if track.n == 1:
                track.ref, track.mass = at, 1.0
            elif at > track.ref:
                track.mass = track.mass * 2.0 ** ((track.ref - at) / scale) + 1.0
                track.ref = at
            else:
                track.mass += 2.0 ** ((at - track.ref) / scale)

    # -- reading -------------------------------------------------------------------------

    def rule_points(self, model: ScoringModel, moment: datetime) -> list[float | None]:
        """Given the model and a moment at or after ``as_of`` (advance first), return each
        engagement rule's points after its cap (None: the rule has nothing to say)."""
        now = micros(moment)
        if now < self.as_of:
            raise ValueError("a lead state is read at its moment or later; advance it first")
        plan = state_plan(model)
        points: list[float | None] = []
        for index, rule in enumerate(model.engagement_rules):
            track = self.tracks.get(index)
            found = None if track is None else _rule_value(rule, plan.trackers[index], track, now)
            points.append(None if found is None else found[0])
        return points

    def engagement(self, model: ScoringModel, moment: datetime) -> float:
        """Given the model and a moment at or after ``as_of``, return the engagement
        ``score_lead`` gives (the same rules, caps and model-wide cap)."""
        return self.engagement_and_error(model, moment)[0]

    def engagement_and_error(self, model: ScoringModel, moment: datetime) -> tuple[float, float]:
        """As ``engagement``, with a bound on how far score_lead's value may be from it
        (0.0 when every rule gives exactly score_lead's number: counts and passed caps)."""
        now = micros(moment)
        if now < self.as_of:
            raise ValueError("a lead state is read at its moment or later; advance it first")
        trackers, rules = state_plan(model).trackers, model.engagement_rules
        engagement = error = 0.0
        # Only the rules this lead has touched, in model order (as score_lead sums them).
        for index in sorted(self.tracks):
            if index < len(rules):
                found = _rule_value(rules[index], trackers[index], self.tracks[index], now)
                if found is not None:
                    engagement += found[0]
                    error += found[1]
        cap = model.engagement_cap
        if cap is not None and engagement > cap:
            return cap, (0.0 if engagement - cap > error else error)
        return engagement, error

    def score(self, lead: Lead, model: ScoringModel, moment: datetime) -> tuple[Score, float]:
        """Given the lead (for fit) and the model, return its score at ``moment`` (numbers
        only: explanations come from the log) and the bound on its engagement's rounding
        (``ambiguous`` reads it)."""
        fit = fit_points(lead, model)
        engagement, error = self.engagement_and_error(model, moment)
        return Score(fit, engagement, fit + engagement, model.grade_for(fit), moment), error

    def facts(self, model: ScoringModel, moment: datetime) -> Facts:
        """Given the model and a moment at or after ``as_of``, return the gates' facts."""
        plan = state_plan(model)
        now = micros(moment)

        def holds(condition: TouchpointCondition) -> bool:
            index = plan.condition_index[id(condition)]
            track = self.tracks.get(index)
            if track is None:
                return False  # at_least is 1 or more
            return _count(plan.trackers[index], track, now) >= condition.at_least

        return holds

    def trigger(self, named: Iterable[str]) -> str | None:
        """Given the touchpoint names a gate reads, return the touchpoint that most
        plausibly tipped it: the latest one named, else the latest of any kind (as
        ``gates.gate_trigger`` reads it from the history)."""
        names = set(named)
        candidates = [
            (seen, name) for name, seen in self.last_seen.items() if not names or name in names
        ]
        if not candidates:
            candidates = [(seen, name) for name, seen in self.last_seen.items()]
        return max(candidates)[1] if candidates else None

    # -- storing ---------------------------------------------------------------------------

    def to_document(self) -> dict[str, Any]:
        """Return the state as a JSON-ready document (``from_document`` reads it back)."""
        return {
            "as_of": self.as_of,
            "since": self.since,
            "latest": self.latest,
            # Sparse: most leads touch a few of the model's rules.
            "tracks": {
                str(i): [t.n, t.ref, t.mass, t.times]
                for i, t in self.tracks.items()
                if t.n or t.times
            },
            "last_seen": {name: list(seen) for name, seen in self.last_seen.items()},
            "pending": [[at, m, n, list(ix)] for at, m, n, ix in self.pending],
        }

    @classmethod
    def from_document(
        cls, model_version: int, document: dict[str, Any], plan: StatePlan
    ) -> LeadState:
        """Given a stored document, its model version and that version's plan, return the
        state."""
        tracks = {
            # Own lists: advancing the state must not change the document it came from.
            int(index): _Track(n, ref, mass, list(times))
            for index, (n, ref, mass, times) in document["tracks"].items()
        }
        if tracks and max(tracks) >= len(plan.trackers):
            raise ValueError("the state was written under a model with other rules")
        return cls(
            model_version=model_version,
            as_of=document["as_of"],
            since=document["since"],
            latest=document["latest"],
            tracks=tracks,
            last_seen={name: (at, m) for name, (at, m) in document["last_seen"].items()},
            pending=[(at, m, n, tuple(ix)) for at, m, n, ix in document["pending"]],
        )


def _prune(track: _Track, horizon: float, now: int) -> None:
    """Drop window times older than ``horizon`` at ``now``: they can never count again."""
    times = track.times
    keep = 0
    while keep < len(times) and (now - times[keep]) / _US_PER_S > horizon:
        keep += 1
    if keep:
        del times[:keep]


def _in_window(tracker: _Tracker, track: _Track, now: int) -> list[int]:
    """The matched times that count at ``now``: time ≤ ``now`` and age inside the horizon,
    the age computed as score_lead computes it (so boundaries agree to the microsecond)."""
    times, horizon = track.times, tracker.horizon
    assert horizon is not None
    high = bisect_right(times, now)
    # Ages shrink as times grow, so "inside the horizon" is False … then True … along times.
    low = bisect_left(times, True, 0, high, key=lambda at: (now - at) / _US_PER_S <= horizon)
    return times[low:high]


def _count(tracker: _Tracker, track: _Track, now: int) -> int:
    if tracker.horizon is None:
        return track.n
    return len(_in_window(tracker, track, now))


def _rule_value(
    rule: EngagementRule, tracker: _Tracker, track: _Track, now: int
) -> tuple[float, float] | None:
    """One rule's points at ``now`` after its cap, as scoring._engagement computes them, and
    how far score_lead's value may be from it (0: exactly the same number). None: the rule
    has nothing to say."""
    if tracker.kind == "count":
        if _count(tracker, track, now) >= tracker.at_least:
            return rule.points, 0.0
        return None
    half_life = tracker.half_life
    if tracker.kind == "window":
        times = _in_window(tracker, track, now)
        if not times:
            return None
        if half_life is None:
            total = rule.points * len(times)
        else:
            scale = half_life * _DAY * _US_PER_S
            total = rule.points * sum(2.0 ** ((at - now) / scale) for at in times)
    else:
        if track.n == 0:
            return None
        if half_life is None:
            total = rule.points * track.n
        else:
            scale = half_life * _DAY * _US_PER_S
            total = rule.points * track.mass * 2.0 ** ((track.ref - now) / scale)
    # The sums are score_lead's up to rounding (the law tests 1e-9 relative + absolute).
    error = _RULE_RELATIVE * abs(total) + _RULE_ABSOLUTE
    if rule.cap is not None:
        bound = abs(rule.cap)
        if total > bound:
            # Clearly past the cap, both sides give the cap itself: the same number.
            return bound, (0.0 if total - bound > error else error)
        if total < -bound:
            return -bound, (0.0 if -bound - total > error else error)
    return total, error


def new_state(
    model: ScoringModel, model_version: int, moment: datetime, since: datetime | None
) -> LeadState:
    """Given a model, return the empty state of a lead at ``moment`` (``since``: its
    engagement reset, None for none)."""
    return LeadState(
        model_version,
        micros(moment),
        None if since is None else micros(since),
        {},
    )


def build_state(
    model: ScoringModel,
    model_version: int,
    history: Iterable[Touchpoint],
    moment: datetime,
    since: datetime | None,
) -> LeadState:
    """Given a lead's whole touchpoint log, return its state at ``moment``: the recompute
    the incremental state must always equal."""
    plan = state_plan(model)
    state = new_state(model, model_version, moment, since)
    for touchpoint in sorted(history, key=lambda tp: (tp.occurred_at, tp.message_id)):
        state.add(plan, touchpoint)
    return state


def ambiguous(model: ScoringModel, score: Score, error: float) -> bool:
    """Given a score read from a state and the bound on its engagement's rounding
    (``LeadState.engagement_and_error``), return whether a threshold one of the gates
    compares engagement or total with lies within that bound, so that rounding could
    decide the gate: the caller then decides from the log. Fit and probability are the
    same numbers on both sides."""
    if error == 0.0:
        return False
    margin = error + 1e-12 * abs(score.total)  # and the rounding of fit + engagement
    for name, threshold in state_plan(model).thresholds:
        if name == "engagement" and abs(score.engagement - threshold) <= margin:
            return True
        if name == "total" and abs(score.total - threshold) <= margin:
            return True
    return False


def resettable(state: LeadState, since: datetime) -> bool:
    """Given a state and a new engagement reset, return whether the reset can be applied
    by emptying the state (nothing folded in at or after ``since``); otherwise the caller
    rebuilds it from the log."""
    return state.latest is None or state.latest < micros(since)


def reset(state: LeadState, since: datetime) -> None:
    """Apply an engagement reset at ``since`` to a state ``resettable`` accepts: folded
    touchpoints stop counting, pending ones at or after ``since`` wait on."""
    cut = micros(since)
    state.since = cut
    state.tracks = {}
    state.last_seen = {}
    state.latest = None
    state.pending = [entry for entry in state.pending if entry[0] >= cut]
    state.as_of = max(state.as_of, cut)


__all__ = [
    "LeadState",
    "StatePlan",
    "ambiguous",
    "build_state",
    "from_micros",
    "micros",
    "new_state",
    "reset",
    "resettable",
    "state_plan",
]
