"""Watching SLA clocks: first touches met, warnings at their time, breaches on time.

The worker runs this every few seconds, so a breach is detected when the deadline passes,
not only when something else happens to the lead.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from leadgate.domain.calendar import BusinessCalendar
from leadgate.domain.handoff_config import HandoffConfig
from leadgate.domain.handoffs import Handoff, HandoffStatus
from leadgate.domain.notifications import AccountSummary, LeadSummary, sla_breached, sla_warning
from leadgate.domain.routing import Team
from leadgate.domain.sla import (
    FIRST_TOUCH_TOUCHPOINTS,
    SlaPolicy,
    SlaStatus,
    first_touch_at,
    sla_status,
)
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
        # Lock the leads whose clocks are due first, and read them again under the lock
        # below: a second worker ticking at the same moment (or a rep answering one of
        # them) then waits, and sees what this tick did instead of breaching and
        # reassigning the same handoffs again.
        candidates = uow.handoffs.sla_due(now)
        if candidates:
            uow.leads.lock({h.lead_id for h in candidates})
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
            # A handoff outlives configuration versions: its team or policy may be gone.
            team = _team(config, handoff.team)
            policy = _policy(config, handoff.sla_policy)
            calendar = _calendar(config, policy, team)
            summary = summarize(handoff, manager=team.manager if team else None)
            who = LeadSummary.from_lead(lead)
            account = AccountSummary.from_account(lead.account) if lead.account else None
            if now > handoff.due_at:
                # A queued handoff breached nobody: it stays in the queue, alerting.
                reassign = bool(policy and policy.on_breach.reassign_after_breach and handoff.owner)
                successor = _reassign(uow, handoff, now) if reassign else None
                uow.handoffs.save(
                    replace(
                        handoff,
                        sla_status=SlaStatus.BREACHED,
                        breached_at=now,
                        status=HandoffStatus.REASSIGNED if successor else handoff.status,
                        closed_at=now if successor else handoff.closed_at,
                    )
                )
                announce(
                    uow,
                    sla_breached(
                        summary,
                        who,
                        occurred_at=now,
                        overdue=_business_time(calendar, handoff.due_at, now),
                        account=account,
                        reassigned_to=successor.owner if successor else None,
                        alert_owner=policy.on_breach.alert_owner if policy else True,
                        alert_manager=policy.on_breach.alert_manager if policy else True,
                    ),
                    lead_id=handoff.lead_id,
                    now=now,
                )
                breached += 1
                reassigned += successor is not None and successor.owner is not None
            else:
                uow.handoffs.save(replace(handoff, warned_at=now))
                announce(
                    uow,
                    sla_warning(
                        summary,
                        who,
                        occurred_at=now,
                        remaining=_business_time(calendar, now, handoff.due_at),
                        account=account,
                    ),
                    lead_id=handoff.lead_id,
                    now=now,
                )
                warned += 1
        uow.commit()
    return SlaTick(met, warned, breached, reassigned, assigned)


def _reassign(uow: UnitOfWork, handoff: Handoff, now: datetime) -> Handoff | None:
    """Close the breached handoff and hand the lead again, under the same SLA policy, to
    another rep (the breaching owner excluded; the new handoff waits in the queue when
    nobody else can take it); return the new handoff."""
    uow.handoffs.save(replace(handoff, status=HandoffStatus.REASSIGNED, closed_at=now))
    request = HandoffRequest(
        handoff.lead_id,
        handoff.kind,
        exclude=frozenset({handoff.owner or ""}),
        sla_policy=handoff.sla_policy,
    )
    created = hand_off(uow, [request], active_model(uow), now)
    return created[0] if created else None


def _team(config: HandoffConfig, name: str) -> Team | None:
    try:
        return config.team(name)
    except KeyError:
        return None


def _policy(config: HandoffConfig, policy_id: str | None) -> SlaPolicy | None:
    try:
        return config.sla.get(policy_id) if policy_id else None
    except KeyError:
        return None


def _calendar(
    config: HandoffConfig, policy: SlaPolicy | None, team: Team | None
) -> BusinessCalendar | None:
    name = (policy.calendar if policy else None) or (team.calendar if team else None)
    return config.calendars.get(name) if name else None


def _business_time(calendar: BusinessCalendar | None, start: datetime, end: datetime) -> timedelta:
    """Time between two instants as the SLA counts it: working time of the handoff's
    calendar (clock time when the configuration no longer names one)."""
    return calendar.business_time_between(start, end) if calendar else end - start
