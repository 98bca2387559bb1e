"""``make bench``: ingest and rescore throughput on SQLite and PostgreSQL.

Each measurement runs in a fresh subprocess so its peak memory (max RSS) is its own.
``python -m benchmarks --leads 10000 --touchpoints 100000`` runs a smaller version.
``python -m benchmarks --http`` measures ingestion over HTTP instead: Segment-shaped
batches posted to ``leadgate serve`` (see benchmarks/http_ingest.py).
``python -m benchmarks --handoff`` measures event-to-alert latency: from the tracking
request that makes a lead sales-ready returning 200 to its signed webhook arriving at a
local receiver, with ``leadgate worker`` running (see benchmarks/handoff_latency.py).
``python -m benchmarks --dashboard`` times each dashboard page on the 20,000-lead demo
workspace (see benchmarks/dashboard_pages.py).
``python -m benchmarks --analytics --leads 1000000 --touchpoints 20000000`` times the funnel
and attribution queries on a bulk-loaded history (see benchmarks/analytics_queries.py).
``python -m benchmarks --http --history`` measures how HTTP ingestion slows as the same
people's histories grow, against a bare parse-and-append server started in the same run
(see benchmarks/http_history.py and benchmarks/bare_server.py); with ``--ingest-mode
inbox`` it also reports qualified events/s and the qualifier's lag (benchmarks/inbox_lag.py).
``python -m benchmarks --ingest-history`` times ``ingest_touchpoints`` for leads with 1 to
1,000 touchpoints of history (see benchmarks/ingest_history.py).
``python -m benchmarks --refresh --leads 100000`` times what ``leadgate refresh`` runs over
bulk-loaded leads (see benchmarks/refresh_bench.py).
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks import analytics_queries, dashboard_pages, http_history, ingest_history
from benchmarks.databases import create_database, drop_database
from benchmarks.machine import describe, load_average


def _ingest(url: str, leads: int, touchpoints: int, batch: int) -> dict[str, float]:
    """Migrate, activate the default model, ingest the workload through the use case."""
    from benchmarks.workload import END, touchpoint_batches
    from leadgate.adapters.db.engine import build_engine
    from leadgate.adapters.db.migrate import upgrade
    from leadgate.adapters.db.unit_of_work import SqlUnitOfWork
    from leadgate.models import default_model_text
    from leadgate.services.ingest import ingest_touchpoints
    from leadgate.services.models import activate_model

    engine = build_engine(url)
    upgrade(engine)
    activate_model(SqlUnitOfWork(engine), default_model_text(), now=END, actor="bench")
    started = time.perf_counter()
    stored = 0
    for now, items in touchpoint_batches(
        leads=leads, touchpoints=touchpoints, days=90, batch_size=batch
    ):
        stored += ingest_touchpoints(SqlUnitOfWork(engine), items, now=now).stored
    elapsed = time.perf_counter() - started
    engine.dispose()
    return {"stored": stored, "seconds": elapsed, "rate": stored / elapsed}


def _rescore(url: str) -> dict[str, float]:
    """Rebuild every score from the log, as the `leadgate rescore` command does."""
    from benchmarks.workload import END
    from leadgate.adapters.db.engine import build_engine
    from leadgate.adapters.db.unit_of_work import SqlUnitOfWork
    from leadgate.services.rescore import rescore_all

    engine = build_engine(url)
    started = time.perf_counter()
    result = rescore_all(SqlUnitOfWork(engine), now=END)
    elapsed = time.perf_counter() - started
    engine.dispose()
    return {"leads": result.rescored, "seconds": elapsed}


def _in_subprocess(*args: str) -> dict[str, Any]:
    """Run one step in a fresh interpreter so its peak memory is its own."""
    command = [sys.executable, "-m", "benchmarks", *args]
    done = subprocess.run(
        command, capture_output=True, text=True, check=False, cwd=Path(__file__).parent.parent
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def main() -> None:  # noqa: PLR0915 (one flat list of options per benchmark)
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--touchpoints", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=2000, help="touchpoints per ingest call")
    parser.add_argument(
        "--backends",
        help="sqlite,postgresql (default; sqlite alone for --http --history, --ingest-history "
        "and --refresh)",
    )
    parser.add_argument("--step", nargs=2, metavar=("STEP", "URL"), help=argparse.SUPPRESS)
    parser.add_argument("--at", help=argparse.SUPPRESS)  # the refresh step's "now"
    http = parser.add_argument_group("HTTP ingestion (--http)")
    http.add_argument("--http", action="store_true", help="measure POST /v1/batch instead")
    http.add_argument(
        "--workers", help="server processes to try, e.g. 1,2 (default 1,2; 1 with --history)"
    )
    http.add_argument("--senders", type=int, default=8, help="concurrent client threads")
    http.add_argument("--seconds", type=float, default=30.0, help="measured time per run")
    http.add_argument("--warmup", type=float, default=3.0, help="unmeasured start of each run")
    http.add_argument(
        "--people",
        type=int,
        help="distinct people sending (default 20,000; 400 with --history and --ingest-history)",
    )
    http.add_argument(
        "--messages",
        type=int,
        default=100,
        help="messages per request (and touchpoints per call with --ingest-history)",
    )
    http_history.add_arguments(http)
    ingest_history.add_arguments(parser)
    refresh = parser.add_argument_group("scheduled refresh (--refresh)")
    refresh.add_argument(
        "--refresh", action="store_true", help="time what `leadgate refresh` runs over --leads"
    )
    handoff = parser.add_argument_group("event-to-alert latency (--handoff)")
    handoff.add_argument("--handoff", action="store_true", help="measure gate → webhook")
    handoff.add_argument("--handoffs", type=int, default=1000, help="measured handoffs per run")
    handoff.add_argument(
        "--poll", default="0.05", help="leadgate worker --poll seconds to try, e.g. 0.05,0.2"
    )
    handoff.add_argument(
        "--rate", type=float, default=5.0, help="leads sent per second (0: as fast as possible)"
    )
    handoff.add_argument("--handoff-senders", type=int, default=4, help="concurrent client threads")
    handoff.add_argument("--handoff-warmup", type=int, default=10, help="unmeasured first leads")
    handoff.add_argument(
        "--grace", type=float, default=60.0, help="seconds to wait for the last alerts"
    )
    analytics_queries.add_arguments(parser)
    dashboard_pages.add_arguments(parser)
    args = parser.parse_args()
    history = args.history or args.ingest_history
    args.people = args.people or (400 if history else 20_000)
    args.workers = args.workers or ("1" if args.history else "1,2")
    args.backends = args.backends or ("sqlite" if history or args.refresh else "sqlite,postgresql")

    if args.analytics:
        sys.exit(analytics_queries.run(args))
    if args.dashboard:
        sys.exit(dashboard_pages.run(args))
    if args.http and args.history:
        sys.exit(http_history.run(args))
    if args.http:
        _http(args)
        return
    if args.handoff:
        sys.exit(_handoff(args))
    if args.ingest_history:
        sys.exit(ingest_history.run(args))
    if args.refresh:
        sys.exit(_refresh(args))

    if args.step:  # internal: one step in this process, figures as JSON on stdout
        step, url = args.step
        figures: dict[str, Any]
        if step == "ingest":
            figures = _ingest(url, args.leads, args.touchpoints, args.batch)
        elif step == "refresh":
            from benchmarks.refresh_bench import time_refresh

            figures = time_refresh(url, datetime.fromisoformat(args.at))
        else:
            figures = _rescore(url)
        figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(figures))
        return

    console = Console(width=150)
    console.print(f"machine: {describe()}")
    console.print(
        f"workload: {args.touchpoints:,} touchpoints for {args.leads:,} leads over "
        f"90 days, ingested in batches of {args.batch:,}; default scoring model"
    )
    table = Table(
        "backend",
        "ingest rate",
        "ingest time",
        "ingest peak RSS",
        "full rescore",
        "rescore peak RSS",
        caption="targets: ingest ≥ 20,000 touchpoints/s; rescore of 100k leads "
        "with 1M touchpoints ≤ 20 s and ≤ 1 GB",
    )
    sizes = [
        "--leads",
        str(args.leads),
        "--touchpoints",
        str(args.touchpoints),
        "--batch",
        str(args.batch),
    ]
    for backend in args.backends.split(","):
        console.print(f"running {backend} ...")
        url = create_database(backend)
        try:
            ingest = _in_subprocess(*sizes, "--step", "ingest", url)
            rescore = _in_subprocess(*sizes, "--step", "rescore", url)
        except RuntimeError as exc:
            console.print(f"[red]{backend} failed:[/]\n{exc}")
            continue
        finally:
            drop_database(url)
        table.add_row(
            backend,
            f"{ingest['rate']:,.0f} touchpoints/s",
            f"{ingest['seconds']:.1f} s",
            f"{ingest['peak_rss_mb']:,.0f} MB",
            f"{rescore['seconds']:.1f} s ({rescore['leads']:,.0f} leads)",
            f"{rescore['peak_rss_mb']:,.0f} MB",
        )
    console.print(table)


def _refresh(args: argparse.Namespace) -> int:
    """Bulk-load ``--leads`` leads per back end, then time `leadgate refresh`'s use case
    twice, each in its own process: with no stored scores yet, and a day later."""
    from benchmarks import refresh_bench
    from benchmarks.synthetic import END

    console = Console(width=150)
    console.print(f"machine: {describe()}")
    console.print(f"load average before: {load_average()}")
    console.print(
        f"workload: {args.leads:,} leads with {refresh_bench.TOUCHES[0]}–"
        f"{refresh_bench.TOUCHES[1]} touchpoints each over a year (bulk-loaded); what "
        f"`leadgate refresh` runs ({refresh_bench.refresh_entry()[0]}), in a fresh process, "
        "as of the history's end and a day later; default scoring model"
    )
    table = Table(
        "backend",
        "use case",
        "leads",
        "touchpoints",
        "load",
        "refresh",
        "as of",
        "time",
        "leads/s",
        "transitions",
        "peak RSS",
        caption="first: no lead has a stored score yet; next day: every lead has one",
    )
    problems = 0
    for backend in args.backends.split(","):
        console.print(f"running {backend} ...")
        url = create_database(backend)
        try:
            started = time.perf_counter()
            made = refresh_bench.populate(url, args.leads)
            load = time.perf_counter() - started
            runs = [("first", END), ("next day", END + timedelta(days=1))]
            for name, at in runs:
                figures = _in_subprocess("--step", "refresh", url, "--at", at.isoformat())
                table.add_row(
                    backend,
                    str(figures["entry"]),
                    f"{made['leads']:,}",
                    f"{made['touchpoints']:,}",
                    f"{load:.1f} s",
                    name,
                    f"{at:%Y-%m-%d}",
                    f"{figures['seconds']:.1f} s",
                    f"{figures['leads'] / figures['seconds']:,.0f}",
                    f"{figures['transitions']:,.0f}",
                    f"{figures['peak_rss_mb']:,.0f} MB",
                )
        except RuntimeError as exc:
            console.print(f"[red]{backend} failed:[/]\n{exc}")
            problems += 1
        finally:
            drop_database(url)
    console.print(table)
    console.print(f"load average after: {load_average()}")
    return 1 if problems else 0


def _http(args: argparse.Namespace) -> None:
    from benchmarks.http_ingest import run_one

    console = Console(width=150)
    console.print(f"machine: {describe()}")
    console.print(
        f"workload: POST /v1/batch, {args.messages} Segment messages per request (page 52 %, "
        f"track 34 %, identify 11 %, group 3 %) from {args.senders} sender threads over "
        f"{args.people:,} people, {args.seconds:g} s measured after {args.warmup:g} s warm-up; "
        "client and server on this machine; default scoring model"
    )
    table = Table(
        "backend",
        "workers",
        "events/s",
        "p50",
        "p99",
        "server peak RSS",
        "transitions",
        "events",
        "failed requests",
        caption="targets: ≥ 10,000 events/s, p99 ≤ 100 ms, server memory ≤ 300 MB; "
        "peak RSS is VmHWM summed over the server's processes (largest one in brackets)",
    )
    for backend in args.backends.split(","):
        for workers in (int(w) for w in args.workers.split(",")):
            console.print(f"running {backend}, {workers} worker(s) ...")
            try:
                result = run_one(
                    backend,
                    workers=workers,
                    senders=args.senders,
                    seconds=args.seconds,
                    warmup=args.warmup,
                    people=args.people,
                    batch=args.messages,
                )
            except RuntimeError as exc:
                console.print(f"[red]{backend} failed:[/]\n{exc}")
                continue
            if result.first_error:
                console.print(f"[yellow]first failed request:[/] {result.first_error}")
            rss = result.server_rss_mb
            table.add_row(
                backend,
                str(workers),
                f"{result.rate:,.0f}",
                f"{result.p50_ms:,.0f} ms",
                f"{result.p99_ms:,.0f} ms",
                f"{sum(rss.values()):,.0f} MB ({max(rss.values(), default=0):,.0f} MB)",
                f"{result.counts['transitions']:,}",
                f"{result.events:,}",
                f"{result.failed:,} of {result.requests:,}",
            )
    console.print(table)


def _handoff(args: argparse.Namespace) -> int:
    """Run every back end and poll interval; return the exit status (1 if an alert is
    missing, a request failed, or anything arrived twice or unsigned)."""
    from benchmarks.handoff_latency import run_one

    console = Console(width=150)
    console.print(f"machine: {describe()}")
    console.print(f"load average before: {load_average()}")
    pace = f"{args.rate:g} leads/s" if args.rate > 0 else "as fast as possible"
    console.print(
        f"workload: {args.handoffs:,} leads (after {args.handoff_warmup} unmeasured), each one "
        "POST /v1/batch with a grade-A identify and a Demo Requested track (skip_to_sql "
        f"fires), sent at {pace} from {args.handoff_senders} threads; leadgate serve (1 "
        "process) and leadgate worker as subprocesses; the signed handoff.created webhook "
        "goes to a receiver in this process; latency = webhook body read − request's 200"
    )
    table = Table(
        "backend",
        "worker poll",
        "handoffs",
        "p50",
        "p95",
        "p99",
        "max",
        "missing",
        "alerts/s",
        "request p50/p99",
        "worker CPU",
        "load after",
        caption="target: p99 ≤ 1 s from the request that crosses the gate returning 200 to "
        "the webhook arriving; alerts/s = measured alerts ÷ (last alert − first 200); worker CPU "
        "= its CPU time ÷ wall time over the run (warm-up, sending, last alerts)",
    )
    problems = 0
    for backend in args.backends.split(","):
        for poll in (float(p) for p in args.poll.split(",")):
            console.print(f"running {backend}, worker poll {poll:g} s ...")
            try:
                result = run_one(
                    backend,
                    handoffs=args.handoffs,
                    poll=poll,
                    rate=args.rate,
                    senders=args.handoff_senders,
                    warmup=args.handoff_warmup,
                    grace=args.grace,
                )
            except RuntimeError as exc:
                console.print(f"[red]{backend} failed:[/]\n{exc}")
                problems += 1
                continue
            problems += result.problems
            if result.problems:
                console.print(
                    f"[red]{backend}: {result.missing} missing, {result.failed_requests} failed "
                    f"requests, {result.duplicates} duplicates, {result.bad_signatures} bad "
                    f"signatures, {result.unexpected} unexpected bodies[/] {result.first_error}"
                )
            console.print(f"database: {result.counts}", highlight=False)
            requests = result.request_seconds
            table.add_row(
                backend,
                f"{poll * 1000:g} ms",
                f"{len(result.latencies):,} of {result.handoffs:,}",
                _ms(result.ms(0.50)),
                _ms(result.ms(0.95)),
                _ms(result.ms(0.99)),
                _ms(result.max_ms),
                f"{result.missing:,}",
                f"{result.alerts_per_second:,.1f}",
                f"{_percentile_ms(requests, 0.50):,.0f} / {_percentile_ms(requests, 0.99):,.0f} ms",
                f"{result.worker_cpu:.0%}",
                load_average(),
            )
    console.print(table)
    return 1 if problems else 0


def _ms(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:,.0f} ms"


def _percentile_ms(ordered: list[float], share: float) -> float:
    from benchmarks.http_ingest import _percentile

    return _percentile(ordered, share) * 1000


if __name__ == "__main__":
    main()
