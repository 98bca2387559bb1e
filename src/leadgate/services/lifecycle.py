"""Stage changes decided by people and systems: accept, recycle, disqualify, won, lost ..."""

from __future__ import annotations

from datetime import datetime

from leadgate.domain.errors import TransitionNotAllowed
from leadgate.domain.lifecycle import Stage, Transition, check_manual
from leadgate.domain.scoring_model import RecycleEngagement
from leadgate.services.commands import ChangeStage
from leadgate.services.errors import InvalidInput, LeadNotFound
from leadgate.services.handlers import announce_transitions
from leadgate.services.handoffs import close_pending
from leadgate.services.ports import StageChange, UnitOfWork
from leadgate.services.qualification import active_model, rescore_leads


def change_stage(uow: UnitOfWork, command: ChangeStage, *, now: datetime) -> Transition:
    """Move a lead as a person or system decided, keeping the transition with its reason.

    Moves outside the transition table need ``override`` and a reason. Recycling applies
    the model's recycle policy: with ``engagement: reset`` only touchpoints after this
    moment count again, and the lead may requalify once the cool-down is over.
    """
    at = command.at or now
    with uow:
        active = active_model(uow)
        uow.leads.lock([command.lead_id])
        lead = uow.leads.get_many([command.lead_id]).get(command.lead_id)
        if lead is None:
            raise LeadNotFound(command.lead_id)
        try:
            override = check_manual(lead.stage, command.to_stage, command.reason, command.override)
        except TransitionNotAllowed as exc:
            raise InvalidInput(f"lead {command.lead_id}: {exc}") from None
        # The snapshot is the score the decision was made on, before any reset.
        rescore_leads(uow, [command.lead_id], active, at)
        score = uow.scores.get_many([command.lead_id])[command.lead_id]
        reset_at = lead.engagement_reset_at
        if (
            command.to_stage is Stage.RECYCLED
            and active.model.recycle.engagement is RecycleEngagement.RESET
        ):
            reset_at = at
        uow.leads.set_stages([StageChange(command.lead_id, command.to_stage, at, reset_at)], now)
        if reset_at != lead.engagement_reset_at:
            # Gates wait for the next touchpoint or refresh: a decision is never undone
            # in the same breath.
            rescore_leads(uow, [command.lead_id], active, at)
        transition = Transition(
            lead_id=command.lead_id,
            from_stage=lead.stage,
            to_stage=command.to_stage,
            occurred_at=at,
            actor_type=command.actor_type,
            actor=command.actor,
            reason=command.reason,
            fit=score.fit,
            engagement=score.engagement,
            total=score.total,
            grade=score.grade,
            model_version=active.version,
            override=override,
        )
        uow.transitions.add([transition])
        announce_transitions(uow, [transition], {command.lead_id: lead}, now)
        close_pending(uow, command.lead_id, command.to_stage, now)
        uow.commit()
    return transition
