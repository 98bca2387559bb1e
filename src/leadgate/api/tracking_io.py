"""What the tracking routes share: reading bounded bodies, the key, the rate limit, and
handing parsed calls to the use case."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from leadgate.adapters.tracking.payload import (
    MAX_BATCH_BYTES,
    Rejected,
    Skipped,
    decode_body,
    text,
)
from leadgate.api.auth import authorize
from leadgate.api.errors import ERROR_RESPONSES, ApiError, ErrorBody
from leadgate.bootstrap import App
from leadgate.domain.keys import ApiKey, Scope
from leadgate.services.commands import TrackedCall
from leadgate.services.inbox import CaptureResult, capture_calls
from leadgate.services.retry import retry_on_conflict
from leadgate.services.tracking import TrackResult, record_calls

# A compressed body is never much larger than the JSON it holds; anything past this is
# refused before it is read in full.
_MAX_RAW_BYTES = MAX_BATCH_BYTES + 64 * 1024


# What a tracking route may answer besides 200, for the OpenAPI document.
TRACKING_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    429: {"model": ErrorBody, "description": "Over the key's rate limit; see Retry-After"},
    503: {
        "model": ErrorBody,
        "description": "Inbox mode: too many calls wait to be qualified (`inbox_full`); "
        "send again after Retry-After",
    },
}


class Problem(BaseModel):
    index: int = Field(description="Position of the message in the batch (0 for one message)")
    messageId: str | None = None
    code: str
    message: str


class TrackResponse(BaseModel):
    """Segment's clients read only the status; people and tests read the rest."""

    success: bool = True
    received: int
    accepted: int = Field(description="Messages that passed validation")
    stored: int = Field(description="New touchpoints stored")
    duplicates: int = Field(description="Events already stored (a retry) or repeated")
    rejected: list[Problem] = Field(default_factory=list)
    warnings: list[Problem] = Field(default_factory=list)


async def read_json(request: Request) -> Any:
    """The request's JSON body, gzip or not, refused early when too large."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > _MAX_RAW_BYTES:
        raise ApiError(400, "too_large", f"the body is larger than {MAX_BATCH_BYTES // 1024} KB")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > _MAX_RAW_BYTES:
            raise ApiError(
                400, "too_large", f"the body is larger than {MAX_BATCH_BYTES // 1024} KB"
            )
        chunks.append(chunk)
    try:
        return decode_body(b"".join(chunks), request.headers.get("content-encoding"))
    except Rejected as exc:
        raise ApiError(400, exc.code, exc.message) from None


def tracking_key(request: Request, body: Any, field: str) -> ApiKey:
    """The key from the headers, else from the body's ``field``; then the rate limit."""
    from_body = body.get(field) if isinstance(body, dict) else None
    key = authorize(request, Scope.TRACK, from_body if isinstance(from_body, str) else None)
    wait = request.app.state.rate_limiter.retry_after(key.prefix)
    if wait is not None:
        raise ApiError(
            429,
            "rate_limited",
            f"key {key.prefix}… is over its limit of "
            f"{request.app.state.rate_limiter.per_second:g} requests a second",
            headers={"Retry-After": str(wait)},
        )
    return key


def received_now() -> datetime:
    return datetime.now(UTC)


async def record(
    request: Request,
    messages: Sequence[Any],
    parse: Callable[[Any], tuple[TrackedCall, Problem | None]],
    *,
    now: datetime,
    single: bool = False,
) -> TrackResponse:
    """Parse every message, keep the good ones, store them in one transaction."""
    calls: list[TrackedCall] = []
    rejected: list[Problem] = []
    warnings: list[Problem] = []
    for index, message in enumerate(messages):
        try:
            call, warning = parse(message)
        except Rejected as exc:
            # Segment names a message by messageId (a string or a number), PostHog by uuid.
            message_id = (
                message.get("messageId", message.get("uuid")) if isinstance(message, dict) else None
            )
            problem = Problem(
                index=index,
                messageId=text(message_id),
                code=exc.code,
                message=exc.message,
            )
            (warnings if isinstance(exc, Skipped) else rejected).append(problem)
            continue
        calls.append(call)
        if warning is not None:
            warnings.append(warning.model_copy(update={"index": index}))
    if rejected and (single or not calls):
        first = rejected[0]
        where = "" if single else f"message {first.index}: "
        more = f" (and {len(rejected) - 1} more)" if len(rejected) > 1 else ""
        raise ApiError(
            400,
            first.code,
            f"{where}{first.message}{more}",
            errors=[p.model_dump() for p in rejected] if not single else None,
        )
    wired: App = request.app.state.leadgate
    result: TrackResult | CaptureResult
    if wired.settings.ingest_mode == "inbox":
        # Answered once the calls are durably queued; the qualifier stores and scores them.
        result = await run_in_threadpool(
            retry_on_conflict,
            lambda: capture_calls(
                wired.uow(), calls, now=now, max_backlog=wired.settings.inbox_max_backlog
            ),
        )
        qualifier = getattr(request.app.state, "qualifier", None)
        if qualifier is not None and result.queued:
            qualifier.wake()
    else:
        result = await run_in_threadpool(
            retry_on_conflict, lambda: record_calls(wired.uow(), calls, now=now)
        )
    return TrackResponse(
        received=len(messages),
        accepted=len(calls),
        stored=result.stored,
        duplicates=result.duplicates,
        rejected=rejected,
        warnings=warnings,
    )
