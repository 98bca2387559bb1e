"""The lifecycle: stages, the transition table, and what a gate or a person may change.

Stages never fall because a score decays: a lead leaves a stage only by a gate moving it
forward, or by a person's or a policy's decision (recycle, disqualify, won, lost).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from leadgate.domain.errors import TransitionNotAllowed


class Stage(StrEnum):
    """Lifecycle stages; the last three are side stages."""

    LEAD = "lead"
    MQL = "mql"
    SQL = "sql"
    OPPORTUNITY = "opportunity"
    CUSTOMER = "customer"
    RECYCLED = "recycled"
    DISQUALIFIED = "disqualified"
    LOST = "lost"


# The default transition table (DESIGN.md, Lifecycle). Anything else is an override.
TRANSITIONS: dict[Stage, frozenset[Stage]] = {
    Stage.LEAD: frozenset({Stage.MQL, Stage.SQL}),
    Stage.MQL: frozenset({Stage.SQL, Stage.RECYCLED, Stage.DISQUALIFIED}),
    Stage.SQL: frozenset({Stage.OPPORTUNITY, Stage.RECYCLED, Stage.DISQUALIFIED}),
    Stage.OPPORTUNITY: frozenset({Stage.CUSTOMER, Stage.LOST}),
    Stage.RECYCLED: frozenset({Stage.MQL, Stage.SQL}),
    Stage.LOST: frozenset({Stage.RECYCLED}),
    Stage.CUSTOMER: frozenset(),
    Stage.DISQUALIFIED: frozenset(),
}


class ActorType(StrEnum):
    """Who made a transition happen."""

    RULE = "rule"  # a gate of the scoring model
    USER = "user"  # a person, through the CLI or dashboard
    API = "api"  # another system, through the API or an import
    POLICY = "policy"  # an automatic policy (for example recycle after an SLA breach)


@dataclass(frozen=True, slots=True)
class Transition:
    """One stage change, kept forever: KPIs are computed from these, not from a column.

    ``fit``/``engagement``/``total``/``grade`` are the score when it happened and
    ``model_version`` the scoring model that produced it.
    """

    lead_id: int
    from_stage: Stage
    to_stage: Stage
    occurred_at: datetime
    actor_type: ActorType
    actor: str
    reason: str
    fit: float | None = None
    engagement: float | None = None
    total: float | None = None
    grade: str | None = None
    model_version: int | None = None
    override: bool = False


def allowed(from_stage: Stage, to_stage: Stage) -> bool:
    """Given two stages, return whether the default table allows the move."""
    return to_stage in TRANSITIONS[from_stage]


def check_manual(from_stage: Stage, to_stage: Stage, reason: str, override: bool) -> bool:
    """Given a requested manual change, return whether it is an override, or refuse it.

    A change the table allows is ordinary; any other needs ``override`` and a reason.
    """
    if from_stage == to_stage:
        raise TransitionNotAllowed(f"the lead is already in stage {to_stage.value!r}")
    if allowed(from_stage, to_stage):
        return False
    if not override:
        options = ", ".join(sorted(s.value for s in TRANSITIONS[from_stage])) or "none"
        raise TransitionNotAllowed(
            f"{from_stage.value} → {to_stage.value} is not in the transition table "
            f"(allowed from {from_stage.value}: {options}); use an override with a reason"
        )
    if not reason.strip():
        raise TransitionNotAllowed("an override needs a reason")
    return True


@dataclass(frozen=True, slots=True)
class GateResult:
    """Which gates a lead's score meets at a moment."""

    mql: bool
    sales_ready: bool
    skip_to_sql: bool


def gate_moves(
    stage: Stage,
    gates: GateResult,
    *,
    requires_acceptance: bool,
    requalify_open: bool,
) -> list[tuple[Stage, Stage, str]]:
    """Given a stage and the gates met, return the moves the model makes, in order.

    Each move is (from, to, gate name). A lead that meets both the MQL and the sales-ready
    gate at once passes through MQL so the funnel counts both steps. A recycled lead moves
    only once its cool-down is over (``requalify_open``). When sales-ready needs a rep's
    acceptance, the model never moves a lead to SQL itself.
    """
    to_sql = gates.sales_ready and not requires_acceptance
    skip = gates.skip_to_sql and not requires_acceptance
    if stage is Stage.RECYCLED and not requalify_open:
        return []
    if stage in (Stage.LEAD, Stage.RECYCLED):
        if skip:
            return [(stage, Stage.SQL, "skip_to_sql")]
        if gates.mql:
            moves: list[tuple[Stage, Stage, str]] = [(stage, Stage.MQL, "mql")]
            if to_sql:
                moves.append((Stage.MQL, Stage.SQL, "sales_ready"))
            return moves
        return []
    if stage is Stage.MQL and (to_sql or skip):
        return [(Stage.MQL, Stage.SQL, "sales_ready" if to_sql else "skip_to_sql")]
    return []
