"""The one place that turns settings into engines and units of work.

Nothing connects at import time: the CLI and the API's lifespan call these.
"""

from __future__ import annotations

import gc
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


# Each tracking batch allocates tens of thousands of short-lived objects (rows, touchpoints,
# states); with CPython's default threshold (700) the cyclic collector runs every few
# hundred of them and rescans the long-lived heap (SQLAlchemy, pydantic, the models),
# which measured about 40% of in-process ingest time. Objects alive at start-up are frozen
# out of collection, and the young generation is collected less often.
_GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    """Move what start-up allocated out of the collector's way and collect less often
    (idempotent: one process, one setting)."""
    if gc.get_threshold() != _GC_THRESHOLDS:
        gc.freeze()
        gc.set_threshold(*_GC_THRESHOLDS)


def bootstrap(settings: Settings | None = None, *, check_schema: bool = True) -> App:
    """Given settings, return the wired app; refuse an unmigrated database unless told not to.

    Every long-running entry point (serve, worker, CLI commands) comes through here, so the
    process's garbage collector is tuned here too (``tune_gc``)."""
    tune_gc()
    settings = settings or Settings()
    engine = build_engine(settings.database_url, echo=settings.echo_sql)
    if check_schema:
        require_current(engine)
    return App(settings, engine)
