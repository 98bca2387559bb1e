"""Making lead states: an empty one, one rebuilt from the log, an engagement reset, and
whether a score read from a state is too close to a gate to decide from it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from leadgate.domain.lead_state.plan import micros, state_plan
from leadgate.domain.lead_state.state import LeadState
from leadgate.domain.scoring import Score
from leadgate.domain.scoring_model import ScoringModel
from leadgate.domain.touchpoints import Touchpoint


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
