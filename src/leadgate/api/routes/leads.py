"""Routes: leads, their touchpoints, score with explanation, transitions, stage changes.

A lead that was merged into another (an anonymous visitor who identified) answers every
route here with 404, code ``merged`` and ``merged_into``: the surviving lead's id.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from leadgate.analytics import leads as reads
from leadgate.api.auth import require
from leadgate.api.errors import ERROR_RESPONSES, ApiError, ErrorBody
from leadgate.api.responses import JsonResponse
from leadgate.api.schemas.common import (
    ID_CURSOR,
    INT64_MAX,
    NO_NUL,
    TIME_ID_CURSOR,
    Domain,
    UtcDatetime,
    read_id_cursor,
    read_time_id_cursor,
)
from leadgate.api.schemas.leads import (
    LeadNotFoundBody,
    LeadOut,
    LeadPage,
    LeadPatch,
    LeadUpsert,
    ScoreExplanation,
    StageChangeIn,
    TouchpointPage,
    TransitionList,
    TransitionOut,
)
from leadgate.bootstrap import App
from leadgate.domain.keys import ApiKey, Scope
from leadgate.domain.lifecycle import ActorType, Stage
from leadgate.domain.scoring_model import Grade
from leadgate.services.commands import ChangeStage
from leadgate.services.errors import InvalidInput, LeadNotFound
from leadgate.services.lifecycle import change_stage
from leadgate.services.profiles import update_lead, upsert_leads
from leadgate.services.queries import explain_lead, lead_transitions
from leadgate.services.retry import retry_on_conflict


class LeadRoute(APIRoute):
    """Answers LeadNotFound for a merged lead with ``merged`` and the surviving id.

    Done here, once, because the use cases only know the lead is gone; which lead took
    its place is the API's concern (a client following a stale link).
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except LeadNotFound as exc:
                wired: App = request.app.state.leadgate
                into = await run_in_threadpool(_merged_into, wired, exc.lead_id)
                if into is None:
                    raise
                return JsonResponse(
                    {
                        "code": "merged",
                        "message": f"lead {exc.lead_id} was merged into lead {into}",
                        "merged_into": into,
                    },
                    status_code=404,
                )

        return route_handler


def _merged_into(wired: App, lead_id: int) -> int | None:
    with wired.engine.connect() as connection:
        return reads.merged_into(connection, lead_id)


router = APIRouter(
    prefix="/v1/leads",
    tags=["leads"],
    route_class=LeadRoute,
)

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": LeadNotFoundBody, "description": "No such lead, or it was merged"},
}
_READ = {**ERROR_RESPONSES, **_NOT_FOUND}
_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {
        "model": ErrorBody,
        "description": "No scoring model is active, or a concurrent change (retry)",
    },
}

LeadId = Annotated[int, PathParam(ge=1, le=INT64_MAX, description="Lead id")]
Reader = Annotated[ApiKey, Depends(require(Scope.READ))]
Writer = Annotated[ApiKey, Depends(require(Scope.WRITE))]
Limit = Annotated[int, Query(ge=1, le=500, description="Rows per page")]


def _wired(request: Request) -> App:
    return request.app.state.leadgate  # type: ignore[no-any-return]


Wired = Annotated[App, Depends(_wired)]


def _now() -> datetime:
    return datetime.now(UTC)


def _lead(wired: App, lead_id: int) -> LeadOut:
    with wired.engine.connect() as connection:
        row = reads.lead_by_id(connection, lead_id)
    if row is None:
        raise LeadNotFound(lead_id)
    return LeadOut.of(row)


@router.post(
    "",
    response_model=LeadOut,
    responses={
        **ERROR_RESPONSES,
        **_CONFLICT,
        201: {"model": LeadOut, "description": "Created"},
    },
    summary="Create or update a lead by email, external id or user id",
)
def upsert_lead(body: LeadUpsert, response: Response, key: Writer, wired: Wired) -> LeadOut:
    """Finds the lead by its strongest known identity (email, then user id, then CRM id)
    and overwrites the given fields, or creates it; then rescores it. 201 when created."""
    result = retry_on_conflict(lambda: upsert_leads(wired.uow(), [body.command()], now=_now()))
    response.status_code = 201 if result.created else 200
    return _lead(wired, result.ids[0])


