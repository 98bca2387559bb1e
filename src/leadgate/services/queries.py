"""Reading one lead's score, explanation and history (the per-lead read side), scoring
model versions, and the two small writes the REST API needs beside the use cases in
``profiles`` and ``models``: updating one lead by id, and storing a model without
activating it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from leadgate.domain.errors import InvalidIdentity
from leadgate.domain.identity import normalise_domain
from leadgate.domain.leads import Lead
from leadgate.domain.lifecycle import Transition
from leadgate.domain.qualification import Qualification, qualify
from leadgate.services.commands import LeadIn
from leadgate.services.errors import InvalidInput, LeadNotFound
from leadgate.services.ports import ModelVersion, StoredScore, UnitOfWork
from leadgate.services.profiles import lead_profile
from leadgate.services.qualification import active_model, qualify_leads


@dataclass(frozen=True, slots=True)
class Explanation:
    """A lead, its stored score, and the same score recomputed with every contribution."""

    lead: Lead
    stored: StoredScore | None
    model_version: int
    qualification: Qualification


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
    result = qualify(lead, history, model, when, model_version=version, explain=True)
    return Explanation(lead, stored, version, result)


def lead_transitions(uow: UnitOfWork, lead_id: int) -> list[Transition]:
    """A lead's transitions, oldest first."""
    with uow:
        if not uow.leads.get_many([lead_id]):
            raise LeadNotFound(lead_id)
        return uow.transitions.for_lead(lead_id)


def update_lead(uow: UnitOfWork, lead_id: int, item: LeadIn, *, now: datetime) -> None:
    """Overwrite the profile fields ``item`` gives (None leaves one as it is) of one lead,
    attach it to ``item.account_domain`` if given, and rescore it.

    Identities (email, external and user ids) are not changed here: they decide which lead
    a message belongs to, so they change through ``upsert_leads``, which resolves and merges.
    """
    if item.email is not None or item.external_id is not None or item.user_id is not None:
        raise InvalidInput(f"lead {lead_id}: identities cannot be changed by an update")
    domain = None
    if item.account_domain:
        try:
            domain = normalise_domain(item.account_domain)
        except InvalidIdentity as exc:
            raise InvalidInput(f"lead {lead_id}: account_domain: {exc}") from None
    with uow:
        active = active_model(uow)
        uow.leads.lock([lead_id])
        if lead_id not in uow.leads.get_many([lead_id]):
            raise LeadNotFound(lead_id)
        account_id = uow.accounts.ensure({domain}, now)[domain] if domain else None
        uow.leads.update_profiles([lead_profile(item, lead_id, None, account_id)], now)
        qualify_leads(uow, [lead_id], active, now)
        uow.commit()


def model_versions(uow: UnitOfWork) -> list[ModelVersion]:
    """Every stored scoring model version, oldest first."""
    with uow:
        return sorted(uow.models.all(), key=lambda v: v.version)


def model_version(uow: UnitOfWork, version: int) -> ModelVersion | None:
    with uow:
        return uow.models.get(version)


def store_model(
    uow: UnitOfWork, document: str, *, now: datetime, actor: str
) -> tuple[ModelVersion, bool]:
    """Store a model document as a candidate version (not active); return it and whether it
    is new (the same text already stored is that version, not a new one).

    The document must be valid: the model repository refuses one that is not.
    """
    with uow:
        known = {v.version for v in uow.models.all()}
        stored = uow.models.add(document, now=now, created_by=actor)
        uow.commit()
    return stored, stored.version not in known
