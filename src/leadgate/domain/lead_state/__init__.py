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

from leadgate.domain.lead_state.building import (
    ambiguous,
    build_state,
    new_state,
    reset,
    resettable,
)
from leadgate.domain.lead_state.plan import StatePlan, from_micros, micros, state_plan
from leadgate.domain.lead_state.state import LeadState

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
