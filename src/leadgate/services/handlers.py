"""Handlers of domain events: what happens because a qualification decided something.

A use case that qualifies leads passes the events it got back to ``handle`` inside its
own transaction, so an alert or a handoff commits with the change that caused it. A
backfill of history leaves them out: the past raises no alerts, handoffs or SLA clocks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from leadgate.domain.events import BecameSalesReady, DomainEvent, StageChanged
from leadgate.domain.leads import Lead
from leadgate.domain.lifecycle import Transition
from leadgate.domain.notifications import AccountSummary, LeadSummary, StageStep, stage_changed
from leadgate.domain.routing import HandoffKind
from leadgate.services.announce import announce
from leadgate.services.handoffs import HandoffRequest, hand_off
from leadgate.services.ports import ModelVersion, UnitOfWork

Handler = Callable[[UnitOfWork, Sequence[DomainEvent], ModelVersion, datetime], None]
"""Given the events of one kind from one batch, react inside the caller's transaction."""


def announce_stage_changes(
    uow: UnitOfWork, events: Sequence[DomainEvent], active: ModelVersion, now: datetime
) -> None:
    """Queue a ``stage.changed`` notice for each gate transition."""
    transitions = [e.transition for e in events if isinstance(e, StageChanged)]
    if transitions and uow.outbox.subscribers("stage.changed"):
        _queue_stage_changes(
            uow, transitions, uow.leads.get_many({t.lead_id for t in transitions}), now
        )


def hand_off_sales_ready(
    uow: UnitOfWork, events: Sequence[DomainEvent], active: ModelVersion, now: datetime
) -> None:
    """Hand each lead a gate made ready for sales to a rep (routing, SLA clock, alert)."""
    requests = [
        HandoffRequest(e.lead_id, HandoffKind.GATE, trigger=e.trigger)
        for e in events
        if isinstance(e, BecameSalesReady)
    ]
    if requests:
        hand_off(uow, requests, active, now)


HANDLERS: Mapping[type[DomainEvent], tuple[Handler, ...]] = {
    StageChanged: (announce_stage_changes,),
    BecameSalesReady: (hand_off_sales_ready,),
}
"""The handlers registered for each event type, run in this order."""


def handle(
    uow: UnitOfWork,
    events: Sequence[DomainEvent],
    active: ModelVersion,
    now: datetime,
    *,
    handlers: Mapping[type[DomainEvent], tuple[Handler, ...]] = HANDLERS,
) -> None:
    """Run the registered handlers over a batch's events, inside the caller's open unit of
    work: stage changes are announced before any handoff is made."""
    if not events:
        return
    for kind, registered in handlers.items():
        of_kind = [e for e in events if isinstance(e, kind)]
        if of_kind:
            for handler in registered:
                handler(uow, of_kind, active, now)


def announce_transitions(
    uow: UnitOfWork, transitions: Sequence[Transition], leads: Mapping[int, Lead], now: datetime
) -> None:
    """Queue a ``stage.changed`` notice for each transition (for the endpoints that want
    them), in the caller's transaction."""
    if uow.outbox.subscribers("stage.changed"):
        _queue_stage_changes(uow, transitions, leads, now)


def _queue_stage_changes(
    uow: UnitOfWork, transitions: Sequence[Transition], leads: Mapping[int, Lead], now: datetime
) -> None:
    for transition in transitions:
        lead = leads[transition.lead_id]
        account = AccountSummary.from_account(lead.account) if lead.account else None
        who = replace(LeadSummary.from_lead(lead), stage=transition.to_stage.value)
        notice = stage_changed(who, StageStep.from_transition(transition), account=account)
        announce(uow, notice, lead_id=transition.lead_id, now=now)
