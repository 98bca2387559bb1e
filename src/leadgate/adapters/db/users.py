"""Storing dashboard users (with password hashes) and finding them by id or name."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from leadgate.adapters.db.tables import users
from leadgate.domain.users import Role, User


def _user_from(row: Row[Any]) -> User:
    return User(
        id=row.id,
        username=row.username,
        role=Role(row.role),
        created_at=row.created_at,
        rep=row.rep,
        disabled=row.disabled,
    )


class SqlUserRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(
        self, *, username: str, password_hash: str, role: Role, rep: str | None, now: datetime
    ) -> User:
        user_id = self._c.execute(
            insert(users)
            .values(
                username=username,
                password_hash=password_hash,
                role=role.value,
                rep=rep,
                created_at=now,
                disabled=False,
            )
            .returning(users.c.id)
        ).scalar_one()
        return User(user_id, username, role, now, rep)

    def get(self, user_id: int) -> User | None:
        row = self._c.execute(select(users).where(users.c.id == user_id)).first()
        return _user_from(row) if row else None

    def by_name(self, username: str) -> tuple[User, str] | None:
        """The user and their stored password hash."""
        row = self._c.execute(select(users).where(users.c.username == username)).first()
        return (_user_from(row), row.password_hash) if row else None

    def all(self) -> list[User]:
        return [_user_from(row) for row in self._c.execute(select(users).order_by(users.c.id))]

    def set_disabled(self, user_id: int, disabled: bool) -> User | None:
        self._c.execute(update(users).where(users.c.id == user_id).values(disabled=disabled))
        return self.get(user_id)

    def set_password(self, user_id: int, password_hash: str) -> None:
        self._c.execute(
            update(users).where(users.c.id == user_id).values(password_hash=password_hash)
        )
