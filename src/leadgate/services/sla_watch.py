"""Watching SLA clocks: first touches met, warnings at their time, breaches on time.

The worker runs this every few seconds, so a breach is detected when the deadline passes,
not only when something else happens to the lead.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from leadgate.domain.handoffs import Handoff, HandoffStatus
from leadgate.domain.notifications import AccountSummary, LeadSummary, sla_breached, sla_warning
from leadgate.domain.sla import FIRST_TOUCH_TOUCHPOINTS, SlaStatus, first_touch_at, sla_status
from leadgate.services.active import active_model
from leadgate.services.announce import announce
from leadgate.services.handoffs import HandoffRequest, assign_queued, hand_off, summarize
from leadgate.services.ports import UnitOfWork


@dataclass(frozen=True, slots=True)
class SlaTick:
    met: int = 0
    warned: int = 0
    breached: int = 0
    reassigned: int = 0
    assigned: int = 0  # queued handoffs given to a rep who became eligible


def watch_slas(uow: UnitOfWork, *, now: datetime) -> SlaTick:
    """In one transaction: give queued handoffs to reps now eligible, record first
    touches, send due warnings, breach overdue handoffs (alerting owner and manager,
    reassigning when the policy says so)."""
    met = warned = breached = reassigned = 0
    with uow:
        assigned = len(assign_queued(uow, now))
        for handoff, touches in uow.handoffs.touched(FIRST_TOUCH_TOUCHPOINTS):
            touched_at = first_touch_at(touches, handoff.owner, handoff.created_at)
            if touched_at is None or touched_at > now:
                continue
            status = sla_status(handoff.due_at or now, touched_at, now)
            uow.handoffs.save(replace(handoff, first_touch_at=touched_at, sla_status=status))
            met += status is SlaStatus.MET
        due = uow.handoffs.sla_due(now)
        if due:
            config = uow.configs.handoff_config()
            leads = uow.leads.get_many({h.lead_id for h in due})
        for handoff in due:
            lead = leads.get(handoff.lead_id)
            if lead is None or handoff.due_at is None:
                continue
            team = config.team(handoff.team)
            summary = summarize(handoff, manager=team.manager)
            who = LeadSummary.from_lead(lead)
            account = AccountSummary.from_account(lead.account) if lead.account else None
            if now > handoff.due_at:
                policy = config.sla.get(handoff.sla_policy) if handoff.sla_policy else None
                reassign = bool(policy and policy.on_breach.reassign_after_breach)
                new_owner = _reassign(uow, handoff, now) if reassign else None
                uow.handoffs.save(
                    replace(
                        handoff,
                        sla_status=SlaStatus.BREACHED,
                        breached_at=now,
                        status=HandoffStatus.REASSIGNED if new_owner else handoff.status,
                        closed_at=now if new_owner else handoff.closed_at,
                    )
                )
                announce(
                    uow,
                    sla_breached(
                        summary,
                        who,
                        occurred_at=now,
                        overdue=now - handoff.due_at,
                        account=account,
                        reassigned_to=new_owner,
                    ),
                    lead_id=handoff.lead_id,
                    now=now,
                )
                breached += 1
                reassigned += new_owner is not None
            else:
                uow.handoffs.save(replace(handoff, warned_at=now))
                announce(
                    uow,
                    sla_warning(
                        summary,
                        who,
                        occurred_at=now,
                        remaining=handoff.due_at - now,
                        account=account,
                    ),
                    lead_id=handoff.lead_id,
                    now=now,
                )
                warned += 1
        uow.commit()
    return SlaTick(met, warned, breached, reassigned, assigned)


def _reassign(uow: UnitOfWork, handoff: Handoff, now: datetime) -> str | None:
    """Close the breached handoff and hand the lead to another rep (the breaching owner
    excluded); return the new owner, or None when nobody else could take it."""
    uow.handoffs.save(replace(handoff, status=HandoffStatus.REASSIGNED, closed_at=now))
    created = hand_off(
        uow,
        [HandoffRequest(handoff.lead_id, handoff.kind, exclude=frozenset({handoff.owner or ""}))],
        active_model(uow),
        now,
    )
    return created[0].owner if created else None
