"""Saved audiences and their current members."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update

from leadgate.adapters.db import tables as t
from leadgate.services.ports import Audience


def _audience_from(row: Row[Any]) -> Audience:
    return Audience(
        id=row.id,
        name=row.name,
        conditions=tuple(row.conditions),
        endpoint_id=row.endpoint_id,
        created_at=row.created_at,
        refreshed_at=row.refreshed_at,
    )


class SqlAudienceRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(
        self,
        name: str,
        conditions: Collection[Mapping[str, Any]],
        endpoint_id: int | None,
        now: datetime,
    ) -> Audience:
        audience_id = self._c.execute(
            insert(t.audiences)
            .values(
                name=name,
                conditions=[dict(c) for c in conditions],
                endpoint_id=endpoint_id,
                created_at=now,
            )
            .returning(t.audiences.c.id)
        ).scalar_one()
        found = self.get(audience_id)
        assert found is not None
        return found

    def get(self, audience_id: int) -> Audience | None:
        row = self._c.execute(select(t.audiences).where(t.audiences.c.id == audience_id)).first()
        return _audience_from(row) if row else None

    def by_name(self, name: str) -> Audience | None:
        row = self._c.execute(select(t.audiences).where(t.audiences.c.name == name)).first()
        return _audience_from(row) if row else None

    def all(self) -> list[Audience]:
        rows = self._c.execute(select(t.audiences).order_by(t.audiences.c.id))
        return [_audience_from(row) for row in rows]

    def members(self, audience_id: int) -> set[int]:
        return set(
            self._c.execute(
                select(t.audience_members.c.lead_id).where(
                    t.audience_members.c.audience_id == audience_id
                )
            ).scalars()
        )

    def update_members(
        self, audience_id: int, added: Collection[int], removed: Collection[int], now: datetime
    ) -> None:
        if removed:
            self._c.execute(
                delete(t.audience_members).where(
                    t.audience_members.c.audience_id == audience_id,
                    t.audience_members.c.lead_id.in_(sorted(removed)),
                )
            )
        if added:
            self._c.execute(
                insert(t.audience_members),
                [{"audience_id": audience_id, "lead_id": i, "added_at": now} for i in added],
            )
        self._c.execute(
            update(t.audiences).where(t.audiences.c.id == audience_id).values(refreshed_at=now)
        )
