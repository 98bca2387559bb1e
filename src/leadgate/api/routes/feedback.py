"""Routes: sales feedback on a lead (accepted, recycled, disqualified, opportunity, won,
lost), the HTTP face of ``leadgate feedback``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from leadgate.api.errors import ERROR_RESPONSES, ApiError, ErrorBody
from leadgate.api.routes.handoff_deps import LeadId, Wired, Writer, field_error, now
from leadgate.api.routes.leads import LeadRoute
from leadgate.api.schemas.handoffs import FeedbackIn, FeedbackOut
from leadgate.api.schemas.leads import LeadNotFoundBody
from leadgate.services.errors import InvalidInput
from leadgate.services.feedback import Feedback, record_feedback
from leadgate.services.retry import retry_on_conflict

router = APIRouter(prefix="/v1/leads", tags=["sales feedback"], route_class=LeadRoute)

# The fields record_feedback names at the start of a refusal; any other refusal is the
# lifecycle saying the move is not allowed from the lead's stage.
_FIELDS = ("reason", "note", "bant", "amount", "expected_close", "nurture_track")

_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    201: {"model": FeedbackOut, "description": "Recorded"},
    404: {"model": LeadNotFoundBody, "description": "No such lead, or it was merged"},
    409: {
        "model": ErrorBody,
        "description": "The lead's stage does not allow this (`transition_not_allowed`, e.g. "
        "won before an opportunity, or recycling a lead already recycled), or no scoring "
        "model is active",
    },
    422: {
        "model": ErrorBody,
        "description": "The request does not match the schema (`invalid_request`), or a "
        "value the handoff configuration refuses (`invalid_feedback`: a reason not on the "
        "configured list, `other` without a note, an unknown nurture track); `errors` "
        "names the field",
    },
}


@router.post(
    "/{lead_id}/feedback",
    response_model=FeedbackOut,
    status_code=201,
    responses=_RESPONSES,
    summary="Record what sales says about a lead",
)
def post_feedback(lead_id: LeadId, body: FeedbackIn, key: Writer, wired: Wired) -> FeedbackOut:
    """Accept (→ sql, with optional BANT answers), recycle (a configured reason, optional
    note, nurture track; announced as `lead.recycled`), disqualify (a configured reason;
    `other` needs a note; announced as `lead.disqualified`), opportunity (amount, expected
    close date), won (→ customer) or lost (reason required). Each stores an outcome and,
    when the stage moves, a transition with actor type `user`, and answers the lead's
    pending handoff (accepted, or rejected for recycled and disqualified). The actor is
    ``actor``, else the API key's name."""
    feedback = Feedback(
        lead_id=lead_id,
        kind=body.kind,
        actor=body.actor.strip() if body.actor else key.name,
        reason=body.reason.strip() if body.reason else None,
        note=body.note.strip() or None if body.note else None,
        details=body.details(),
        nurture_track=body.nurture_track.strip() if body.nurture_track else None,
    )
    try:
        result = retry_on_conflict(lambda: record_feedback(wired.uow(), feedback, now=now()))
    except InvalidInput as exc:
        message = str(exc)
        if message.split(":", 1)[0] in _FIELDS:
            raise field_error(message, status=422, code="invalid_feedback") from None
        raise ApiError(409, "transition_not_allowed", message) from None
    return FeedbackOut.of(lead_id, body.kind, result)
