"""Segment's HTTP tracking API, which RudderStack's clients speak too.

Point a Segment or RudderStack client's host at leadgate and use a tracking key as its
write key; nothing else changes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request

from leadgate.adapters.tracking.payload import (
    MAX_BATCH_MESSAGES,
    Rejected,
    check_document,
    parse_time,
)
from leadgate.adapters.tracking.segment import Envelope, parse_message
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

router = APIRouter(tags=["tracking (Segment / RudderStack)"])

_RESPONSES = TRACKING_RESPONSES
_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
        "description": "A Segment message (or, for /v1/batch, {batch: [...]}); gzip allowed",
    }
}


def _envelope(request: Request, body: dict[str, Any]) -> Envelope:
    wired: App = request.app.state.leadgate
    context = body.get("context")
    integrations = body.get("integrations")
    try:
        sent_at = parse_time(body.get("sentAt"), "sentAt")
        # They apply to every message, so a bad one is the whole request's problem.
        for name, value in (("context", context), ("integrations", integrations)):
            if value is not None and not isinstance(value, dict):
                raise Rejected("invalid_field", f"{name}: expected a JSON object")
            check_document(value, name)
    except Rejected as exc:
        raise ApiError(400, exc.code, exc.message) from None
    return Envelope(
        received_at=received_now(),
        max_skew=timedelta(seconds=wired.settings.max_clock_skew_seconds),
        sent_at=sent_at,
        context=context,
        integrations=integrations,
    )


def _parser(envelope: Envelope, call_type: str | None) -> Any:
    def parse(message: Any) -> tuple[TrackedCall, Problem | None]:
        parsed = parse_message(message, envelope, call_type)
        warning = None
        if parsed.clamped_from is not None:
            warning = Problem(
                index=0,
                messageId=parsed.call.message_id,
                code="clock_clamped",
                message=f"timestamp {parsed.clamped_from.isoformat()} is in the future; "
                f"stored at the time it was received",
            )
        return parsed.call, warning

    return parse


@router.post("/v1/batch", response_model=TrackResponse, responses=_RESPONSES, openapi_extra=_BODY)
async def batch(request: Request) -> TrackResponse:
    """Up to 2,500 messages of any type; good ones are kept even when some are rejected."""
    body = await read_json(request)
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_body", "the body must be a JSON object with a `batch` array")
    tracking_key(request, body, "writeKey")
    messages = body.get("batch")
    if not isinstance(messages, list):
        raise ApiError(400, "missing_batch", "`batch` is required and must be an array")
    if len(messages) > MAX_BATCH_MESSAGES:
        raise ApiError(
            400,
            "too_many_messages",
            f"the batch has {len(messages):,} messages; the limit is {MAX_BATCH_MESSAGES:,}",
        )
    envelope = _envelope(request, body)
    return await record(request, messages, _parser(envelope, None), now=envelope.received_at)


def _single(call_type: str) -> Any:
    async def endpoint(request: Request) -> TrackResponse:
        body = await read_json(request)
        if not isinstance(body, dict):
            raise ApiError(400, "invalid_message", "the body must be a JSON object")
        tracking_key(request, body, "writeKey")
        envelope = _envelope(request, {"sentAt": body.get("sentAt")})
        return await record(
            request, [body], _parser(envelope, call_type), now=envelope.received_at, single=True
        )

    endpoint.__name__ = call_type
    endpoint.__doc__ = f"One Segment `{call_type}` call."
    return endpoint


for _type in ("track", "identify", "page", "screen", "group", "alias"):
    router.add_api_route(
        f"/v1/{_type}",
        _single(_type),
        methods=["POST"],
        response_model=TrackResponse,
        responses=_RESPONSES,
        openapi_extra=_BODY,
    )
