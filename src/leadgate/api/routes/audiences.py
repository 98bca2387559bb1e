"""Routes: saved audiences (conditions on stage, grade, score and attributes): create,
list, show, refresh (pushing membership changes to the audience's endpoint), CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from leadgate.api.errors import ERROR_RESPONSES, ApiError, ErrorBody
from leadgate.api.routes.handoff_deps import Reader, Wired, Writer, id_path, not_found, now
from leadgate.api.schemas.audiences import AudienceIn, AudienceList, AudienceOut, RefreshOut
from leadgate.bootstrap import App
from leadgate.services.audiences import AudienceNotFound, create_audience, refresh_audience
from leadgate.services.errors import InvalidInput
from leadgate.services.handoff_queries import (
    EXPORT_COLUMNS,
    audience_details,
    audience_named,
    export_audience,
    get_audience,
)
from leadgate.services.retry import retry_on_conflict

router = APIRouter(prefix="/v1/audiences", tags=["audiences"])

AudienceId = Annotated[int, id_path("Audience")]

# Rows written per chunk of the streamed CSV.
_CHUNK_ROWS = 500


def _audience(wired: App, audience_id: int) -> AudienceOut:
    found = get_audience(wired.uow(), audience_id)
    if found is None:
        raise ApiError(404, "not_found", f"no audience with id {audience_id}")
    return AudienceOut.of_detail(found)


@router.get("", response_model=AudienceList, responses=ERROR_RESPONSES, summary="List")
def list_all(key: Reader, wired: Wired) -> AudienceList:
    """Every saved audience, oldest first."""
    return AudienceList(items=[AudienceOut.of_detail(a) for a in audience_details(wired.uow())])


@router.post(
    "",
    response_model=AudienceOut,
    status_code=201,
    responses={
        **ERROR_RESPONSES,
        409: {"model": ErrorBody, "description": "An audience with this name exists"},
        422: {
            "model": ErrorBody,
            "description": "The request does not match the schema (`invalid_request`: a "
            "condition without an operator, a value its operator cannot use ...), or "
            "`endpoint_id` names no endpoint (`invalid_input`)",
        },
    },
    summary="Save an audience",
)
def create(body: AudienceIn, key: Writer, wired: Wired) -> AudienceOut:
    """Stores the audience with no members yet: refresh it to compute them."""
    name = body.name.strip()
    if audience_named(wired.uow(), name) is not None:
        raise ApiError(409, "already_exists", f"name: an audience named {name!r} exists")
    try:
        audience = retry_on_conflict(
            lambda: create_audience(
                wired.uow(),
                name=name,
                conditions=body.stored_conditions(),
                endpoint_id=body.endpoint_id,
                now=now(),
            )
        )
    except InvalidInput as exc:
        message = str(exc)
        if message.startswith("name:"):  # created by someone else meanwhile
            raise ApiError(409, "already_exists", message) from None
        field, _, detail = message.partition(": ")
        raise ApiError(
            422, "invalid_input", message, errors=[{"field": field, "message": detail}]
        ) from None
    return AudienceOut.of(audience, 0)


@router.get(
    "/{audience_id}",
    response_model=AudienceOut,
    responses={**ERROR_RESPONSES, **not_found("audience")},
    summary="Show an audience",
)
def show(audience_id: AudienceId, key: Reader, wired: Wired) -> AudienceOut:
    return _audience(wired, audience_id)


@router.post(
    "/{audience_id}/refresh",
    response_model=RefreshOut,
    responses={**ERROR_RESPONSES, **not_found("audience")},
    summary="Recompute the members and push the changes",
)
def refresh(audience_id: AudienceId, key: Writer, wired: Wired) -> RefreshOut:
    """Finds the leads that meet the conditions now, stores who joined and who left, and
    queues `audience.changed` for the audience's endpoint (in batches of 500 members,
    each with its own idempotency key) when anything changed."""
    try:
        result = retry_on_conflict(lambda: refresh_audience(wired.uow(), audience_id, now=now()))
    except AudienceNotFound:
        raise ApiError(404, "not_found", f"no audience with id {audience_id}") from None
    return RefreshOut.of(result)


_CSV: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The members, one row each, after a header row: "
        + ", ".join(EXPORT_COLUMNS),
        "content": {"text/csv": {"schema": {"type": "string"}}},
    },
}


@router.get(
    "/{audience_id}/export.csv",
    response_class=StreamingResponse,
    responses={**ERROR_RESPONSES, **not_found("audience"), **_CSV},
    summary="Export the members as CSV",
)
def export(audience_id: AudienceId, key: Reader, wired: Wired) -> StreamingResponse:
    """The leads that meet the conditions now (not as of the last refresh), streamed:
    lead_id, email, first_name, last_name, account_domain, stage, grade, score. Empty
    cells are unknown values."""
    try:
        rows = export_audience(wired.uow(), audience_id)
    except AudienceNotFound:
        raise ApiError(404, "not_found", f"no audience with id {audience_id}") from None
    filename = f"audience-{audience_id}.csv"
    return StreamingResponse(
        _csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _csv(rows: Iterator[tuple[Any, ...]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    for count, row in enumerate(rows, start=1):
        writer.writerow(row)
        if count % _CHUNK_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
