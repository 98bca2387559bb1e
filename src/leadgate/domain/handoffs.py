"""Handoffs: a sales-ready lead passed to a rep (or a team queue) with an SLA clock."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from leadgate.domain.routing import HandoffKind
from leadgate.domain.sla import SlaStatus, sla_status


class HandoffStatus(StrEnum):
    """What sales made of a handoff: still to decide, accepted, or sent back."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"  # recycled or disqualified by sales
    REASSIGNED = "reassigned"  # its SLA was breached and the lead went to another rep


@dataclass(frozen=True, slots=True)
class Handoff:
    """One handoff. ``owner`` None: the lead waits in ``team``'s queue.

    ``due_at``/``warn_at`` come from the SLA policy and the team's business calendar;
    ``sla_status`` is open until a first touch (met) or the deadline passes (breached).
    ``context`` is the package a rep sees, frozen as it was at the handoff.
    """

    lead_id: int
    kind: HandoffKind
    team: str
    owner: str | None
    routing_reason: str
    created_at: datetime
    status: HandoffStatus = HandoffStatus.PENDING
    sla_policy: str | None = None
    sla_status: SlaStatus = SlaStatus.OPEN
    due_at: datetime | None = None
    warn_at: datetime | None = None
    warned_at: datetime | None = None
    breached_at: datetime | None = None
    first_touch_at: datetime | None = None
    closed_at: datetime | None = None
    context: dict[str, Any] = field(default_factory=dict)
    id: int | None = None

    @property
    def is_open(self) -> bool:
        """Pending, and not yet first-touched: its SLA clock still runs."""
        return self.status is HandoffStatus.PENDING and self.sla_status is SlaStatus.OPEN

    def closed(self, *, accepted: bool, now: datetime) -> Handoff:
        """Given sales' answer, return the handoff closed as accepted or rejected.

        Answering is touching: the rep has looked at the lead, so an open SLA clock stops
        here (met or breached by this moment) unless a first touch came earlier.
        """
        first_touch = self.first_touch_at or now
        return replace(
            self,
            status=HandoffStatus.ACCEPTED if accepted else HandoffStatus.REJECTED,
            closed_at=now,
            first_touch_at=first_touch,
            sla_status=(
                self.sla_status
                if self.sla_status is not SlaStatus.OPEN
                else sla_status(self.due_at or now, first_touch, now)
            ),
        )
