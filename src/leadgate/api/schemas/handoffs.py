"""Request and response bodies for handoffs, first touches and sales feedback."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationInfo, field_validator

from leadgate.api.schemas.common import UtcDatetime, id_cursor, not_blank, text
from leadgate.domain.handoffs import Handoff, HandoffStatus
from leadgate.domain.lifecycle import Stage
from leadgate.domain.routing import HandoffKind
from leadgate.domain.sla import SlaStatus
from leadgate.services.feedback import FeedbackResult, OutcomeKind
from leadgate.services.handoff_queries import Page

_CONTEXT = (
    "The context package as it was at the handoff: `lead`, `account`, `score`, "
    "`top_contributions`, `crossing_touchpoints`, `source`, `campaign`, `utm`, `pages`, "
    "`content`, `form_answers`, `intent_topics`, `stage_history` (docs/notifications.md)"
)


class HandoffOut(BaseModel):
    """A handoff: who got the lead, why, and where it stands against its SLA."""

    id: int
    lead_id: int
    kind: HandoffKind = Field(description="gate: a gate made the lead sales-ready; manual: pushed")
    team: str
    owner: str | None = Field(description="The rep; null while the lead waits in the team queue")
    status: HandoffStatus = Field(
        description="pending until sales answers: accepted, rejected (recycled or "
        "disqualified), or reassigned after an SLA breach"
    )
    routing_reason: str = Field(description="Which rule and strategy chose the owner, and why")
    sla_policy: str | None
    sla_status: SlaStatus = Field(
        description="open until a first touch (met on time, breached late) or until the "
        "worker finds the deadline passed (breached)"
    )
    created_at: datetime
    due_at: datetime | None = Field(description="First-touch deadline, in business hours")
    warn_at: datetime | None
    warned_at: datetime | None
    breached_at: datetime | None
    first_touch_at: datetime | None
    closed_at: datetime | None

    @classmethod
    def of(cls, handoff: Handoff) -> HandoffOut:
        return cls.model_validate(handoff, from_attributes=True)


class HandoffDetail(HandoffOut):
    context: dict[str, Any] = Field(description=_CONTEXT)

    @classmethod
    def of(cls, handoff: Handoff) -> HandoffDetail:
        return cls.model_validate(handoff, from_attributes=True)


class HandoffPage(BaseModel):
    items: list[HandoffOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page"
    )

    @classmethod
    def of(cls, page: Page[Handoff]) -> HandoffPage:
        last = page.items[-1].id if page.more and page.items else None
        return cls(
            items=[HandoffOut.of(h) for h in page.items],
            next_cursor=id_cursor(last) if last is not None else None,
        )


class HandoffList(BaseModel):
    items: list[HandoffOut] = Field(description="Oldest first")


class LeadContextOut(BaseModel):
    """The context package of a lead's latest handoff."""

    lead_id: int
    handoff_id: int
    handed_off_at: datetime
    context: dict[str, Any] = Field(description=_CONTEXT)

    @classmethod
    def of(cls, handoff: Handoff) -> LeadContextOut:
        assert handoff.id is not None
        return cls(
            lead_id=handoff.lead_id,
            handoff_id=handoff.id,
            handed_off_at=handoff.created_at,
            context=handoff.context,
        )


class FirstTouchIn(BaseModel):
    """The owner reached the lead (for CRMs that cannot send a sales touchpoint)."""

    model_config = ConfigDict(extra="forbid")

    at: UtcDatetime | None = Field(
        default=None, description="When (with a zone); default: now. Not before the handoff"
    )


# --- sales feedback ---------------------------------------------------------------------

_Answer: TypeAlias = (
    Annotated[bool, Strict()]
    | Annotated[float, Strict(), Field(allow_inf_nan=False, ge=-1e15, le=1e15)]
    | Annotated[int, Strict(), Field(ge=-(10**15), le=10**15)]
    | Annotated[str, text(1000)]
    | None
)


class BantIn(BaseModel):
    """Budget, authority, need, timeline: each an answer in the rep's words (or a yes/no,
    or a number)."""

    model_config = ConfigDict(extra="forbid")

    budget: _Answer = None
    authority: _Answer = None
    need: _Answer = None
    timeline: _Answer = None


# Which optional fields go with which kind; any other combination is refused, so a value
# sent with the wrong kind is not dropped silently.
_ONLY_WITH: dict[str, tuple[str, ...]] = {
    "bant": ("accepted",),
    "amount": ("opportunity",),
    "expected_close": ("opportunity",),
    "nurture_track": ("recycled",),
}


class FeedbackIn(BaseModel):
    """What sales says about a lead. ``reason`` comes from the configured lists for
    ``recycled`` and ``disqualified`` (``other`` needs a ``note``) and is required for
    ``lost``; ``bant`` goes with ``accepted``, ``amount`` and ``expected_close`` with
    ``opportunity``, ``nurture_track`` with ``recycled``."""

    model_config = ConfigDict(extra="forbid")

    kind: OutcomeKind = Field(
        description="accepted (→ sql), recycled, disqualified, opportunity, won (→ customer), lost"
    )
    actor: Annotated[str, not_blank(255)] | None = Field(
        default=None, description="Who decided (default: the API key's name)"
    )
    reason: Annotated[str, not_blank(100)] | None = None
    note: Annotated[str, text(5000)] | None = None
    bant: BantIn | None = None
    amount: Annotated[float, Field(ge=0, le=1e15, allow_inf_nan=False)] | None = Field(
        default=None, description="The opportunity's amount"
    )
    expected_close: date | None = Field(default=None, description="The opportunity's close date")
    nurture_track: Annotated[str, not_blank(100)] | None = Field(
        default=None, description="One of the configured tracks (default: the configured default)"
    )

    @field_validator("bant", "amount", "expected_close", "nurture_track")
    @classmethod
    def _with_its_kind(cls, value: Any, info: ValidationInfo) -> Any:
        kinds = _ONLY_WITH[str(info.field_name)]
        kind = info.data.get("kind")
        if value is not None and kind is not None and kind not in kinds:
            raise ValueError(f"only with kind {' or '.join(kinds)}, not {kind}")
        return value

    def details(self) -> dict[str, Any]:
        """The outcome's details: BANT answers, or the opportunity's amount and date."""
        if self.bant is not None:
            return self.bant.model_dump(exclude_none=True)
        found: dict[str, Any] = {}
        if self.amount is not None:
            found["amount"] = self.amount
        if self.expected_close is not None:
            found["expected_close"] = self.expected_close.isoformat()
        return found


class FeedbackOut(BaseModel):
    outcome_id: int
    lead_id: int
    kind: OutcomeKind
    from_stage: Stage
    to_stage: Stage | None = Field(description="null when the stage did not change")
    stage: Stage = Field(description="The lead's stage now")
    handoff_id: int | None = Field(description="The pending handoff this answered, if any")
    nurture_track: str | None = Field(description="For recycled: the track the lead went to")

    @classmethod
    def of(cls, lead_id: int, kind: OutcomeKind, result: FeedbackResult) -> FeedbackOut:
        return cls(
            outcome_id=result.outcome_id,
            lead_id=lead_id,
            kind=kind,
            from_stage=result.from_stage,
            to_stage=result.to_stage,
            stage=result.to_stage or result.from_stage,
            handoff_id=result.handoff_id,
            nurture_track=result.nurture_track,
        )
