"""Rescoring a set of leads and applying the gates: shared by every write use case."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from leadgate.domain.gates import gate_trigger
from leadgate.domain.leads import Lead
from leadgate.domain.lifecycle import Stage, Transition
from leadgate.domain.notifications import AccountSummary, LeadSummary, StageStep, stage_changed
from leadgate.domain.qualification import Qualification, qualify
from leadgate.domain.routing import HandoffKind
from leadgate.domain.scoring import effective_touchpoints
from leadgate.domain.touchpoints import Touchpoint
from leadgate.services.active import active_model
from leadgate.services.announce import announce
from leadgate.services.handoffs import HandoffRequest, hand_off
from leadgate.services.ports import ModelVersion, StageChange, StoredScore, UnitOfWork
from leadgate.services.predictive_ports import StoredProbability, predictive_of
from leadgate.services.predictive_scoring import predict_leads

__all__ = ["QualifyStats", "active_model", "announce_transitions", "qualify_leads"]


@dataclass(frozen=True, slots=True)
class QualifyStats:
    """How many leads were rescored and how many transitions the gates wrote."""

    rescored: int = 0
    transitions: int = 0

    def __add__(self, other: QualifyStats) -> QualifyStats:
        return QualifyStats(self.rescored + other.rescored, self.transitions + other.transitions)


def qualify_leads(
    uow: UnitOfWork,
    lead_ids: Collection[int],
    active: ModelVersion,
    at: datetime,
    *,
    apply_gates: bool = True,
) -> QualifyStats:
    """Recompute the leads' scores from their full history as of ``at`` and apply the gates.

    Recomputing each touched lead from its log (rather than adding deltas) is what keeps
    the stored score equal to a full rescore and to a replay "as of t".

    With ``apply_gates``, a lead that a gate makes sales-ready is handed off to sales, and
    every transition is announced, in this same transaction.
    """
    if not lead_ids:
        return QualifyStats()
    leads = uow.leads.get_many(lead_ids)
    histories = uow.touchpoints.for_leads(lead_ids)
    gates = active.model.gates
    # With acceptance required, the sales-ready gate hands off without moving the stage:
    # only a lead that was not sales-ready before is handed off (the edge, not the level).
    before = uow.scores.get_many(list(leads)) if apply_gates and gates.requires_acceptance else {}
    # With a predictive model active, each lead's probability joins its score before the
    # gates read it (one small query per batch tells; nothing more happens without one).
    predictive = predictive_of(uow).active()
    probabilities: dict[int, float] = {}
    if predictive is not None:
        predictions = predict_leads(uow, predictive, leads, histories, active, at)
        probabilities = {lead_id: p.probability for lead_id, p in predictions.items()}
    handoffs: list[HandoffRequest] = []
    scores: list[StoredScore] = []
    transitions: list[Transition] = []
    changes: list[StageChange] = []
    for lead_id in sorted(leads):
        lead = leads[lead_id]
        result = qualify(
            lead,
            histories.get(lead_id, ()),
            active.model,
            at,
            model_version=active.version,
            probability=probabilities.get(lead_id),
        )
        score = result.score
        scores.append(
            StoredScore(
                lead_id=lead_id,
                model_version=active.version,
                fit=score.fit,
                engagement=score.engagement,
                total=score.total,
                grade=score.grade.value if score.grade else None,
                mql_gate=result.gates.mql,
                sales_ready_gate=result.gates.sales_ready,
                scored_at=at,
            )
        )
        if apply_gates and result.transitions:
            transitions.extend(result.transitions)
            stage = result.transitions[-1].to_stage
            changes.append(StageChange(lead_id, stage, at, lead.engagement_reset_at))
        if apply_gates:
            previous = before.get(lead_id)
            request = _handoff_request(
                lead,
                result,
                histories.get(lead_id, ()),
                active,
                at,
                was_sales_ready=bool(previous and previous.sales_ready_gate),
            )
            if request is not None:
                handoffs.append(request)
    uow.scores.upsert(scores)
    if predictive is not None:
        predictive_of(uow).upsert_scores(
            [
                StoredProbability(lead_id, predictive.model.version, probability, at)
                for lead_id, probability in probabilities.items()
            ]
        )
    uow.transitions.add(transitions)
    uow.leads.set_stages(changes, at)
    if transitions:
        announce_transitions(uow, transitions, leads, at)
    if handoffs:
        hand_off(uow, handoffs, active, at)
    return QualifyStats(len(scores), len(transitions))


def _handoff_request(
    lead: Lead,
    result: Qualification,
    history: Sequence[Touchpoint],
    active: ModelVersion,
    at: datetime,
    *,
    was_sales_ready: bool,
) -> HandoffRequest | None:
    """The handoff a gate result calls for: the lead moved to SQL by a gate, or (with
    acceptance required) it just became sales-ready while an MQL."""
    gates = active.model.gates
    if result.transitions and result.transitions[-1].to_stage is Stage.SQL:
        gate = gates.skip_to_sql if result.transitions[-1].actor == "gate:skip_to_sql" else None
        condition = gate or gates.sales_ready
    elif (
        gates.requires_acceptance
        and result.gates.sales_ready
        and not was_sales_ready
        and (result.stage or lead.stage) is Stage.MQL
    ):
        condition = gates.sales_ready
    else:
        return None
    counted = effective_touchpoints(history, at, lead.engagement_reset_at)
    assert lead.id is not None
    return HandoffRequest(lead.id, HandoffKind.GATE, trigger=gate_trigger(condition, counted))


def announce_transitions(
    uow: UnitOfWork, transitions: Sequence[Transition], leads: Mapping[int, Lead], now: datetime
) -> None:
    """Queue a ``stage.changed`` notice for each transition (for the endpoints that want
    them), in the caller's transaction."""
    if not uow.outbox.subscribers("stage.changed"):
        return
    for transition in transitions:
        lead = leads[transition.lead_id]
        account = AccountSummary.from_account(lead.account) if lead.account else None
        who = replace(LeadSummary.from_lead(lead), stage=transition.to_stage.value)
        notice = stage_changed(who, StageStep.from_transition(transition), account=account)
        announce(uow, notice, lead_id=transition.lead_id, now=now)
