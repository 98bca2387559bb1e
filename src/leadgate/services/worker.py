"""The background worker's loop: deliver the outbox, watch SLA clocks, drain the inbox,
until told to stop."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from leadgate.services.delivery import Deliver, DeliveryStats, deliver_due
from leadgate.services.inbox_drain import DrainResult
from leadgate.services.ports import UnitOfWork
from leadgate.services.sla_watch import SlaTick, watch_slas


@dataclass
class WorkerTotals:
    ticks: int = 0
    delivered: int = 0
    failed: int = 0
    dead: int = 0
    warned: int = 0
    breached: int = 0
    qualified: int = 0  # inbox calls drained
    parked: int = 0  # inbox calls set aside

    def __add__(self, other: WorkerTotals) -> WorkerTotals:
        return WorkerTotals(
            self.ticks + other.ticks,
            self.delivered + other.delivered,
            self.failed + other.failed,
            self.dead + other.dead,
            self.warned + other.warned,
            self.breached + other.breached,
            self.qualified + other.qualified,
            self.parked + other.parked,
        )


def run_worker(
    uow_factory: Callable[[], UnitOfWork],
    deliver: Deliver,
    now: Callable[[], datetime],
    *,
    should_stop: Callable[[], bool],
    poll_seconds: float = 0.2,
    sla_every_seconds: float = 5.0,
    on_tick: Callable[[DeliveryStats, SlaTick | None], None] | None = None,
    sleep: Callable[[float], object] = time.sleep,
    drain: Callable[[], DrainResult] | None = None,
) -> WorkerTotals:
    """Loop until ``should_stop()``: every ``poll_seconds`` send what is due and, given
    ``drain``, qualify one batch of the inbox; every ``sla_every_seconds`` check SLA
    clocks. A failing round is reported by the exception it raises (the caller decides
    whether to restart), never half-applied: each step is its own transaction."""
    totals = WorkerTotals()
    next_sla = 0.0
    while not should_stop():
        started = time.monotonic()
        tick: SlaTick | None = None
        if started >= next_sla:
            tick = watch_slas(uow_factory(), now=now())
            totals.warned += tick.warned
            totals.breached += tick.breached
            next_sla = started + sla_every_seconds
        stats = deliver_due(uow_factory, deliver, now)
        # One inbox batch a round, so a long backlog never holds deliveries back.
        drained = drain() if drain is not None else DrainResult()
        totals.ticks += 1
        totals.delivered += stats.delivered
        totals.failed += stats.failed
        totals.dead += stats.dead
        totals.qualified += drained.drained
        totals.parked += drained.parked
        if on_tick is not None:
            on_tick(stats, tick)
        # A full batch means more is waiting: go again at once.
        if stats.attempted < 100 and not drained.more:
            sleep(max(0.0, poll_seconds - (time.monotonic() - started)))
    return totals
