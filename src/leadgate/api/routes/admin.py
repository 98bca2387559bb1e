"""Routes for operators: the inbox of inbox mode (what waits, what was parked). Admin scope:
parked calls hold what tracking clients sent, and backlog figures are not for every key
(``/readyz`` shows none)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from leadgate.api.errors import ERROR_RESPONSES
from leadgate.api.routes.handoff_deps import Admin, Wired, now
from leadgate.api.schemas.common import INT64_MAX
from leadgate.services.inbox import inbox_status, parked_calls

router = APIRouter(prefix="/v1/admin", tags=["operations"])


class InboxOut(BaseModel):
    """The inbox now. Lags are received → drained, over the last drained calls kept."""

    ingest_mode: str = Field(description="`inline` or `inbox` (LEADGATE_INGEST_MODE)")
    backlog: int = Field(description="Calls waiting to be qualified")
    max_backlog: int = Field(description="Capture answers 503 at this backlog (0: no limit)")
    oldest_received_at: datetime | None = Field(description="When the first waiting call came")
    oldest_age_seconds: float | None
    parked: int = Field(description="Calls the qualifier set aside (see /v1/admin/inbox/parked)")
    recent_drained: int = Field(description="Drained calls the lag figures are taken from")
    lag_p50_seconds: float | None
    lag_p99_seconds: float | None


class ParkedOut(BaseModel):
    id: int
    message_id: str
    received_at: datetime
    parked_at: datetime
    reason: str
    call: Any = Field(description="The call as queued (its JSON document)")


class ParkedPage(BaseModel):
    items: list[ParkedOut]
    next_after_id: int | None = Field(description="Pass as `after_id` for the next page")


@router.get("/inbox", response_model=InboxOut, responses=ERROR_RESPONSES, summary="Inbox facts")
def inbox(key: Admin, wired: Wired) -> InboxOut:
    """What waits for the qualifier, since when, how many calls were parked, and how long
    the last drained calls waited (`leadgate inbox status`)."""
    settings = wired.settings
    status = inbox_status(wired.uow(), now=now(), max_backlog=settings.inbox_max_backlog)
    return InboxOut(
        ingest_mode=settings.ingest_mode,
        backlog=status.backlog,
        max_backlog=status.max_backlog,
        oldest_received_at=status.oldest_received_at,
        oldest_age_seconds=status.oldest_age_seconds,
        parked=status.parked,
        recent_drained=status.recent_drained,
        lag_p50_seconds=status.lag_p50_seconds,
        lag_p99_seconds=status.lag_p99_seconds,
    )


@router.get(
    "/inbox/parked",
    response_model=ParkedPage,
    responses=ERROR_RESPONSES,
    summary="Calls the qualifier parked",
)
def parked(
    key: Admin,
    wired: Wired,
    after_id: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> ParkedPage:
    """Parked calls, oldest first, each with the reason (`leadgate inbox parked`)."""
    found = parked_calls(wired.uow(), after_id=after_id, limit=limit)
    return ParkedPage(
        items=[
            ParkedOut(
                id=p.id,
                message_id=p.message_id,
                received_at=p.received_at,
                parked_at=p.parked_at,
                reason=p.reason,
                call=p.document,
            )
            for p in found
        ],
        next_after_id=found[-1].id if len(found) == limit else None,
    )
