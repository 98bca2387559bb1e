"""A lead's incremental state: rolled forward per touchpoint, read at any later moment."""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from leadgate.domain.gates import Facts
from leadgate.domain.lead_state.plan import (
    DAY,
    US_PER_S,
    StatePlan,
    Tracker,
    matches,
    micros,
    state_plan,
)
from leadgate.domain.leads import Lead
from leadgate.domain.scoring import Score, fit_points
from leadgate.domain.scoring_model import EngagementRule, ScoringModel, TouchpointCondition
from leadgate.domain.touchpoints import Touchpoint

# How far a rule's decayed or summed points read from the state may be from score_lead's:
# the two sum the same terms in another order and anchoring, so they agree up to rounding
# (far inside these bounds, which the property tests check). A score within the summed
# bounds of a gate threshold is decided from the log, so gate decisions are the same.
_RULE_RELATIVE = 1e-9
_RULE_ABSOLUTE = 1e-9


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
        entry = (at, touchpoint.message_id, touchpoint.name, matches(plan, touchpoint))
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
                if (self.as_of - at) / US_PER_S <= tracker.horizon:
                    insort(track.times, at)
                    if tracker.kind == "count" and len(track.times) > tracker.at_least:
                        # "At least k in the window" holds at any later moment exactly
                        # when the k newest times are in it: older ones never decide.
                        del track.times[0]
                continue
            track.n += 1
            if tracker.kind != "sum" or tracker.half_life is None:
                continue
            scale = tracker.half_life * DAY * US_PER_S
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
    while keep < len(times) and (now - times[keep]) / US_PER_S > horizon:
        keep += 1
    if keep:
        del times[:keep]


def _in_window(tracker: Tracker, track: _Track, now: int) -> list[int]:
    """The matched times that count at ``now``: time ≤ ``now`` and age inside the horizon,
    the age computed as score_lead computes it (so boundaries agree to the microsecond)."""
    times, horizon = track.times, tracker.horizon
    assert horizon is not None
    high = bisect_right(times, now)
    # Ages shrink as times grow, so "inside the horizon" is False … then True … along times.
    low = bisect_left(times, True, 0, high, key=lambda at: (now - at) / US_PER_S <= horizon)
    return times[low:high]


def _count(tracker: Tracker, track: _Track, now: int) -> int:
    if tracker.horizon is None:
        return track.n
    return len(_in_window(tracker, track, now))


def _rule_value(
    rule: EngagementRule, tracker: Tracker, track: _Track, now: int
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
            scale = half_life * DAY * US_PER_S
            total = rule.points * sum(2.0 ** ((at - now) / scale) for at in times)
    else:
        if track.n == 0:
            return None
        if half_life is None:
            total = rule.points * track.n
        else:
            scale = half_life * DAY * US_PER_S
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
