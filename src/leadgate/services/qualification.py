"""Rescoring a set of leads and applying the gates: shared by every write use case."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from leadgate.domain.lifecycle import Transition
from leadgate.domain.qualification import qualify
from leadgate.services.errors import NoActiveModel
from leadgate.services.ports import ModelVersion, StageChange, StoredScore, UnitOfWork


@dataclass(frozen=True, slots=True)
class QualifyStats:
    """How many leads were rescored and how many transitions the gates wrote."""

    rescored: int = 0
    transitions: int = 0

    def __add__(self, other: QualifyStats) -> QualifyStats:
        return QualifyStats(self.rescored + other.rescored, self.transitions + other.transitions)


def active_model(uow: UnitOfWork) -> ModelVersion:
    """The active scoring model version, or NoActiveModel."""
    active = uow.models.active()
    if active is None:
        raise NoActiveModel()
    return active


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
    """
    if not lead_ids:
        return QualifyStats()
    leads = uow.leads.get_many(lead_ids)
    histories = uow.touchpoints.for_leads(lead_ids)
    scores: list[StoredScore] = []
    transitions: list[Transition] = []
    changes: list[StageChange] = []
    for lead_id in sorted(leads):
        lead = leads[lead_id]
        result = qualify(
            lead, histories.get(lead_id, ()), active.model, at, model_version=active.version
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
    uow.scores.upsert(scores)
    uow.transitions.add(transitions)
    uow.leads.set_stages(changes, at)
    return QualifyStats(len(scores), len(transitions))
