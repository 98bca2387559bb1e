"""What sales says back: accept (with BANT), recycle, disqualify, opportunity, won, lost,
and the explicit first touch. Each writes an outcome and, where the stage moves, a
transition, so analytics see every decision with its reason."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any, Literal

from leadgate.domain.handoffs import Handoff
from leadgate.domain.lifecycle import ActorType, Stage
from leadgate.domain.notifications import (
    AccountSummary,
    LeadSummary,
    StageStep,
    lead_disqualified,
    lead_recycled,
)
from leadgate.domain.sla import sla_status
from leadgate.services.announce import announce
from leadgate.services.commands import ChangeStage
from leadgate.services.errors import HandoffNotFound, InvalidInput, LeadNotFound
from leadgate.services.handoffs import close_pending
from leadgate.services.lifecycle import change_stage
from leadgate.services.ports import Outcome, UnitOfWork

OutcomeKind = Literal["accepted", "recycled", "disqualified", "opportunity", "won", "lost"]

_BANT = ("budget", "authority", "need", "timeline")
_SENDS_BACK = frozenset({"recycled", "disqualified"})


@dataclass(frozen=True, slots=True)
class Feedback:
    """One decision about a lead. ``details``: BANT answers for ``accepted``; ``amount``
    and ``expected_close`` for ``opportunity``."""

    lead_id: int
    kind: OutcomeKind
    actor: str
    reason: str | None = None
    note: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    nurture_track: str | None = None


@dataclass(frozen=True, slots=True)
class FeedbackResult:
    outcome_id: int
    from_stage: Stage
    to_stage: Stage | None
    handoff_id: int | None
    nurture_track: str | None = None
    """For a recycle: the track the lead went to (the one asked for, else the default)."""


_TARGET: dict[str, Stage] = {
    "accepted": Stage.SQL,
    "recycled": Stage.RECYCLED,
    "disqualified": Stage.DISQUALIFIED,
    "opportunity": Stage.OPPORTUNITY,
    "won": Stage.CUSTOMER,
    "lost": Stage.LOST,
}


def record_feedback(uow: UnitOfWork, feedback: Feedback, *, now: datetime) -> FeedbackResult:
    """Check the decision against the configured reason lists, then in one transaction:
    move the stage (if it changes), close the pending handoff, store the outcome, and
    announce recycles and disqualifications."""
    details = _checked_details(feedback)
    with uow:
        config = uow.configs.handoff_config()
        if feedback.kind in ("recycled", "disqualified"):
            action: Literal["recycle", "disqualify"] = (
                "recycle" if feedback.kind == "recycled" else "disqualify"
            )
            problem = config.reason_problem(action, feedback.reason, feedback.note)
            if problem:
                raise InvalidInput(f"{problem[0]}: {problem[1]}")
        elif feedback.kind == "lost" and not feedback.reason:
            raise InvalidInput("reason: say why the deal was lost")
        uow.leads.lock([feedback.lead_id])
        lead = uow.leads.get_many([feedback.lead_id]).get(feedback.lead_id)
        if lead is None:
            raise LeadNotFound(feedback.lead_id)
        handoff = uow.handoffs.pending_for([feedback.lead_id]).get(feedback.lead_id)
        target = _TARGET[feedback.kind]
        moved: Stage | None = None
        if lead.stage is not target:
            change_stage(
                uow,
                ChangeStage(
                    feedback.lead_id,
                    target,
                    reason=_reason(feedback),
                    actor=feedback.actor,
                    actor_type=ActorType.USER,
                    # Sales may always send back a lead handed to them, even one pushed
                    # by hand before it was an MQL (lead → recycled is otherwise refused);
                    # the transition records that it was outside the table.
                    override=handoff is not None and feedback.kind in _SENDS_BACK,
                ),
                now=now,
            )
            moved = target
        elif feedback.kind != "accepted":
            raise InvalidInput(f"lead {feedback.lead_id} is already {target.value}")
        if handoff is not None and moved is None:
            # Accepting a lead already in SQL moves nothing; the answer still closes it.
            close_pending(uow, feedback.lead_id, target, now)
        track = None
        if feedback.kind == "recycled":
            track = feedback.nurture_track or config.default_nurture_track
            if track not in config.nurture_tracks:
                raise InvalidInput(
                    f"nurture_track: unknown track {track!r}; one of "
                    f"{', '.join(config.nurture_tracks)}"
                )
            uow.handoffs.set_nurture_track(feedback.lead_id, track, now)
        outcome_id = uow.handoffs.add_outcome(
            Outcome(
                lead_id=feedback.lead_id,
                kind=feedback.kind,
                actor=feedback.actor,
                occurred_at=now,
                handoff_id=handoff.id if handoff else None,
                reason=feedback.reason,
                note=feedback.note,
                details=details,
            )
        )
        if moved in (Stage.RECYCLED, Stage.DISQUALIFIED):
            _announce_exit(uow, feedback, lead.stage, track, now)
        uow.commit()
    return FeedbackResult(outcome_id, lead.stage, moved, handoff.id if handoff else None, track)


CLOCK_SKEW = timedelta(minutes=5)
"""How far ahead of this server's clock a reported touch may be (the caller's clock)."""


def record_first_touch(
    uow: UnitOfWork, handoff_id: int, *, at: datetime, now: datetime | None = None
) -> Handoff:
    """The owner reached the lead (called through the API or CLI when the CRM cannot send
    a sales touchpoint): the SLA is met if ``at`` is on time. Only the first touch counts.

    With ``now``, a touch before the handoff or in the future (past the clock skew) is
    refused with an ``at:`` message: it would meet an SLA nobody met.
    """
    with uow:
        handoff = uow.handoffs.get(handoff_id)
        if handoff is None:
            raise HandoffNotFound(handoff_id)
        if now is not None and at > now + CLOCK_SKEW:
            raise InvalidInput(f"at: {at.isoformat()} is in the future")
        if now is not None and at < handoff.created_at:
            raise InvalidInput(
                f"at: {at.isoformat()} is before the handoff ({handoff.created_at.isoformat()})"
            )
        if handoff.first_touch_at is not None:
            return handoff
        status = sla_status(handoff.due_at or at, at, at)
        touched = replace(handoff, first_touch_at=at, sla_status=status)
        uow.handoffs.save(touched)
        uow.commit()
    return touched


def _checked_details(feedback: Feedback) -> dict[str, Any]:
    details = dict(feedback.details)
    if feedback.kind == "accepted":
        unknown = set(details) - set(_BANT)
        if unknown:
            raise InvalidInput(
                f"bant: unknown answer {sorted(unknown)[0]!r}; give any of {', '.join(_BANT)}"
            )
    if feedback.kind == "opportunity":
        amount = details.get("amount")
        if amount is not None and (
            isinstance(amount, bool) or not isinstance(amount, int | float) or amount < 0
        ):
            raise InvalidInput(f"amount: {amount!r} is not a non-negative number")
        close = details.get("expected_close")
        if close is not None:
            try:
                details["expected_close"] = date.fromisoformat(str(close)).isoformat()
            except ValueError:
                raise InvalidInput(
                    f"expected_close: {close!r} is not a date (YYYY-MM-DD)"
                ) from None
    return details


def _reason(feedback: Feedback) -> str:
    parts = [f"sales: {feedback.kind}"]
    if feedback.reason:
        parts.append(feedback.reason)
    if feedback.note:
        parts.append(feedback.note)
    return " — ".join(parts)


def _announce_exit(
    uow: UnitOfWork, feedback: Feedback, from_stage: Stage, track: str | None, now: datetime
) -> None:
    lead = uow.leads.get_many([feedback.lead_id])[feedback.lead_id]
    who = LeadSummary.from_lead(lead)
    account = AccountSummary.from_account(lead.account) if lead.account else None
    step = StageStep(
        from_stage.value,
        "recycled" if feedback.kind == "recycled" else "disqualified",
        now,
        reason=feedback.reason or "",
        actor=feedback.actor,
        actor_type=ActorType.USER.value,
    )
    notification = (
        lead_recycled(
            who,
            step,
            reason=feedback.reason or "",
            note=feedback.note,
            nurture_track=track,
            account=account,
        )
        if feedback.kind == "recycled"
        else lead_disqualified(
            who, step, reason=feedback.reason or "", note=feedback.note, account=account
        )
    )
    announce(uow, notification, lead_id=feedback.lead_id, now=now)
