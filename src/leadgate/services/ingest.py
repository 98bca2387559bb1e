"""Ingesting touchpoints from files and the REST API: check each item, then the tracking
pipeline stores, scores and qualifies them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from leadgate.domain.errors import InvalidIdentity
from leadgate.domain.identity import IdentityKey, identity_keys
from leadgate.services.commands import TouchpointIn, TrackedCall
from leadgate.services.errors import InvalidInput
from leadgate.services.ports import UnitOfWork
from leadgate.services.tracking import TrackResult, record_calls

IngestResult = TrackResult
"""What one batch did (the pipeline's own result): ``duplicates`` counts message ids seen
before or twice in it, ``lead_ids`` the leads it touched."""


def ingest_touchpoints(
    uow: UnitOfWork, batch: Sequence[TouchpointIn], *, now: datetime, handlers: bool = True
) -> TrackResult:
    """Store a batch of touchpoints in one transaction and requalify the leads it touches.

    Idempotent: a message id already stored (or repeated in the batch) is skipped, so a
    client's retry of the whole batch changes nothing. Scores are computed as of ``now``;
    touchpoints dated after ``now`` are stored and count once their time has come.
    Raises InvalidInput, naming the item and field, before anything is written. The batch
    goes through the tracking pipeline (``services.tracking.record_calls``), the one way
    touchpoints come in.
    """
    calls = []
    for position, item in enumerate(batch):
        try:
            keys = touchpoint_keys(item)
        except InvalidInput as exc:
            raise InvalidInput(f"touchpoint {position} ({item.message_id}): {exc}") from None
        calls.append(TrackedCall(item.message_id, keys, touchpoint=item))
    return record_calls(uow, calls, now=now, handlers=handlers)


def touchpoint_keys(item: TouchpointIn) -> tuple[IdentityKey, ...]:
    """Given one incoming touchpoint, return its identity keys or say which field is wrong.

    Callers that know where the item came from (a file line, a request) check items with
    this before ingesting anything, so a bad item is reported by its place.
    """
    if not item.message_id or not item.message_id.strip():
        raise InvalidInput("message_id: required")
    if not item.name or not item.name.strip():
        raise InvalidInput("name: required")
    if item.occurred_at.tzinfo is None:
        raise InvalidInput(
            f"occurred_at: {item.occurred_at.isoformat()} has no time zone "
            "(send ISO 8601 with an offset, e.g. 2026-03-01T09:30:00Z)"
        )
    try:
        keys = identity_keys(
            email=item.email,
            user_id=item.user_id,
            external_id=item.external_id,
            anonymous_id=item.anonymous_id,
        )
    except InvalidIdentity as exc:
        raise InvalidInput(f"email: {exc}") from None
    if not keys:
        raise InvalidInput("no identity; give an email, user_id, external_id or anonymous_id")
    return keys
