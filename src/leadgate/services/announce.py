"""Writing notifications to the outbox, in the transaction of the change they announce."""

from __future__ import annotations

from datetime import datetime

from leadgate.domain.notifications import Notification
from leadgate.services.ports import UnitOfWork


def announce(
    uow: UnitOfWork, notification: Notification, *, lead_id: int | None, now: datetime
) -> int:
    """Queue ``notification`` for every active endpoint subscribed to its event; return how
    many. Inside the caller's transaction: if the change rolls back, so does the message,
    and a message queued twice (same idempotency key, same endpoint) is kept once."""
    endpoints = uow.outbox.subscribers(notification.event.value)
    uow.outbox.enqueue(
        [e.id for e in endpoints],
        event_type=notification.event.value,
        key=notification.key,
        notification=notification.to_record(),
        lead_id=lead_id,
        now=now,
    )
    return len(endpoints)