@router.get("", response_model=LeadPage, responses=ERROR_RESPONSES, summary="List leads")
def list_leads(
    key: Reader,
    wired: Wired,
    stage: Annotated[Stage | None, Query(description="Current stage")] = None,
    owner: Annotated[str | None, Query(max_length=255, pattern=NO_NUL)] = None,
    grade: Annotated[Grade | None, Query(description="Fit grade of the stored score")] = None,
    min_score: Annotated[
        float | None, Query(allow_inf_nan=False, description="Total score at least")
    ] = None,
    max_score: Annotated[
        float | None, Query(allow_inf_nan=False, description="Total score at most")
    ] = None,
    updated_since: Annotated[
        UtcDatetime | None,
        Query(description="Profile, identities or stage changed at or after (with a zone)"),
    ] = None,
    account_domain: Annotated[Domain | None, Query(description="The lead's account")] = None,
    limit: Limit = 50,
    cursor: Annotated[
        str | None, Query(pattern=ID_CURSOR, description="`next_cursor` of the previous page")
    ] = None,
) -> LeadPage:
    """Leads matching every filter given, by ascending id. A lead without a score yet is
    left out by the score and grade filters."""
    filters = reads.LeadFilters(
        stage=stage.value if stage else None,
        owner=owner,
        grade=grade.value if grade else None,
        min_score=min_score,
        max_score=max_score,
        updated_since=updated_since,
        account_domain=account_domain,
    )
    with wired.engine.connect() as connection:
        page = reads.list_leads(
            connection,
            filters,
            limit=limit,
            after=read_id_cursor(cursor) if cursor else None,
        )
    return LeadPage.of(page)


@router.get("/{lead_id}", response_model=LeadOut, responses=_READ, summary="Get a lead")
def get_lead(lead_id: LeadId, key: Reader, wired: Wired) -> LeadOut:
    """The lead with its account, identities, current stage and stored score and grade."""
    return _lead(wired, lead_id)


@router.patch(
    "/{lead_id}",
    response_model=LeadOut,
    responses={**_READ, **_CONFLICT},
    summary="Update a lead's profile",
)
def patch_lead(lead_id: LeadId, body: LeadPatch, key: Writer, wired: Wired) -> LeadOut:
    """Overwrites the given profile fields (absent or null ones keep their value), merges
    the traits, then rescores the lead."""
    retry_on_conflict(lambda: update_lead(wired.uow(), lead_id, body.command(), now=_now()))
    return _lead(wired, lead_id)


@router.get(
    "/{lead_id}/touchpoints",
    response_model=TouchpointPage,
    responses=_READ,
    summary="A lead's touchpoints, newest first",
)
def list_touchpoints(
    lead_id: LeadId,
    key: Reader,
    wired: Wired,
    name: Annotated[
        str | None, Query(max_length=100, pattern=NO_NUL, description="Canonical name")
    ] = None,
    limit: Limit = 50,
    cursor: Annotated[
        str | None,
        Query(pattern=TIME_ID_CURSOR, description="`next_cursor` of the previous page"),
    ] = None,
) -> TouchpointPage:
    with wired.engine.connect() as connection:
        if not reads.lead_exists(connection, lead_id):
            raise LeadNotFound(lead_id)
        page = reads.lead_touchpoints(
            connection,
            lead_id,
            limit=limit,
            before=read_time_id_cursor(cursor) if cursor else None,
            name=name,
        )
    return TouchpointPage.of(page)


@router.get(
    "/{lead_id}/score",
    response_model=ScoreExplanation,
    responses={**_READ, 409: {"model": ErrorBody, "description": "No scoring model is active"}},
    summary="A lead's score with its explanation",
)
def get_score(
    lead_id: LeadId,
    key: Reader,
    wired: Wired,
    at: Annotated[
        UtcDatetime | None,
        Query(description="Score as of this time instead of the stored score's time"),
    ] = None,
) -> ScoreExplanation:
    """Every contribution: each rule, the touchpoints it matched, raw and decayed points,
    and caps. They sum to the total; without ``at`` the numbers are the stored score's."""
    return ScoreExplanation.of(lead_id, explain_lead(wired.uow(), lead_id, at=at))


@router.get(
    "/{lead_id}/transitions",
    response_model=TransitionList,
    responses=_READ,
    summary="A lead's stage history",
)
def get_transitions(lead_id: LeadId, key: Reader, wired: Wired) -> TransitionList:
    """Every transition with actor, reason, score snapshot and model version, oldest first."""
    rows = lead_transitions(wired.uow(), lead_id)
    return TransitionList(items=[TransitionOut.of(row) for row in rows])


@router.post(
    "/{lead_id}/stage",
    response_model=TransitionOut,
    status_code=201,
    responses={
        **_READ,
        409: {
            "model": ErrorBody,
            "description": "The move is not in the transition table (and no override), "
            "or no scoring model is active",
        },
    },
    summary="Move a lead by decision",
)
def post_stage(lead_id: LeadId, body: StageChangeIn, key: Writer, wired: Wired) -> TransitionOut:
    """Accept, recycle, disqualify, opportunity, won or lost, with a reason. A move outside
    the transition table needs ``override: true``; every move is kept as a transition."""
    command = ChangeStage(
        lead_id, body.to, body.reason, body.actor or key.name, ActorType.API, body.override
    )
    try:
        transition = change_stage(wired.uow(), command, now=_now())
    except InvalidInput as exc:
        # The one refusal change_stage makes: the lifecycle does not allow this move now.
        raise ApiError(409, "transition_not_allowed", str(exc)) from None
    return TransitionOut.of(transition)
