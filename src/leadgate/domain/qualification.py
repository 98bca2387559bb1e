"""Qualification: one lead's score and the gate moves it earns at a moment."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from leadgate.domain.gates import Check, compile_condition
from leadgate.domain.leads import Lead
from leadgate.domain.lifecycle import ActorType, GateResult, Stage, Transition, gate_moves
from leadgate.domain.scoring import Score, effective_touchpoints, per_model, score_history
from leadgate.domain.scoring_model import ScoringModel
from leadgate.domain.touchpoints import Touchpoint


@dataclass(frozen=True, slots=True)
class Qualification:
    """A lead's score at ``score.at``, the gates it meets, and the transitions they cause."""

    lead_id: int
    score: Score
    gates: GateResult
    transitions: tuple[Transition, ...]

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
) -> Qualification:
    """Given a lead, its history and the active model, score it and apply the gates at ``at``.

    ``probability`` is the active predictive model's estimate for the lead as of ``at``
    (None: no predictive model); it joins the score before the gates read it.
    """
    if lead.id is None:
        raise ValueError("qualify needs a stored lead (with an id)")
    history = effective_touchpoints(touchpoints, at, lead.engagement_reset_at)
    score = score_history(lead, history, model, at, explain=explain)
    if probability is not None:
        score = replace(score, probability=probability)
    mql, sales_ready, skip_to_sql = per_model(model, _compiled_gates)
    gates = GateResult(
        mql=mql(score, history, at),
        sales_ready=sales_ready(score, history, at),
        skip_to_sql=skip_to_sql(score, history, at),
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
    return Qualification(lead.id, score, gates, transitions)


def _compiled_gates(model: ScoringModel) -> tuple[Check, Check, Check]:
    gates = model.gates
    return (
        compile_condition(gates.mql),
        compile_condition(gates.sales_ready),
        compile_condition(gates.skip_to_sql),
    )
