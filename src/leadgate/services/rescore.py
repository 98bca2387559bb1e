"""Rescoring from the touchpoint log: all leads, or only those decay can still change."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

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
    """Rebuild every lead's current score from the log as of ``now`` and apply the gates.

    This is also the scheduled decay refresh: decay, expiring look-back windows and ended
    recycle cool-downs all change scores and gates as time passes, and recomputing from
    the log is the one way that is always right. Memory stays flat: leads are processed
    ``chunk_size`` at a time in one transaction.
    """
    with uow:
        active = active_model(uow)
        stats = requalify_all(uow, active, now, chunk_size=chunk_size, progress=progress)
        uow.commit()
    return RescoreResult(active.version, stats.rescored, stats.transitions)


def requalify_all(
    uow: UnitOfWork,
    active: ModelVersion,
    now: datetime,
    *,
    chunk_size: int,
    progress: Progress | None,
) -> QualifyStats:
    """Rescore every lead under ``active`` in chunks, inside the caller's transaction."""
    total = uow.leads.count()
    stats = QualifyStats()
    for chunk in uow.leads.id_chunks(chunk_size):
        stats += qualify_leads(uow, chunk, active, now)
        if progress:
            progress(stats.rescored, total)
    return stats
