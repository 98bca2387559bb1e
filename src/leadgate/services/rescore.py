"""Rescoring every lead: its state and score rebuilt from the touchpoint log."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from leadgate.services.handlers import handle
from leadgate.services.ports import ModelVersion, UnitOfWork
from leadgate.services.qualification import QualifyStats, active_model, qualify_leads

Progress = Callable[[int, int], None]
"""Called with (leads done, leads in all) as work advances."""


@dataclass(frozen=True, slots=True)
class RescoreResult:
    model_version: int
    rescored: int
    transitions: int


def rescore_all(
    uow: UnitOfWork,
    *,
    now: datetime,
    chunk_size: int = 2000,
    progress: Progress | None = None,
) -> RescoreResult:
    """Rebuild every lead's state and score from the log as of ``now`` and apply the gates.

    Memory stays flat: leads are processed ``chunk_size`` at a time in one transaction.
    """
    with uow:
        active = active_model(uow)
        stats = requalify_all(
            uow, active, now, chunk_size=chunk_size, progress=progress, from_log=True
        )
        uow.commit()
    return RescoreResult(active.version, stats.rescored, stats.transitions)


def requalify_all(
    uow: UnitOfWork,
    active: ModelVersion,
    now: datetime,
    *,
    chunk_size: int,
    progress: Progress | None,
    from_log: bool = False,
) -> QualifyStats:
    """Qualify every lead under ``active`` in chunks inside the caller's transaction, each
    chunk's events handled as it goes (``from_log``: rebuild every state from the log)."""
    total = uow.leads.count()
    stats = QualifyStats()
    for chunk in uow.leads.id_chunks(chunk_size):
        done = qualify_leads(uow, chunk, active, now, from_log=from_log, predict=True)
        handle(uow, done.events, active, now)
        stats += QualifyStats(done.rescored, done.transitions)
        if progress:
            progress(stats.rescored, total)
    return stats
