"""In-process ingestion against leads with a history (``python -m benchmarks --ingest-history``).

For each history length (``--lengths``, by default 1, 50, 200 and 1000 touchpoints per
lead) and back end: a fresh database with the default model active; ``--people`` leads
(400) created through ``ingest_touchpoints`` with one page view each (so their identities
are real), the rest of each lead's history appended with plain INSERTs (page views spread
over the 90 days before, interleaved across leads in time order as a live feed stores
them, categorised by the model's URL patterns as ingest would), then ``rescore_all`` once
so every lead's stored score (and whatever derived state the write side keeps) is
current. Not timed. The number of leads is the same at every length, so the lengths
differ in history only (the h × leads rows of the longest one are what makes the run
long: ``--people 100`` builds 100,000 rows for history 1000).

Timed: rounds in which every lead gets one more page view, in batches of ``--messages``
(100) touchpoints for different leads, each batch one ``ingest_touchpoints`` call:
identity resolution, the append, scoring and gates. Rounds go on until
``--ingest-seconds`` (1 s) have passed, at least one and at most ``--ingest-rounds``
(10), so a fast short history is still timed over thousands of touchpoints; the
"history" column shows the range the leads had while timed. The figures are touchpoints
stored per second inside the ``ingest_touchpoints`` calls, of wall time and of this
process's CPU time (on PostgreSQL the server's CPU is not in it), and the time per call.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from benchmarks import synthetic
from benchmarks.databases import create_database, drop_database
from benchmarks.http_ingest import PAGE_WEIGHTS, PAGES, _percentile, page_fields, page_properties
from benchmarks.machine import describe, load_average
from benchmarks.synthetic import END

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from leadgate.services.commands import TouchpointIn

TARGET = 30_000  # touchpoints/s at any history length
_HISTORY_DAYS = 90


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("ingestion by history length (--ingest-history)")
    group.add_argument(
        "--ingest-history",
        action="store_true",
        help="time ingest_touchpoints for leads that already have --lengths touchpoints",
    )
    group.add_argument(
        "--lengths", default="1,50,200,1000", help="touchpoints per lead before the timed rounds"
    )
    group.add_argument(
        "--ingest-seconds",
        type=float,
        default=1.0,
        help="timed rounds go on at least this long (one touchpoint per lead each)",
    )
    group.add_argument(
        "--ingest-rounds", type=int, default=10, help="at most this many timed rounds"
    )


@dataclass(frozen=True, slots=True)
class HistoryFigures:
    backend: str
    history: int
    leads: int
    rounds: int
    stored: int
    seconds: float
    cpu_seconds: float
    batch_seconds: list[float]
    setup_seconds: float

    @property
    def rate(self) -> float:
        return self.stored / self.seconds if self.seconds else 0.0

    @property
    def cpu_rate(self) -> float:
        return self.stored / self.cpu_seconds if self.cpu_seconds else 0.0


def _page(rng: random.Random, message_id: str, person: int, at: datetime) -> TouchpointIn:
    from leadgate.services.commands import TouchpointIn

    return TouchpointIn(
        message_id=message_id,
        name="page_view",
        occurred_at=at,
        properties=page_fields(rng)["properties"],
        user_id=f"user-{person}",
        anonymous_id=f"anon-{person}",
    )


def _ingest_round(
    engine: Engine, rng: random.Random, round_: int, people: int, batch: int, at: datetime
) -> tuple[list[int], list[float], float]:
    """One page view for each person, ``batch`` people per ``ingest_touchpoints`` call;
    return the leads touched, the wall time of each call and their CPU time together
    (the touchpoints are made before each call's clock starts)."""
    from leadgate.adapters.db.unit_of_work import SqlUnitOfWork
    from leadgate.services.ingest import ingest_touchpoints

    leads: list[int] = []
    seconds: list[float] = []
    cpu = 0.0
    for start in range(0, people, batch):
        items = [
            _page(rng, f"r{round_}-{person}", person, at)
            for person in range(start, min(start + batch, people))
        ]
        began, cpu_began = time.perf_counter(), time.process_time()
        result = ingest_touchpoints(SqlUnitOfWork(engine), items, now=at)
        seconds.append(time.perf_counter() - began)
        cpu += time.process_time() - cpu_began
        leads.extend(result.lead_ids)
    return leads, seconds, cpu


def _append_history(
    engine: Engine,
    rng: random.Random,
    lead_ids: list[int],
    count: int,
    first: datetime,
    last: datetime,
) -> None:
    """``count`` more page views per lead between ``first`` and ``last``, in time order
    across the leads, as plain INSERTs (properties as ingest would store them)."""
    from leadgate.adapters.db import tables as t
    from leadgate.adapters.model_yaml import load_model
    from leadgate.domain.touchpoints import classify
    from leadgate.models import default_model_text

    model = load_model(default_model_text(), "default.yaml")
    stored = [
        classify("page_view", page_properties(path, title), model.aliases, model.page_categories)
        for path, title, _ in PAGES
    ]
    picks = iter(rng.choices(range(len(stored)), PAGE_WEIGHTS, k=count * len(lead_ids)))
    step = (last - first) / (count + 1)
    rows: list[dict[str, Any]] = []
    for k in range(count):
        at = first + step * (k + 1)
        for lead_id in lead_ids:
            name, properties = stored[next(picks)]
            when = at + timedelta(seconds=rng.random() * 60)
            rows.append(synthetic.touchpoint(len(rows) + 1, lead_id, name, when, properties))
    synthetic.insert(engine, [(t.touchpoints, rows)])


def measure(
    backend: str, history: int, *, people: int, batch: int, seconds: float, rounds: int
) -> HistoryFigures:
    """Build ``people`` leads with ``history`` touchpoints each, then time rounds for at
    least ``seconds`` (at most ``rounds`` of them)."""
    from leadgate.adapters.db.unit_of_work import SqlUnitOfWork
    from leadgate.services.rescore import rescore_all

    rng = random.Random(history)
    url = create_database(backend)
    try:
        setup = time.perf_counter()
        engine = synthetic.prepared(url)
        first = END - timedelta(days=_HISTORY_DAYS)
        lead_ids, _, _ = _ingest_round(engine, rng, 0, people, batch, first)
        if history > 1:
            _append_history(engine, rng, lead_ids, history - 1, first, END)
        rescore_all(SqlUnitOfWork(engine), now=END)
        setup = time.perf_counter() - setup
        batch_seconds: list[float] = []
        done, cpu = 0, 0.0
        while done < rounds and (done == 0 or sum(batch_seconds) < seconds):
            done += 1
            at = END + timedelta(minutes=done)
            _, timed, timed_cpu = _ingest_round(engine, rng, done, people, batch, at)
            batch_seconds += timed
            cpu += timed_cpu
        engine.dispose()
    finally:
        drop_database(url)
    return HistoryFigures(
        backend=backend,
        history=history,
        leads=people,
        rounds=done,
        stored=people * done,
        seconds=sum(batch_seconds),
        cpu_seconds=cpu,
        batch_seconds=sorted(batch_seconds),
        setup_seconds=setup,
    )


def run(args: argparse.Namespace) -> int:
    console = Console(width=150)
    lengths = [int(n) for n in args.lengths.split(",")]
    people, batch = args.people, args.messages
    console.print(f"machine: {describe()}")
    console.print(f"load average before: {load_average()}")
    console.print(
        f"workload: {people:,} leads with N touchpoints each (page views over "
        f"{_HISTORY_DAYS} days), then rounds of one page view per lead for at least "
        f"{args.ingest_seconds:g} s (1 to {args.ingest_rounds} rounds), {batch} per "
        "ingest_touchpoints call; default scoring model; in this process"
    )
    table = Table(
        "backend",
        "history",
        "leads",
        "timed touchpoints",
        "touchpoints/s",
        "per CPU second",
        "call p50",
        "call p99",
        "setup",
        caption=f"target: ≥ {TARGET:,} touchpoints/s at any history length; history = "
        "touchpoints each lead had before its timed ones (each round adds one); per CPU "
        "second: this process only (on PostgreSQL the server's CPU is left out)",
    )
    results: list[HistoryFigures] = []
    for backend in args.backends.split(","):
        for history in lengths:
            console.print(f"running {backend}, history {history:,} ...")
            try:
                result = measure(
                    backend,
                    history,
                    people=people,
                    batch=batch,
                    seconds=args.ingest_seconds,
                    rounds=args.ingest_rounds,
                )
            except Exception as exc:  # one failed run must not hide the others
                console.print(f"[red]{backend}, history {history} failed:[/] {exc!r}")
                continue
            results.append(result)
            table.add_row(
                backend,
                f"{history:,}" + (f"–{history + result.rounds - 1:,}" if result.rounds > 1 else ""),
                f"{result.leads:,}",
                f"{result.stored:,}",
                f"{result.rate:,.0f}",
                f"{result.cpu_rate:,.0f}",
                f"{statistics.median(result.batch_seconds) * 1000:,.0f} ms",
                f"{_percentile(result.batch_seconds, 0.99) * 1000:,.0f} ms",
                f"{result.setup_seconds:.1f} s",
            )
    console.print(table)
    console.print(f"load average after: {load_average()}")
    for backend in args.backends.split(","):
        mine = [r for r in results if r.backend == backend]
        if len(mine) >= 2:
            shortest, longest = mine[0], mine[-1]
            console.print(
                f"{backend}: history {longest.history:,} ÷ history {shortest.history:,} = "
                f"{longest.rate / shortest.rate:.2f} (touchpoints/s)",
                highlight=False,
            )
    return 0 if len(results) == len(lengths) * len(args.backends.split(",")) else 1
