"""The SQL unit of work: one connection, one transaction, the repositories bound to it."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Self

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from leadgate.adapters.db.audiences import SqlAudienceRepository
from leadgate.adapters.db.engine import writer_lock
from leadgate.adapters.db.handoffs import SqlConfigRepository, SqlHandoffRepository
from leadgate.adapters.db.inbox import SqlInboxRepository
from leadgate.adapters.db.keys import SqlApiKeyRepository
from leadgate.adapters.db.merges import SqlLeadMergeRepository
from leadgate.adapters.db.outbox import SqlOutboxRepository
from leadgate.adapters.db.predictive import SqlPredictiveRepository
from leadgate.adapters.db.repositories import (
    SqlAccountRepository,
    SqlLeadRepository,
    SqlLeadStateRepository,
    SqlModelRepository,
    SqlScoreRepository,
    SqlTouchpointRepository,
    SqlTransitionRepository,
)
from leadgate.adapters.db.users import SqlUserRepository
from leadgate.services.errors import ConcurrentUpdate

# PostgreSQL SQLSTATEs that mean "lost a race, try again": serialization failure, deadlock.
_RETRYABLE = {"40001", "40P01"}
# As long as SQLite's own busy timeout: a writer waiting longer is stuck, not queued.
_WRITER_WAIT = 30.0


class SqlUnitOfWork:
    """``with SqlUnitOfWork(engine) as uow: ...; uow.commit()``; no commit means rollback.

    Re-entrant: a use case handed a unit of work that is already open joins its
    transaction; its own ``with`` and ``commit`` then do nothing and the outermost block
    decides. That is how an import runs several use cases as one all-or-nothing change.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Connection | None = None
        self._depth = 0
        self._held: threading.Lock | None = None

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            raise RuntimeError("the unit of work is not open: use it in a `with` block")
        return self._connection

    def __enter__(self) -> Self:
        self._depth += 1
        if self._depth > 1:
            return self
        lock = writer_lock(self._engine)
        if lock is not None and not lock.acquire(timeout=_WRITER_WAIT):
            self._depth -= 1
            raise ConcurrentUpdate(
                f"the database is busy: another writer held it for {_WRITER_WAIT:.0f} s"
            )
        self._held = lock
        try:
            connection = self._engine.connect()
            connection.begin()
        except BaseException:
            self._depth -= 1
            self._release()
            raise
        self._connection = connection
        self.accounts = SqlAccountRepository(connection)
        self.leads = SqlLeadRepository(connection)
        self.touchpoints = SqlTouchpointRepository(connection)
        self.scores = SqlScoreRepository(connection)
        self.lead_states = SqlLeadStateRepository(connection)
        self.transitions = SqlTransitionRepository(connection)
        self.models = SqlModelRepository(connection)
        self.keys = SqlApiKeyRepository(connection)
        self.merges = SqlLeadMergeRepository(connection)
        self.handoffs = SqlHandoffRepository(connection)
        self.configs = SqlConfigRepository(connection)
        self.outbox = SqlOutboxRepository(connection)
        self.audiences = SqlAudienceRepository(connection)
        self.predictive = SqlPredictiveRepository(connection)
        self.users = SqlUserRepository(connection)
        self.inbox = SqlInboxRepository(connection)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._depth -= 1
        if self._depth > 0:
            return  # an inner use case: the outermost block commits or rolls back
        connection = self.connection
        try:
            if connection.in_transaction():
                connection.rollback()
        finally:
            connection.close()
            self._connection = None
            self._release()
        if isinstance(exc, IntegrityError) or (
            isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) in _RETRYABLE
        ):
            # A unique key another writer took first (say, the same new email at once):
            # the use case is idempotent, so the caller may run it again.
            raise ConcurrentUpdate(f"concurrent update, retry: {exc.orig}") from exc

    def _release(self) -> None:
        if self._held is not None:
            self._held.release()
            self._held = None

    def commit(self) -> None:
        if self._depth > 1:
            return
        # SQLAlchemy begins a new transaction by itself on the next statement.
        self.connection.commit()

    def rollback(self) -> None:
        self.connection.rollback()
