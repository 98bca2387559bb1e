"""``leadgate inbox``: what inbox mode captured and the qualifier has not yet qualified."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer
from rich.table import Table

from leadgate.cli._common import EXIT_BAD_INPUT, console, fail, now, print_json
from leadgate.cli._common import app as wired_app

app = typer.Typer(
    help="The inbox of LEADGATE_INGEST_MODE=inbox: backlog, parked calls, draining.",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _seconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 1000:,.0f} ms" if value < 10 else f"{value:,.1f} s"


@app.command()
def status(as_json: JsonOption = False) -> None:
    """Calls waiting and since when, calls parked, and the last drained calls' lag."""
    from leadgate.services.inbox import inbox_status

    with wired_app() as wired:
        settings = wired.settings
        facts = inbox_status(wired.uow(), now=now(), max_backlog=settings.inbox_max_backlog)
    if as_json:
        print_json({"ingest_mode": settings.ingest_mode, **asdict(facts)})
        return
    limit = f"{facts.max_backlog:,}" if facts.max_backlog else "no limit"
    console.print(
        f"ingest mode {settings.ingest_mode}; backlog {facts.backlog:,} calls (capture "
        f"refuses at {limit}), oldest waiting {_seconds(facts.oldest_age_seconds)}; "
        f"parked {facts.parked:,}",
        highlight=False,
    )
    if facts.recent_drained:
        console.print(
            f"last {facts.recent_drained:,} drained: lag p50 {_seconds(facts.lag_p50_seconds)}, "
            f"p99 {_seconds(facts.lag_p99_seconds)} (received → qualified)",
            highlight=False,
        )


@app.command()
def parked(
    after: Annotated[int, typer.Option(help="Show calls with an id above this.")] = 0,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """Calls the qualifier set aside (they could not be rebuilt or were refused), oldest
    first, with the reason; the calls behind them were qualified."""
    from leadgate.services.inbox import parked_calls

    if limit < 1 or after < 0:
        fail("--limit must be at least 1 and --after at least 0", EXIT_BAD_INPUT)
    with wired_app() as wired:
        found = parked_calls(wired.uow(), after_id=after, limit=limit)
    if as_json:
        print_json(found)
        return
    if not found:
        console.print("no parked calls", highlight=False)
        return
    table = Table("id", "message id", "received", "parked", "reason")
    for call in found:
        table.add_row(
            str(call.id),
            call.message_id,
            f"{call.received_at:%Y-%m-%d %H:%M:%S}",
            f"{call.parked_at:%Y-%m-%d %H:%M:%S}",
            call.reason,
        )
    console.print(table)


@app.command()
def drain(as_json: JsonOption = False) -> None:
    """Qualify every waiting call now, batch after batch, then print what was done (a
    running qualifier elsewhere drains at the same time without a call done twice)."""
    from datetime import timedelta

    from leadgate.services.inbox_drain import DrainResult, drain_inbox

    total = DrainResult()
    with wired_app() as wired:
        settings = wired.settings
        while True:
            result = drain_inbox(
                wired.uow_factory,
                now,
                limit=settings.inbox_drain_batch,
                keep=timedelta(seconds=settings.inbox_keep_seconds),
            )
            total += result
            if not result.more:
                break
    figures = {
        "drained": total.drained,
        "parked": total.parked,
        "stored": total.stored,
        "duplicates": total.duplicates,
        "leads_rescored": total.leads_rescored,
        "transitions": total.transitions,
        "transactions": total.transactions,
    }
    if as_json:
        print_json(figures)
        return
    console.print(
        ", ".join(f"{name.replace('_', ' ')} {value:,}" for name, value in figures.items()),
        highlight=False,
    )
