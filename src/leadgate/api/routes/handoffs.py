"""Routes: handoffs (list, show, first touch) and a lead's handoffs, manual handoff and
context package."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from leadgate.api.errors import ERROR_RESPONSES, ApiError, ErrorBody
from leadgate.api.routes.handoff_deps import (
    Cursor,
    LeadId,
    Limit,
    Reader,
    Wired,
    Writer,
    id_path,
    not_found,
    now,
)
from leadgate.api.routes.leads import LeadRoute
from leadgate.api.schemas.common import NO_NUL, read_id_cursor
from leadgate.api.schemas.handoffs import (
    FirstTouchIn,
    HandoffDetail,
    HandoffList,
    HandoffOut,
    HandoffPage,
    LeadContextOut,
)
from leadgate.api.schemas.leads import LeadNotFoundBody
from leadgate.domain.handoffs import HandoffStatus
from leadgate.domain.sla import SlaStatus
from leadgate.services.errors import InvalidInput
from leadgate.services.feedback import record_first_touch
from leadgate.services.handoff_queries import (
    NoHandoff,
    get_handoff,
    handoff_page,
    latest_handoff,
    lead_handoffs,
)
from leadgate.services.handoffs import hand_off_manually
from leadgate.services.retry import retry_on_conflict

router = APIRouter(prefix="/v1/handoffs", tags=["handoffs"])
# Routes under a lead answer a merged lead's id as the lead routes do (404 "merged").
lead_router = APIRouter(prefix="/v1/leads", tags=["handoffs"], route_class=LeadRoute)

HandoffId = Annotated[int, id_path("Handoff")]

# A CRM's clock may run a little ahead of ours; a touch further in the future is a mistake.

_LEAD_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": LeadNotFoundBody, "description": "No such lead, or it was merged"},
}


def _handoff(wired: Wired, handoff_id: int) -> HandoffDetail:
    found = get_handoff(wired.uow(), handoff_id)
    if found is None:
        raise ApiError(404, "not_found", f"no handoff with id {handoff_id}")
    return HandoffDetail.of(found)


@router.get("", response_model=HandoffPage, responses=ERROR_RESPONSES, summary="List handoffs")
def list_handoffs(
    key: Reader,
    wired: Wired,
    owner: Annotated[
        str | None, Query(max_length=255, pattern=NO_NUL, description="The rep, exactly")
    ] = None,
    team: Annotated[str | None, Query(max_length=100, pattern=NO_NUL)] = None,
    status: Annotated[HandoffStatus | None, Query()] = None,
    sla_status: Annotated[SlaStatus | None, Query()] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> HandoffPage:
    """Handoffs matching every filter given, oldest (lowest id) first, without their
    context packages (GET one for that). ``owner`` null in an item: the lead waits in the
    team's queue."""
    page = handoff_page(
        wired.uow(),
        owner=owner,
        team=team,
        status=status.value if status else None,
        sla_status=sla_status.value if sla_status else None,
        after_id=read_id_cursor(cursor) if cursor else None,
        limit=limit,
    )
    return HandoffPage.of(page)


@router.get(
    "/{handoff_id}",
    response_model=HandoffDetail,
    responses={**ERROR_RESPONSES, **not_found("handoff")},
    summary="Show a handoff with its context package",
)
def show_handoff(handoff_id: HandoffId, key: Reader, wired: Wired) -> HandoffDetail:
    """Owner, team, routing reason, status, SLA deadline and status, first touch, and the
    context package as it was at the handoff."""
    return _handoff(wired, handoff_id)


@router.post(
    "/{handoff_id}/first-touch",
    response_model=HandoffDetail,
    responses={**ERROR_RESPONSES, **not_found("handoff")},
    summary="Record the first sales touch",
)
def first_touch(
    handoff_id: HandoffId,
    key: Writer,
    wired: Wired,
    body: Annotated[FirstTouchIn | None, Body()] = None,
) -> HandoffDetail:
    """The owner reached the lead, for CRMs that cannot send a sales touchpoint
    (`sales_call`, `sales_email`, `meeting_booked`). The SLA is met when ``at`` is not
    after ``due_at``. Only the first touch counts: once a handoff has one, this answers it
    unchanged."""
    moment = now()
    at = body.at if body and body.at else moment
    try:
        retry_on_conflict(lambda: record_first_touch(wired.uow(), handoff_id, at=at, now=moment))
    except InvalidInput as exc:
        problem = str(exc).removeprefix("at: ")
        raise ApiError(
            422, "invalid_request", f"at: {problem}", errors=[{"field": "at", "message": problem}]
        ) from None
    return _handoff(wired, handoff_id)


@lead_router.post(
    "/{lead_id}/handoff",
    response_model=HandoffDetail,
    status_code=201,
    responses={
        **ERROR_RESPONSES,
        **_LEAD_NOT_FOUND,
        409: {
            "model": ErrorBody,
            "description": "The lead already has a pending handoff (`already_pending`), or "
            "no scoring model is active",
        },
    },
    summary="Hand a lead to sales by hand",
)
def push_lead(lead_id: LeadId, key: Writer, wired: Wired) -> HandoffDetail:
    """Routes the lead as a gate would (rules, strategy, capacity, absences, account
    owner), starts its SLA clock, builds its context package and queues the alert. A lead
    nobody can take waits in the team's queue (``owner`` null) and the manager is told."""
    try:
        handoff = retry_on_conflict(lambda: hand_off_manually(wired.uow(), lead_id, now=now()))
    except InvalidInput as exc:  # the one refusal: a pending handoff exists
        raise ApiError(409, "already_pending", str(exc)) from None
    return HandoffDetail.of(handoff)


@lead_router.get(
    "/{lead_id}/handoffs",
    response_model=HandoffList,
    responses={**ERROR_RESPONSES, **_LEAD_NOT_FOUND},
    summary="A lead's handoffs",
)
def list_lead_handoffs(lead_id: LeadId, key: Reader, wired: Wired) -> HandoffList:
    """Every handoff of the lead, oldest first (a recycled lead may be handed off again)."""
    return HandoffList(items=[HandoffOut.of(h) for h in lead_handoffs(wired.uow(), lead_id)])


@lead_router.get(
    "/{lead_id}/context",
    response_model=LeadContextOut,
    responses={
        **ERROR_RESPONSES,
        404: {
            "model": LeadNotFoundBody,
            "description": "No such lead, it was merged, or it was never handed off (`no_handoff`)",
        },
    },
    summary="The context package of a lead's latest handoff",
)
def lead_context(lead_id: LeadId, key: Reader, wired: Wired) -> LeadContextOut:
    """Who the lead is, the company, why now (top score contributions and the touchpoints
    that crossed the gate), source and campaign, pages and content, form answers, intent
    topics and earlier stages, as they were when the lead was last handed off."""
    try:
        return LeadContextOut.of(latest_handoff(wired.uow(), lead_id))
    except NoHandoff as exc:
        raise ApiError(404, "no_handoff", str(exc)) from None
