"""Qualification: one lead's score, the gate moves it earns at a moment, and the events."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from leadgate.domain.events import BecameSalesReady, DomainEvent, StageChanged
from leadgate.domain.gates import Facts, GateCheck, compile_gate, history_facts, touchpoints_named
from leadgate.domain.leads import Lead
from leadgate.domain.lifecycle import ActorType, GateResult, Stage, Transition, gate_moves
from leadgate.domain.scoring import Score, effective_touchpoints, per_model, score_history
from leadgate.domain.scoring_model import ScoringModel
from leadgate.domain.touchpoints import Touchpoint


@dataclass(frozen=True, slots=True)
class Qualification:
    """A lead's score at ``score.at``, the gates it meets, the transitions they cause and
    the domain events for the handlers (stage changes, ready for sales)."""

    lead_id: int
    score: Score
    gates: GateResult
    transitions: tuple[Transition, ...]
    events: tuple[DomainEvent, ...] = ()

    @property
    def stage(self) -> Stage | None:
        """The stage the lead ends in, or None when it does not move."""
        return self.transitions[-1].to_stage if self.transitions else None


def qualify(
    lead: Lead,
    touchpoints: Iterable[Touchpoint],
    model: ScoringModel,
    at: datetime,
    *,
    model_version: int | None,
    explain: bool = False,
    probability: float | None = None,
    was_sales_ready: bool = False,
) -> Qualification:
    """Given a lead, its history and the active model, score it and apply the gates at ``at``.

    ``probability`` is the active predictive model's estimate for the lead as of ``at``
    (None: no predictive model); it joins the score before the gates read it.
    ``was_sales_ready``: whether its stored score already met the sales-ready gate (with
    acceptance required, only the edge makes it ready for sales).
    """
    history = effective_touchpoints(touchpoints, at, lead.engagement_reset_at)
    score = score_history(lead, history, model, at, explain=explain)
    return decide(
        lead,
        score,
        history_facts(history, at),
        lambda names: _latest(history, names),
        model,
        at,
        model_version=model_version,
        probability=probability,
        was_sales_ready=was_sales_ready,
    )


Trigger = Callable[[frozenset[str]], str | None]
"""Given the touchpoint names a gate reads, the one that most plausibly tipped it."""


def decide(
    lead: Lead,
    score: Score,
    facts: Facts,
    trigger: Trigger,
    model: ScoringModel,
    at: datetime,
    *,
    model_version: int | None,
    probability: float | None = None,
    was_sales_ready: bool = False,
) -> Qualification:
    """Given a lead's score and the touchpoint facts at ``at`` (from its log or its
    incremental state), apply the gates: the transitions they cause and the events."""
    if lead.id is None:
        raise ValueError("qualify needs a stored lead (with an id)")
    if probability is not None:
        score = replace(score, probability=probability)
    mql, sales_ready, skip_to_sql = per_model(model, _compiled_gates)
    gates = GateResult(
        mql=mql(score, facts),
        sales_ready=sales_ready(score, facts),
        skip_to_sql=skip_to_sql(score, facts),
    )
    requalify_open = lead.stage is Stage.RECYCLED and (
        lead.stage_entered_at is None
        or at >= lead.stage_entered_at + timedelta(days=model.recycle.cooldown_days)
    )
    moves = gate_moves(
        lead.stage,
        gates,
        requires_acceptance=model.gates.requires_acceptance,
        requalify_open=requalify_open,
    )
    grade = score.grade.value if score.grade else None
    transitions = tuple(
        Transition(
            lead_id=lead.id,
            from_stage=from_stage,
            to_stage=to_stage,
            occurred_at=at,
            actor_type=ActorType.RULE,
            actor=f"gate:{gate}",
            reason=f"{gate} gate met",
            fit=score.fit,
            engagement=score.engagement,
            total=score.total,
            grade=grade,
            model_version=model_version,
        )
        for from_stage, to_stage, gate in moves
    )
    events: list[DomainEvent] = [StageChanged(t) for t in transitions]
    names = _sales_ready_names(lead, gates, transitions, model, was_sales_ready)
    if names is not None:
        events.append(BecameSalesReady(lead.id, trigger(names), at))
    return Qualification(lead.id, score, gates, transitions, tuple(events))


def _sales_ready_names(
    lead: Lead,
    gates: GateResult,
    transitions: tuple[Transition, ...],
    model: ScoringModel,
    was_sales_ready: bool,
) -> frozenset[str] | None:
    """The touchpoint names read by the gate that made the lead ready for sales (None: no
    gate did): a gate moved it to SQL, or, with acceptance required, it just became
    sales-ready while an MQL (the edge, not the level)."""
    config = model.gates
    if transitions and transitions[-1].to_stage is Stage.SQL:
        skipped = transitions[-1].actor == "gate:skip_to_sql"
        return touchpoints_named((config.skip_to_sql if skipped else None) or config.sales_ready)
    stage = transitions[-1].to_stage if transitions else lead.stage
    if (
        config.requires_acceptance
        and gates.sales_ready
        and not was_sales_ready
        and stage is Stage.MQL
    ):
        return touchpoints_named(config.sales_ready)
    return None


def _latest(history: Sequence[Touchpoint], names: frozenset[str]) -> str | None:
    """The latest touchpoint of the history named ``names`` (any, when none is): as
    ``gates.gate_trigger`` reads it."""
    for touchpoint in reversed(history):
        if not names or touchpoint.name in names:
            return touchpoint.name
    return history[-1].name if history else None


def _compiled_gates(model: ScoringModel) -> tuple[GateCheck, GateCheck, GateCheck]:
    gates = model.gates
    return (
        compile_gate(gates.mql),
        compile_gate(gates.sales_ready),
        compile_gate(gates.skip_to_sql),
    )
