"""The inbox table: tracking calls captured but not yet qualified (see ports.InboxRepository).

Capture appends with one bulk INSERT; the qualifier takes the oldest waiting rows under a
lock only one transaction can hold per database, marks them drained (or parks them) and
purges what was drained a while ago. Documents are JSON text, written and read without
SQLAlchemy's per-value processing, as on the other hot paths.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, delete, func, select, text, update

from leadgate.adapters.db import tables as t
from leadgate.adapters.db.repositories import (
    _BulkInsert,
    _chunks,
    _codec,
    _loads,
    _Lookup,
    _raw,
)
from leadgate.services.ports import InboxCounts, InboxEntry, ParkedCall, QueuedCall

_c = t.inbox.c
_WAITING = (_c.drained_at.is_(None), _c.parked_at.is_(None))

_APPEND = _BulkInsert(t.inbox, ("message_id", "event_id", "received_at", "call"))
_QUEUED = _Lookup(lambda among: select(_c.event_id).where(among(_c.event_id)))
_TAKE = (
    select(_c.id, _c.message_id, _raw(_c.received_at), _c.call)
    .where(*_WAITING)
    .order_by(_c.id)
    .limit(bindparam("limit"))
)
_DONE = _Lookup(
    lambda among: (
        update(t.inbox)
        .where(among(_c.id))
        .values(drained_at=bindparam("at", type_=_c.drained_at.type))
    )
)
_PARK = (
    update(t.inbox)
    .where(_c.id == bindparam("row_id"), *_WAITING)
    .values(parked_at=bindparam("at", type_=_c.parked_at.type), reason=bindparam("why"))
)
_FIRST_WAITING = select(_c.id, _c.received_at).where(*_WAITING).order_by(_c.id).limit(1)
_LAST_ID = select(func.max(_c.id))

# Only one qualifier drains at a time per database, so each lead's calls are processed in
# arrival order even with several server processes: a transaction-scoped advisory lock in
# a namespace of leadgate's own (key locks use another, see repositories._KEY_LOCK_NAMESPACE).
# SQLite needs none: every leadgate transaction holds its write lock from BEGIN IMMEDIATE.
_INBOX_LOCK_NAMESPACE = 0x1EAD1B0C
_TRY_LOCK = text("SELECT pg_try_advisory_xact_lock(:namespace, 0)")


def _document_text(document: Mapping[str, Any]) -> str:
    """A call's document as JSON text (orjson; json for what it refuses, such as integers
    past 64 bits)."""
    try:
        return orjson.dumps(document).decode()
    except TypeError:
        return json.dumps(document)


def _document(raw: Any) -> Any:
    """Stored JSON text → Python; text that is not JSON comes back as it is, for the
    qualifier to park with the reason."""
    try:
        return _loads(raw)
    except ValueError:
        return raw


class SqlInboxRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def append(self, calls: Sequence[QueuedCall]) -> None:
        if not calls:
            return
        time_param = _codec(self._c).time_param
        received: dict[datetime, Any] = {}  # a request's calls share one moment
        _APPEND.run(
            self._c,
            {
                "message_id": [call.message_id for call in calls],
                "event_id": [call.message_id if call.event else None for call in calls],
                "received_at": [
                    received.get(call.received_at)
                    or received.setdefault(call.received_at, time_param(call.received_at))
                    for call in calls
                ],
                "call": [_document_text(call.document) for call in calls],
            },
        )

    def queued(self, message_ids: Collection[str]) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(sorted(message_ids)):
            found.update(_QUEUED.run(self._c, chunk).scalars())
        return found

    def backlog_bound(self) -> int:
        first = self._c.execute(_FIRST_WAITING).first()
        if first is None:
            return 0
        return int(self._c.execute(_LAST_ID).scalar_one()) - int(first.id) + 1

    def take(self, limit: int) -> list[InboxEntry]:
        if self._c.dialect.name == "postgresql":
            held = self._c.execute(_TRY_LOCK, {"namespace": _INBOX_LOCK_NAMESPACE}).scalar_one()
            if not held:
                return []
        time = _codec(self._c).time
        return [
            InboxEntry(row.id, row.message_id, time(row.received_at), _document(row.call))
            for row in self._c.execute(_TAKE, {"limit": limit})
        ]

    def done(self, entry_ids: Collection[int], at: datetime) -> None:
        for chunk in _chunks(sorted(entry_ids)):
            _DONE.run(self._c, chunk, at=at)

    def park(self, reasons: Mapping[int, str], at: datetime) -> None:
        if reasons:
            self._c.execute(
                _PARK, [{"row_id": i, "at": at, "why": why} for i, why in sorted(reasons.items())]
            )

    def purge(self, drained_before: datetime) -> int:
        return self._c.execute(
            delete(t.inbox).where(_c.drained_at.is_not(None), _c.drained_at < drained_before)
        ).rowcount

    def counts(self) -> InboxCounts:
        count = select(func.count()).select_from(t.inbox)
        backlog = self._c.execute(count.where(*_WAITING)).scalar_one()
        parked = self._c.execute(count.where(_c.parked_at.is_not(None))).scalar_one()
        first = self._c.execute(_FIRST_WAITING).first()
        return InboxCounts(int(backlog), first.received_at if first else None, int(parked))

    def recent(self, limit: int) -> list[tuple[datetime, datetime]]:
        rows = self._c.execute(
            select(_c.received_at, _c.drained_at)
            .where(_c.drained_at.is_not(None))
            .order_by(_c.drained_at.desc(), _c.id.desc())
            .limit(limit)
        )
        return [(row.received_at, row.drained_at) for row in rows]

    def parked(self, *, after_id: int = 0, limit: int = 50) -> list[ParkedCall]:
        rows = self._c.execute(
            select(t.inbox)
            .where(_c.parked_at.is_not(None), _c.id > after_id)
            .order_by(_c.id)
            .limit(limit)
        )
        return [
            ParkedCall(
                row.id,
                row.message_id,
                row.received_at,
                row.parked_at,
                row.reason or "",
                _document(row.call),
            )
            for row in rows
        ]
