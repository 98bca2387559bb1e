"""Refreshing every lead as time passes, from its stored state (the log is not read)."""

from __future__ import annotations

from datetime import datetime

from leadgate.services.ports import UnitOfWork
from leadgate.services.qualification import active_model
from leadgate.services.rescore import Progress, RescoreResult, requalify_all


def refresh_all(
    uow: UnitOfWork,
    *,
    now: datetime,
    chunk_size: int = 2000,
    progress: Progress | None = None,
) -> RescoreResult:
    """Bring every lead's score up to ``now`` from its stored state, without the log: decay,
    expiring look-back windows and ended recycle cool-downs change scores and gates as time
    passes, and the gates they open move leads (with their alerts and handoffs).

    A lead without a state of the active model version is rebuilt from its log once."""
    with uow:
        active = active_model(uow)
        stats = requalify_all(uow, active, now, chunk_size=chunk_size, progress=progress)
        uow.commit()
    return RescoreResult(active.version, stats.rescored, stats.transitions)
