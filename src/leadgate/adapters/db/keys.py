"""Storing API keys (hashed) and finding a key by its hash."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from leadgate.adapters.db.tables import api_keys
from leadgate.domain.keys import ApiKey, KeyKind, Scope


def _key_from(row: Row[Any]) -> ApiKey:
    return ApiKey(
        id=row.id,
        name=row.name,
        kind=KeyKind(row.kind),
        prefix=row.prefix,
        scopes=frozenset(Scope(s) for s in row.scopes.split(",")),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


class SqlApiKeyRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(
        self,
        *,
        name: str,
        kind: KeyKind,
        prefix: str,
        key_hash: str,
        scopes: frozenset[Scope],
        now: datetime,
    ) -> ApiKey:
        ordered = ",".join(s.value for s in Scope if s in scopes)
        key_id = self._c.execute(
            insert(api_keys)
            .values(
                name=name,
                kind=kind.value,
                prefix=prefix,
                key_hash=key_hash,
                scopes=ordered,
                created_at=now,
            )
            .returning(api_keys.c.id)
        ).scalar_one()
        return ApiKey(key_id, name, kind, prefix, scopes, now)

    def by_hash(self, key_hash: str) -> ApiKey | None:
        row = self._c.execute(select(api_keys).where(api_keys.c.key_hash == key_hash)).first()
        return _key_from(row) if row else None

    def all(self) -> list[ApiKey]:
        rows = self._c.execute(select(api_keys).order_by(api_keys.c.id))
        return [_key_from(row) for row in rows]

    def revoke(self, key_id: int, now: datetime) -> ApiKey | None:
        self._c.execute(
            update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        row = self._c.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
        return _key_from(row) if row else None
