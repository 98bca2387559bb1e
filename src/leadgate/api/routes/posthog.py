"""PostHog's capture API: point a PostHog client's host at leadgate, with a tracking key
as its project API key."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request

from leadgate.adapters.tracking.payload import MAX_BATCH_MESSAGES, Rejected, parse_time
from leadgate.adapters.tracking.posthog import parse_event
from leadgate.api.errors import ApiError
from leadgate.api.tracking_io import (
    TRACKING_RESPONSES,
    Problem,
    TrackResponse,
    read_json,
    received_now,
    record,
    tracking_key,
)
from leadgate.bootstrap import App
from leadgate.services.commands import TrackedCall

router = APIRouter(tags=["tracking (PostHog)"])

_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
        "description": "{api_key, batch: [...]} or one event {api_key, event, distinct_id, ...}",
    }
}


async def _capture(request: Request) -> TrackResponse:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_body", "the body must be a JSON object")
    tracking_key(request, body, "api_key")
    events = body.get("batch")
    single = events is None
    if single:
        events = [body]
    if not isinstance(events, list):
        raise ApiError(400, "missing_batch", "`batch` must be an array of events")
    if len(events) > MAX_BATCH_MESSAGES:
        raise ApiError(
            400,
            "too_many_messages",
            f"the batch has {len(events):,} events; the limit is {MAX_BATCH_MESSAGES:,}",
        )
    wired: App = request.app.state.leadgate
    received_at = received_now()
    try:
        sent_at = parse_time(body.get("sent_at") or body.get("sentAt"), "sent_at")
    except Rejected as exc:
        raise ApiError(400, exc.code, exc.message) from None
    skew = timedelta(seconds=wired.settings.max_clock_skew_seconds)

    def parse(event: Any) -> tuple[TrackedCall, Problem | None]:
        call, clamped = parse_event(event, received_at=received_at, sent_at=sent_at, max_skew=skew)
        warning = None
        if clamped is not None:
            warning = Problem(
                index=0,
                messageId=call.message_id,
                code="clock_clamped",
                message=f"timestamp {clamped.isoformat()} is in the future; "
                "stored at the time it was received",
            )
        return call, warning

    return await record(request, events, parse, now=received_at, single=single)


for _path in ("/batch/", "/capture/", "/batch", "/capture"):
    router.add_api_route(
        _path,
        _capture,
        methods=["POST"],
        response_model=TrackResponse,
        responses=TRACKING_RESPONSES,
        openapi_extra=_BODY,
        include_in_schema=_path.endswith("/"),
        summary="PostHog capture (one event or a batch)",
    )
