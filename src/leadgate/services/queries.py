"""Reading one lead's score, explanation and history (the per-lead read side), and the
stored scoring model versions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from leadgate.domain.leads import Lead
from leadgate.domain.lifecycle import Transition
from leadgate.domain.predictive import Prediction, stage_before
from leadgate.domain.qualification import Qualification, qualify
from leadgate.services.errors import LeadNotFound
from leadgate.services.ports import ModelVersion, StoredScore, UnitOfWork
from leadgate.services.predictive_scoring import predict_leads
from leadgate.services.qualification import active_model


@dataclass(frozen=True, slots=True)
class Explanation:
    """A lead, its stored score, and the same score recomputed with every contribution;
    with a predictive model active, its prediction with the top factors too."""

    lead: Lead
    stored: StoredScore | None
    model_version: int
    qualification: Qualification
    prediction: Prediction | None = None
    predictive_version: int | None = None


def explain_lead(uow: UnitOfWork, lead_id: int, *, at: datetime | None = None) -> Explanation:
    """Recompute a lead's score with its explanation, as of ``at`` or of its stored score.

    Recomputing at the stored ``scored_at`` gives the stored numbers exactly (one
    definition, one code path), so the contributions explain what is stored.
    """
    with uow:
        active = active_model(uow)
        lead = uow.leads.get_many([lead_id]).get(lead_id)
        if lead is None:
            raise LeadNotFound(lead_id)
        stored = uow.scores.get_many([lead_id]).get(lead_id)
        when = at or (stored.scored_at if stored else None)
        if when is None:
            raise LeadNotFound(lead_id)
        model = active.model
        version = active.version
        if at is None and stored is not None and stored.model_version != active.version:
            previous = uow.models.get(stored.model_version)
            if previous is not None:
                model, version = previous.model, previous.version
        history = uow.touchpoints.for_leads([lead_id]).get(lead_id, [])
        predictive = uow.predictive.active()
        prediction = None
        if predictive is not None:
            # The stage as of ``when`` (not the current one), as training saw it.
            milestones = uow.predictive.milestones([lead_id]).get(lead_id, [])
            prediction = predict_leads(
                uow,
                predictive,
                {lead_id: lead},
                {lead_id: history},
                active,
                when,
                stages={lead_id: stage_before(milestones, when)},
                explain=True,
            )[lead_id]
    result = qualify(
        lead,
        history,
        model,
        when,
        model_version=version,
        explain=True,
        probability=prediction.probability if prediction else None,
    )
    return Explanation(
        lead,
        stored,
        version,
        result,
        prediction,
        predictive.model.version if predictive is not None else None,
    )


def lead_transitions(uow: UnitOfWork, lead_id: int) -> list[Transition]:
    """A lead's transitions, oldest first."""
    with uow:
        if not uow.leads.get_many([lead_id]):
            raise LeadNotFound(lead_id)
        return uow.transitions.for_lead(lead_id)


def model_versions(uow: UnitOfWork) -> list[ModelVersion]:
    """Every stored scoring model version, oldest first."""
    with uow:
        return sorted(uow.models.all(), key=lambda v: v.version)


def model_version(uow: UnitOfWork, version: int) -> ModelVersion | None:
    with uow:
        return uow.models.get(version)
