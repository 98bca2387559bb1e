"""The one place that turns settings into engines and units of work.

Nothing connects at import time: the CLI (and later the API's lifespan) call these.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine

from leadgate.adapters.db.engine import build_engine
from leadgate.adapters.db.migrate import require_current
from leadgate.adapters.db.unit_of_work import SqlUnitOfWork
from leadgate.config import Settings


@dataclass(frozen=True)
class App:
    """The wired application: an engine and a factory of units of work on it."""

    settings: Settings
    engine: Engine

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine)

    @property
    def uow_factory(self) -> Callable[[], SqlUnitOfWork]:
        return self.uow


def bootstrap(settings: Settings | None = None, *, check_schema: bool = True) -> App:
    """Given settings, return the wired app; refuse an unmigrated database unless told not to."""
    settings = settings or Settings()
    engine = build_engine(settings.database_url, echo=settings.echo_sql)
    if check_schema:
        require_current(engine)
    return App(settings, engine)
