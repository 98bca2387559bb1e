"""Notification endpoints and the outbox: written with the change, delivered by the worker."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from leadgate.adapters.db import tables as t
from leadgate.services.ports import Endpoint, OutboxMessage


def _insert_ignoring(connection: Connection) -> Any:
    """An INSERT that can skip rows whose unique key exists (ON CONFLICT DO NOTHING)."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(t.outbox)


def _endpoint_from(row: Row[Any]) -> Endpoint:
    return Endpoint(
        id=row.id,
        name=row.name,
        kind=row.kind,
        config=row.config,
        events=tuple(e for e in row.events.split(",") if e),
        active=row.active,
        created_at=row.created_at,
    )


def _message_from(row: Row[Any]) -> OutboxMessage:
    return OutboxMessage(
        id=row.id,
        endpoint_id=row.endpoint_id,
        event_type=row.event_type,
        idempotency_key=row.idempotency_key,
        lead_id=row.lead_id,
        notification=row.notification,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
    )


class SqlOutboxRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection
        self._endpoints: list[Endpoint] | None = None

    # -- endpoints ---------------------------------------------------------------------

    def add_endpoint(
        self,
        *,
        name: str,
        kind: str,
        config: Mapping[str, Any],
        events: Iterable[str],
        now: datetime,
    ) -> Endpoint:
        self._endpoints = None
        endpoint_id = self._c.execute(
            insert(t.endpoints)
            .values(
                name=name,
                kind=kind,
                config=dict(config),
                events=",".join(events),
                active=True,
                created_at=now,
            )
            .returning(t.endpoints.c.id)
        ).scalar_one()
        found = self.endpoint(endpoint_id)
        assert found is not None
        return found

    def endpoint(self, endpoint_id: int) -> Endpoint | None:
        row = self._c.execute(select(t.endpoints).where(t.endpoints.c.id == endpoint_id)).first()
        return _endpoint_from(row) if row else None

    def endpoints(self) -> list[Endpoint]:
        return [
            _endpoint_from(row)
            for row in self._c.execute(select(t.endpoints).order_by(t.endpoints.c.id))
        ]

    def set_endpoint_active(self, endpoint_id: int, active: bool) -> None:
        self._endpoints = None
        self._c.execute(
            update(t.endpoints).where(t.endpoints.c.id == endpoint_id).values(active=active)
        )

    def subscribers(self, event_type: str) -> list[Endpoint]:
        """Active endpoints subscribed to ``event_type`` (or to every event, ``*``).

        Read once per transaction: a batch announcing thousands of changes asks for every
        one, and endpoints change only through this repository, which forgets on write.
        """
        if self._endpoints is None:
            self._endpoints = [e for e in self.endpoints() if e.active]
        return [e for e in self._endpoints if "*" in e.events or event_type in e.events]

    # -- messages ----------------------------------------------------------------------

    def enqueue(
        self,
        endpoint_ids: Iterable[int],
        *,
        event_type: str,
        key: str,
        notification: Mapping[str, Any],
        lead_id: int | None,
        now: datetime,
    ) -> None:
        """Add one message per endpoint; the same key again for an endpoint is ignored."""
        rows = [
            {
                "endpoint_id": endpoint_id,
                "event_type": event_type,
                "idempotency_key": key,
                "lead_id": lead_id,
                "notification": dict(notification),
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for endpoint_id in endpoint_ids
        ]
        if rows:
            stmt = _insert_ignoring(self._c).on_conflict_do_nothing(
                index_elements=["endpoint_id", "idempotency_key"]
            )
            self._c.execute(stmt, rows)

    def claim(self, now: datetime, *, limit: int, lease: timedelta) -> list[OutboxMessage]:
        """Take up to ``limit`` messages due now and push their next attempt ``lease``
        ahead, so a second worker leaves them alone and a crashed worker's messages come
        back when the lease ends."""
        # A paused endpoint's messages wait, neither sent nor dead, until it is resumed.
        active = select(t.endpoints.c.id).where(t.endpoints.c.active.is_(True))
        query = (
            select(t.outbox)
            .where(
                t.outbox.c.status == "pending",
                t.outbox.c.next_attempt_at <= now,
                t.outbox.c.endpoint_id.in_(active),
            )
            .order_by(t.outbox.c.next_attempt_at, t.outbox.c.id)
            .limit(limit)
        )
        if self._c.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        messages = [_message_from(row) for row in self._c.execute(query)]
        if messages:
            self._c.execute(
                update(t.outbox)
                .where(t.outbox.c.id.in_([m.id for m in messages]))
                .values(next_attempt_at=now + lease)
            )
        return messages

    def record_attempt(
        self,
        message_id: int,
        *,
        at: datetime,
        ok: bool,
        status_code: int | None,
        error: str | None,
        duration_ms: float,
        status: str,
        next_attempt_at: datetime,
    ) -> None:
        self._c.execute(
            insert(t.delivery_attempts).values(
                outbox_id=message_id,
                attempted_at=at,
                ok=ok,
                status_code=status_code,
                error=error,
                duration_ms=duration_ms,
            )
        )
        # Every attempt is kept, but a failure reported late, by a worker whose lease
        # ran out while it waited on a slow receiver, must not undo what another worker
        # settled since (delivered, or dead): only a pending message takes its verdict.
        settled = t.outbox.c.id == message_id
        if not ok:
            settled = settled & (t.outbox.c.status == "pending")
        self._c.execute(
            update(t.outbox)
            .where(settled)
            .values(
                status=status,
                attempts=t.outbox.c.attempts + 1,
                next_attempt_at=next_attempt_at,
                last_error=error,
                delivered_at=at if ok else None,
            )
        )

    def message(self, message_id: int) -> OutboxMessage | None:
        row = self._c.execute(select(t.outbox).where(t.outbox.c.id == message_id)).first()
        return _message_from(row) if row else None

    def messages(
        self,
        *,
        status: str | None = None,
        endpoint_id: int | None = None,
        after_id: int | None = None,
        limit: int = 50,
    ) -> list[OutboxMessage]:
        query = select(t.outbox)
        if status is not None:
            query = query.where(t.outbox.c.status == status)
        if endpoint_id is not None:
            query = query.where(t.outbox.c.endpoint_id == endpoint_id)
        if after_id is not None:
            query = query.where(t.outbox.c.id > after_id)
        return [
            _message_from(row)
            for row in self._c.execute(query.order_by(t.outbox.c.id).limit(limit))
        ]

    def attempts(self, message_id: int) -> list[dict[str, Any]]:
        rows = self._c.execute(
            select(t.delivery_attempts)
            .where(t.delivery_attempts.c.outbox_id == message_id)
            .order_by(t.delivery_attempts.c.id)
        )
        return [dict(row._mapping) for row in rows]

    def replay(self, message_id: int, now: datetime) -> bool:
        """Send a message again, keeping its idempotency key (the use case refuses one
        that is still pending)."""
        result = self._c.execute(
            update(t.outbox)
            .where(t.outbox.c.id == message_id)
            .values(status="pending", attempts=0, next_attempt_at=now, last_error=None)
        )
        return bool(result.rowcount)

    def pending_count(self) -> int:
        return int(
            self._c.execute(
                select(func.count()).select_from(t.outbox).where(t.outbox.c.status == "pending")
            ).scalar_one()
        )
