"""Capture, then qualify (``LEADGATE_INGEST_MODE=inbox``): the capture side and the facts.

A tracking request in inbox mode is parsed as in inline mode, then ``capture_calls``
dedupes its events against what is stored or already queued and appends its calls to the
inbox in one short transaction; the answer's counts are those ``record_calls`` would
give. The qualifier (``services.inbox_drain``) runs the queued calls through the one
ingestion pipeline later, many requests per transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from leadgate.services.active import active_model
from leadgate.services.commands import TrackedCall
from leadgate.services.errors import InboxFull
from leadgate.services.inbox_codec import call_document
from leadgate.services.ports import ParkedCall, QueuedCall, UnitOfWork

# How many of the last drained calls the lag figures are taken from.
LAG_SAMPLE = 10_000


@dataclass(frozen=True, slots=True)
class CaptureResult:
    """What capturing one request did. ``stored`` counts its new events (queued, to be
    stored by the qualifier) and ``duplicates`` its events stored or queued before, or
    repeated in it, as ``TrackResult`` counts them."""

    received: int
    queued: int
    stored: int
    duplicates: int


def capture_calls(
    uow: UnitOfWork, calls: Sequence[TrackedCall], *, now: datetime, max_backlog: int = 0
) -> CaptureResult:
    """Queue already-validated calls for the qualifier in one transaction.

    Refuses with InboxFull when about ``max_backlog`` calls (0: no limit) already wait, and
    with NoActiveModel as inline ingestion does; a request whose calls are all duplicates
    is answered even then, as it adds nothing. Idempotent by message id, as
    ``record_calls`` is: a retried event is a duplicate, not queued twice (a retry that
    races its first attempt loses on the inbox's unique key: ConcurrentUpdate, retried)."""
    with uow:
        active_model(uow)
        events = {c.message_id for c in calls if c.touchpoint}
        # The inbox first, then the log: a call the qualifier drains in between is in one
        # or the other (kept drained rows still answer), never in neither.
        seen = uow.inbox.queued(events) if events else set()
        if events - seen:
            seen |= uow.touchpoints.known(events - seen)
        kept: list[TrackedCall] = []
        for call in calls:
            if call.touchpoint is not None:
                if call.message_id in seen:
                    continue
                seen.add(call.message_id)
            kept.append(call)
        new_events = sum(1 for c in kept if c.touchpoint)
        if kept:
            if max_backlog > 0 and (backlog := uow.inbox.backlog_bound()) >= max_backlog:
                raise InboxFull(backlog, max_backlog)
            uow.inbox.append(
                [
                    QueuedCall(c.message_id, c.touchpoint is not None, now, call_document(c))
                    for c in kept
                ]
            )
        uow.commit()
    return CaptureResult(
        received=len(calls),
        queued=len(kept),
        stored=new_events,
        duplicates=sum(1 for c in calls if c.touchpoint) - new_events,
    )


@dataclass(frozen=True, slots=True)
class InboxStatus:
    """The inbox at a moment: what waits, since when, what was parked, and how long the
    last drained calls waited (received → drained, seconds; None when none is kept)."""

    backlog: int
    oldest_received_at: datetime | None
    oldest_age_seconds: float | None
    parked: int
    max_backlog: int
    recent_drained: int
    lag_p50_seconds: float | None
    lag_p99_seconds: float | None


def inbox_status(uow: UnitOfWork, *, now: datetime, max_backlog: int = 0) -> InboxStatus:
    """Given the current time (and the configured limit, to show it), return the facts."""
    with uow:
        counts = uow.inbox.counts()
        recent = uow.inbox.recent(LAG_SAMPLE)
    lags = sorted((drained - received).total_seconds() for received, drained in recent)
    oldest = counts.oldest_received_at
    return InboxStatus(
        backlog=counts.backlog,
        oldest_received_at=oldest,
        oldest_age_seconds=max(0.0, (now - oldest).total_seconds()) if oldest else None,
        parked=counts.parked,
        max_backlog=max_backlog,
        recent_drained=len(lags),
        lag_p50_seconds=_nearest_rank(lags, 0.50),
        lag_p99_seconds=_nearest_rank(lags, 0.99),
    )


def parked_calls(uow: UnitOfWork, *, after_id: int = 0, limit: int = 50) -> list[ParkedCall]:
    """Parked calls after ``after_id``, oldest first, with their reasons."""
    with uow:
        return uow.inbox.parked(after_id=after_id, limit=limit)


def _nearest_rank(ordered: Sequence[float], share: float) -> float | None:
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]
