"""The SQL unit of work: one connection, one transaction, the repositories bound to it."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from leadgate.adapters.db.keys import SqlApiKeyRepository
from leadgate.adapters.db.merges import SqlLeadMergeRepository
from leadgate.adapters.db.repositories import (
    SqlAccountRepository,
    SqlLeadRepository,
    SqlModelRepository,
    SqlScoreRepository,
    SqlTouchpointRepository,
    SqlTransitionRepository,
)
from leadgate.services.errors import ConcurrentUpdate

# PostgreSQL SQLSTATEs that mean "lost a race, try again": serialization failure, deadlock.
_RETRYABLE = {"40001", "40P01"}


class SqlUnitOfWork:
    """``with SqlUnitOfWork(engine) as uow: ...; uow.commit()``; no commit means rollback."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Connection | None = None

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            raise RuntimeError("the unit of work is not open: use it in a `with` block")
        return self._connection

    def __enter__(self) -> Self:
        connection = self._engine.connect()
        connection.begin()
        self._connection = connection
        self.accounts = SqlAccountRepository(connection)
        self.leads = SqlLeadRepository(connection)
        self.touchpoints = SqlTouchpointRepository(connection)
        self.scores = SqlScoreRepository(connection)
        self.transitions = SqlTransitionRepository(connection)
        self.models = SqlModelRepository(connection)
        self.keys = SqlApiKeyRepository(connection)
        self.merges = SqlLeadMergeRepository(connection)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection = self.connection
        try:
            if connection.in_transaction():
                connection.rollback()
        finally:
            connection.close()
            self._connection = None
        if isinstance(exc, IntegrityError) or (
            isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) in _RETRYABLE
        ):
            # A unique key another writer took first (say, the same new email at once):
            # the use case is idempotent, so the caller may run it again.
            raise ConcurrentUpdate(f"concurrent update, retry: {exc.orig}") from exc

    def commit(self) -> None:
        # SQLAlchemy begins a new transaction by itself on the next statement.
        self.connection.commit()

    def rollback(self) -> None:
        self.connection.rollback()
