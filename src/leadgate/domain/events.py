"""Domain events: what a qualification decided that other parts of leadgate react to.

The qualifier persists scores, states and transitions and returns these; handlers
registered in ``services.handlers`` (announce a stage change, hand a lead to sales)
consume them in the same transaction, or not at all during a backfill.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from leadgate.domain.lifecycle import Transition


@dataclass(frozen=True, slots=True)
class StageChanged:
    """A gate moved a lead to another stage.

    Example: ``StageChanged(Transition(7, Stage.LEAD, Stage.MQL, at, ActorType.RULE,
    "gate:mql", "mql gate met"))``.
    """

    transition: Transition

    @property
    def lead_id(self) -> int:
        return self.transition.lead_id


@dataclass(frozen=True, slots=True)
class BecameSalesReady:
    """A gate made a lead ready for sales: it moved to SQL, or (when the model requires a
    rep's acceptance) it met the sales-ready gate while an MQL. ``trigger`` is the
    touchpoint that most plausibly tipped it, which routing and SLA policies match on.

    Example: ``BecameSalesReady(7, "demo_request", at)``.
    """

    lead_id: int
    trigger: str | None
    at: datetime


DomainEvent = StageChanged | BecameSalesReady
