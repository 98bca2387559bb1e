"""Handing sales-ready leads to sales: routing, the context package, the SLA clock, the alert.

``hand_off`` runs inside the transaction that made the lead sales-ready (a gate during
ingest or rescoring) or in its own (a person pushing a lead by hand), so the handoff, the
routing state and the outbox message commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from leadgate.domain.handoff_config import HandoffConfig
from leadgate.domain.handoffs import Handoff, HandoffStatus
from leadgate.domain.leads import Lead
from leadgate.domain.lifecycle import Stage
from leadgate.domain.notifications import HandoffSummary, handoff_created, handoff_queued
from leadgate.domain.routing import HandoffFacts, HandoffKind, RoutingState, route, route_within
from leadgate.domain.sla import SlaClock
from leadgate.services.active import active_model
from leadgate.services.announce import announce
from leadgate.services.context import build_context
from leadgate.services.errors import InvalidInput, LeadNotFound
from leadgate.services.ports import ModelVersion, UnitOfWork

# The routing state is one JSON document; the table is keyed by team for later sharding.
_STATE_ROW = "_all"


@dataclass(frozen=True, slots=True)
class HandoffRequest:
    """A lead to hand off: because a gate fired (with the touchpoint that did it, when
    known) or because someone pushed it."""

    lead_id: int
    kind: HandoffKind = HandoffKind.GATE
    trigger: str | None = None
    # Reps who must not get the lead (the owner whose SLA was breached, on reassignment).
    exclude: frozenset[str] = frozenset()
    # The SLA policy to start the clock under instead of choosing one (a reassignment
    # keeps the breached handoff's policy: its trigger is not known any more).
    sla_policy: str | None = None


def hand_off(
    uow: UnitOfWork,
    requests: Sequence[HandoffRequest],
    active: ModelVersion,
    now: datetime,
) -> list[Handoff]:
    """Inside an open unit of work: route each lead that has no pending handoff yet, start
    its SLA clock, store the handoff with its context package, make the rep the lead's
    owner, and queue the alert (the manager's, when nobody could take it).

    A lead is never dropped: without an eligible rep it waits in the team's queue.
    """
    wanted = {r.lead_id: r for r in requests}
    pending = uow.handoffs.pending_for(wanted)
    todo = [r for r in requests if r.lead_id not in pending]
    if not todo:
        return []
    config = uow.configs.handoff_config()
    leads = uow.leads.get_many([r.lead_id for r in todo])
    scores = uow.scores.get_many(list(leads))
    histories = uow.touchpoints.for_leads(list(leads))
    stored_state = uow.handoffs.routing_state(lock=True).get(_STATE_ROW)
    state = RoutingState.from_json(stored_state).with_open_handoffs(uow.handoffs.open_counts())
    created: list[Handoff] = []
    for request in todo:
        lead = leads.get(request.lead_id)
        if lead is None:
            continue
        score = scores.get(request.lead_id)
        facts = HandoffFacts(
            kind=request.kind,
            trigger=request.trigger,
            grade=score.grade if score else None,
            score=score.total if score else None,
            fit=score.fit if score else None,
            engagement=score.engagement if score else None,
        )
        assignment = route(lead, facts, config.routing, state, now, exclude=request.exclude)
        state = assignment.state_after
        clock = _start_clock(config, lead, facts, assignment.team, now, request.sla_policy)
        # The package says who the lead belongs to now: the rep it is being handed to.
        owned = replace(lead, owner=assignment.rep) if assignment.rep else lead
        context = build_context(
            owned,
            histories.get(lead.id or 0, []),
            uow.transitions.for_lead(request.lead_id),
            active,
            now,
        )
        handoff = uow.handoffs.add(
            Handoff(
                lead_id=request.lead_id,
                kind=request.kind,
                team=assignment.team,
                owner=assignment.rep,
                routing_reason=assignment.reason,
                created_at=now,
                sla_policy=clock.policy,
                due_at=clock.due_at,
                warn_at=clock.warn_at,
                context=context.to_json(),
            )
        )
        created.append(handoff)
        if assignment.rep is not None:
            uow.leads.update_profiles([Lead(id=request.lead_id, owner=assignment.rep)], now)
        summary = summarize(handoff, manager=assignment.manager, routed_by=assignment.rule)
        notification = (
            handoff_queued(summary, context, reason=assignment.reason)
            if assignment.queued
            else handoff_created(summary, context)
        )
        announce(uow, notification, lead_id=request.lead_id, now=now)
    uow.handoffs.save_routing_state({_STATE_ROW: state.to_json()}, now)
    return created


def _start_clock(
    config: HandoffConfig,
    lead: Lead,
    facts: HandoffFacts,
    team: str,
    now: datetime,
    policy_id: str | None,
) -> SlaClock:
    """The SLA clock of a new handoff: under ``policy_id`` when given and still
    configured, else under the policy the handoff's facts choose."""
    if policy_id is not None:
        try:
            policy = config.sla.get(policy_id)
        except KeyError:
            pass  # the policy left the configuration: choose afresh
        else:
            calendar = policy.calendar_name(config.team(team).calendar)
            return policy.start(now, config.calendars[calendar])
    return config.start_sla(lead, facts, team, now)


def _breached_by(uow: UnitOfWork, lead_id: int) -> frozenset[str]:
    """Reps whose SLA on this lead was breached and who lost it by reassignment: the
    lead never goes back to them."""
    return frozenset(
        h.owner
        for h in uow.handoffs.for_lead(lead_id)
        if h.status is HandoffStatus.REASSIGNED and h.owner is not None
    )


def assign_queued(uow: UnitOfWork, now: datetime) -> list[Handoff]:
    """Inside an open unit of work: give queued handoffs, oldest first, to the reps now
    eligible (capacity freed, back from leave); return the ones assigned. The SLA clock
    keeps its start: waiting in the queue is time the lead waited. A lead waiting after a
    breach is not given back to the rep who breached it."""
    if not uow.handoffs.queued(limit=1):
        return []
    stored_state = uow.handoffs.routing_state(lock=True).get(_STATE_ROW)
    # Read the queue again under the routing lock: another worker may have drained it
    # since, and assigning from the earlier read would hand a lead out twice.
    queued = uow.handoffs.queued()
    config = uow.configs.handoff_config()
    state = RoutingState.from_json(stored_state).with_open_handoffs(uow.handoffs.open_counts())
    assigned: list[Handoff] = []
    full: set[str] = set()
    team_names = {team.name for team in config.routing.teams}
    for handoff in queued:
        if handoff.team in full or handoff.team not in team_names:
            continue
        exclude = _breached_by(uow, handoff.lead_id)
        assignment = route_within(handoff.team, config.routing, state, now, exclude=exclude)
        if assignment.rep is None:
            if not exclude:
                full.add(handoff.team)  # nobody there now: later handoffs of the team wait
            continue
        state = assignment.state_after
        taken = replace(
            handoff,
            owner=assignment.rep,
            routing_reason=f"{handoff.routing_reason}; then {assignment.reason}",
        )
        uow.handoffs.save(taken)
        uow.leads.update_profiles([Lead(id=handoff.lead_id, owner=assignment.rep)], now)
        assigned.append(taken)
    if not assigned:
        return []
    uow.handoffs.save_routing_state({_STATE_ROW: state.to_json()}, now)
    active = active_model(uow)
    ids = [h.lead_id for h in assigned]
    leads = uow.leads.get_many(ids)
    histories = uow.touchpoints.for_leads(ids)
    for handoff in assigned:
        lead = leads[handoff.lead_id]
        history = histories.get(handoff.lead_id, [])
        earlier = uow.transitions.for_lead(handoff.lead_id)
        context = build_context(lead, history, earlier, active, now)
        team = config.team(handoff.team)
        announce(
            uow,
            handoff_created(summarize(handoff, manager=team.manager), context),
            lead_id=handoff.lead_id,
            now=now,
        )
    return assigned


def summarize(
    handoff: Handoff, *, manager: str | None = None, routed_by: str | None = None
) -> HandoffSummary:
    assert handoff.id is not None
    return HandoffSummary(
        id=handoff.id,
        lead_id=handoff.lead_id,
        created_at=handoff.created_at,
        owner=handoff.owner,
        team=handoff.team,
        manager=manager,
        routed_by=routed_by or ("manual" if handoff.kind is HandoffKind.MANUAL else None),
        due_at=handoff.due_at,
        sla_policy=handoff.sla_policy,
        status=handoff.status.value,
    )


def hand_off_manually(uow: UnitOfWork, lead_id: int, *, now: datetime) -> Handoff:
    """Push one lead to sales by hand (API or CLI); refused when it already has a pending
    handoff, which is returned in the message."""
    with uow:
        active = active_model(uow)
        uow.leads.lock([lead_id])
        if lead_id not in uow.leads.get_many([lead_id]):
            raise LeadNotFound(lead_id)
        existing = uow.handoffs.pending_for([lead_id]).get(lead_id)
        if existing is not None:
            raise InvalidInput(
                f"lead {lead_id} already has pending handoff {existing.id} "
                f"(owner {existing.owner or 'queue ' + existing.team})"
            )
        (handoff,) = hand_off(uow, [HandoffRequest(lead_id, HandoffKind.MANUAL)], active, now)
        uow.commit()
    return handoff


_ACCEPTING = frozenset({Stage.SQL, Stage.OPPORTUNITY, Stage.CUSTOMER})


def close_pending(uow: UnitOfWork, lead_id: int, to_stage: Stage, now: datetime) -> Handoff | None:
    """Inside an open unit of work: a person moved the lead, which answers its pending
    handoff: accepted when the lead went on (SQL, opportunity, customer), rejected
    otherwise. The rep's capacity frees, so queued handoffs are offered again."""
    handoff = uow.handoffs.pending_for([lead_id]).get(lead_id)
    if handoff is None:
        return None
    closed = handoff.closed(accepted=to_stage in _ACCEPTING, now=now)
    uow.handoffs.save(closed)
    if handoff.owner is not None:
        assign_queued(uow, now)
    return closed


def config_of(uow: UnitOfWork) -> HandoffConfig:
    """The active handoff configuration (the shipped default until one is stored)."""
    with uow:
        return uow.configs.handoff_config()
