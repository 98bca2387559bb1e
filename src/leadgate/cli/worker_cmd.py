"""``leadgate worker``: delivers the outbox, watches SLA clocks and drains the inbox until
stopped."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from leadgate.cli._common import EXIT_BAD_INPUT, app, err_console, fail, now, print_json

if TYPE_CHECKING:
    from leadgate.services.inbox_drain import DrainResult


def worker(
    poll: Annotated[
        float, typer.Option(help="Seconds between outbox polls when it is empty.")
    ] = 0.2,
    sla_every: Annotated[
        float, typer.Option(help="Seconds between SLA checks (warnings, breaches, queues).")
    ] = 5.0,
    once: Annotated[
        bool, typer.Option("--once", help="Do one round (SLA check and deliveries), then exit.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the totals as JSON.")] = False,
) -> None:
    """Deliver alerts and webhooks with retries, detect SLA warnings and breaches on time,
    give queued handoffs to reps who became free, and qualify what inbox mode captured.
    Ctrl+C or SIGTERM stops it after the message in flight; run several for throughput
    (they never send one message twice at once, and one drains the inbox at a time)."""
    from datetime import timedelta

    from sqlalchemy.exc import DBAPIError

    from leadgate.adapters.notify.dispatch import Dispatcher
    from leadgate.services.inbox_drain import drain_inbox
    from leadgate.services.worker import WorkerTotals, run_worker

    if poll <= 0 or sla_every <= 0:
        fail("--poll and --sla-every must be positive numbers of seconds", EXIT_BAD_INPUT)
    stop = threading.Event()
    rounds = 0

    def should_stop() -> bool:
        return stop.is_set() or (once and rounds >= 1)

    def on_tick(*_: object) -> None:
        nonlocal rounds
        rounds += 1

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    with app() as wired, Dispatcher() as dispatch:
        if not once:
            err_console.print(
                "leadgate worker running: delivering the outbox, watching SLAs, draining the "
                "inbox; Ctrl+C stops",
                highlight=False,
            )
        totals = WorkerTotals()
        config = wired.settings

        def drain() -> DrainResult:
            # Whatever the ingest mode: calls left from a time in inbox mode get qualified.
            return drain_inbox(
                wired.uow_factory,
                now,
                limit=config.inbox_drain_batch,
                keep=timedelta(seconds=config.inbox_keep_seconds),
            )

        try:
            while not should_stop():
                try:
                    totals += run_worker(
                        wired.uow_factory,
                        dispatch,
                        now,
                        should_stop=should_stop,
                        poll_seconds=poll,
                        sla_every_seconds=sla_every,
                        on_tick=on_tick,
                        sleep=stop.wait,
                        drain=drain,
                    )
                except DBAPIError as exc:
                    # The database went away (a restart, a failover): nothing was half
                    # applied, each step is its own transaction. Wait and go on.
                    first = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
                    err_console.print(f"database error, retrying in 5 s: {first}")
                    stop.wait(5.0)
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
    figures = {
        "rounds": totals.ticks,
        "delivered": totals.delivered,
        "failed_attempts": totals.failed,
        "dead": totals.dead,
        "sla_warnings": totals.warned,
        "sla_breaches": totals.breached,
        "inbox_qualified": totals.qualified,
        "inbox_parked": totals.parked,
    }
    if as_json:
        print_json(figures)
    else:
        err_console.print(
            ", ".join(f"{name.replace('_', ' ')} {value}" for name, value in figures.items()),
            highlight=False,
        )


def register(root: typer.Typer) -> None:
    root.command()(worker)
