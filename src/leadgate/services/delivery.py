"""Delivering the outbox: retries with exponential backoff, every attempt recorded, a
dead-letter after too many failures, and replay by hand.

A message is claimed (its next attempt pushed a lease ahead) and committed before it is
sent, so two workers never send it at once, and a worker that dies mid-send leaves it to
be sent again when the lease ends, with the same idempotency key.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from leadgate.domain.notifications import Notification
from leadgate.services.errors import NotFound, ServiceError
from leadgate.services.ports import Endpoint, OutboxMessage, UnitOfWork

_log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
LEASE = timedelta(seconds=60)
_BASE = 2.0  # seconds before the first retry
_CAP = 3600.0  # never wait more than an hour between attempts


class Delivery(Protocol):
    """What a channel reports about one attempt (adapters.notify.DeliveryResult)."""

    @property
    def ok(self) -> bool: ...
    @property
    def status(self) -> int | None: ...
    @property
    def error(self) -> str | None: ...
    @property
    def retryable(self) -> bool: ...
    @property
    def duration_ms(self) -> float: ...
    @property
    def retry_after(self) -> float | None: ...


Deliver = Callable[[Endpoint, Notification], Delivery]


class MessageNotFound(NotFound):
    def __init__(self, message_id: int) -> None:
        super().__init__(f"no outbox message with id {message_id}")


@dataclass(frozen=True, slots=True)
class _Raised:
    """A channel that raised instead of reporting: a failed attempt worth retrying."""

    error: str
    duration_ms: float
    ok: bool = False
    status: int | None = None
    retryable: bool = True
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class DeliveryStats:
    attempted: int = 0
    delivered: int = 0
    failed: int = 0
    dead: int = 0


def backoff(attempts: int, retry_after: float | None = None) -> timedelta:
    """The wait before attempt ``attempts + 1``: 2 s, 4 s, 8 s ... capped at an hour, with
    ±20 % jitter so a receiver coming back is not hit by every message at once; never less
    than a receiver's Retry-After."""
    seconds = min(_CAP, _BASE * 2 ** max(0, attempts - 1)) * random.uniform(0.8, 1.2)
    return timedelta(seconds=max(seconds, retry_after or 0.0))


def deliver_due(
    uow_factory: Callable[[], UnitOfWork],
    deliver: Deliver,
    now: Callable[[], datetime],
    *,
    limit: int = 100,
    max_attempts: int = MAX_ATTEMPTS,
    lease: timedelta = LEASE,
) -> DeliveryStats:
    """Send the messages due now, once each; return what happened.

    ``lease`` is how long a claimed message is left alone by other workers: longer than
    one attempt can take (the channels' timeouts), so only a dead worker's come back.
    """
    with uow_factory() as uow:
        claimed = uow.outbox.claim(now(), limit=limit, lease=lease)
        endpoints = {e.id: e for e in uow.outbox.endpoints()}
        uow.commit()
    delivered = failed = dead = 0
    for message in claimed:
        endpoint = endpoints[message.endpoint_id]
        result = _attempt(deliver, endpoint, message.notification)
        attempts = message.attempts + 1
        at = now()
        if result.ok:
            status, next_at = "delivered", at
            delivered += 1
        elif result.retryable and attempts < max_attempts:
            status, next_at = "pending", at + backoff(attempts, result.retry_after)
            failed += 1
        else:
            status, next_at = "dead", at
            dead += 1
        with uow_factory() as uow:
            uow.outbox.record_attempt(
                message.id,
                at=at,
                ok=result.ok,
                status_code=result.status,
                error=result.error,
                duration_ms=result.duration_ms,
                status=status,
                next_attempt_at=next_at,
            )
            uow.commit()
    return DeliveryStats(len(claimed), delivered, failed, dead)


def _attempt(deliver: Deliver, endpoint: Endpoint, record: Mapping[str, Any]) -> Delivery:
    """One attempt; a channel that raises (a bug, not the receiver) is recorded as a
    failed attempt and retried by backoff, instead of stopping the batch and leaving the
    rest of the claimed messages until their lease ends."""
    started = time.monotonic()
    try:
        return deliver(endpoint, Notification.from_record(record))
    except Exception as exc:
        _log.exception("delivering to endpoint %s raised", endpoint.name)
        return _Raised(
            error=f"{type(exc).__name__}: {exc}",
            duration_ms=(time.monotonic() - started) * 1000,
        )


class MessagePending(ServiceError):
    def __init__(self, message: OutboxMessage) -> None:
        super().__init__(
            f"outbox message {message.id} is pending: the worker will send it "
            f"(next attempt {message.next_attempt_at.isoformat()})"
        )


def replay(uow: UnitOfWork, message_id: int, *, now: datetime) -> None:
    """Queue a dead-lettered (or delivered) message again, with its idempotency key. A
    pending message is refused: it is queued already and may be in flight."""
    with uow:
        current = uow.outbox.message(message_id)
        if current is None:
            raise MessageNotFound(message_id)
        if current.status == "pending":
            raise MessagePending(current)
        uow.outbox.replay(message_id, now)
        uow.commit()
