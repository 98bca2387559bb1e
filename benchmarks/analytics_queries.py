"""Funnel and attribution on 1M leads with 20M touchpoints: ``python -m benchmarks --analytics``.

A two-year synthetic history (benchmarks/analytics_data.py) is bulk-loaded into a fresh
database per back end, then each query runs over a quarter and over a year: **cold** is
the first run on a new engine (a new connection, SQLite's page cache empty; with
``--drop-caches`` the operating system's file cache is emptied first too), **warm** the
median of ``--runs`` more runs on that engine. The target is ≤ 2 s per query.

``--keep DIR`` keeps the populated databases (SQLite under DIR, PostgreSQL as a database
named after the sizes) and reuses them on the next run with the same sizes and seed, so
queries can be iterated on without regenerating 20M rows; ``--drop-kept`` removes them.
The migrations are applied to a reused database first, so new indexes are built there.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Connection

from benchmarks.databases import PG_ADMIN, create_database, drop_database
from benchmarks.machine import describe

TARGET_SECONDS = 2.0
PERIODS = {
    "quarter": (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)),
    "year": (datetime(2025, 6, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC)),
}


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    run: Callable[[Connection, Any], Any]


def cases() -> list[Case]:
    from leadgate.analytics.attribution import AttributionBy, attribution_report
    from leadgate.analytics.dimensions import Dimension
    from leadgate.analytics.funnel_report import funnel_report

    return [
        Case("funnel", funnel_report),
        Case(
            "funnel by source_channel",
            lambda c, p: funnel_report(c, p, by=Dimension.SOURCE_CHANNEL),
        ),
        Case("funnel by month", lambda c, p: funnel_report(c, p, by=Dimension.MONTH)),
        Case("funnel within 30 days", lambda c, p: funnel_report(c, p, within_days=30)),
        Case(
            "funnel by source_channel within 30 days",
            lambda c, p: funnel_report(c, p, by=Dimension.SOURCE_CHANNEL, within_days=30),
        ),
        Case("attribution by channel (6 models)", attribution_report),
        Case(
            "attribution by campaign (6 models)",
            lambda c, p: attribution_report(c, p, by=AttributionBy.CAMPAIGN),
        ),
    ]


@dataclass
class Timing:
    backend: str
    period: str
    case: str
    cold: float
    warm: list[float]
    warm_cpu: list[float]
    result: dict[str, Any]

    @property
    def warm_median(self) -> float:
        return statistics.median(self.warm) if self.warm else float("nan")

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.warm_cpu) if self.warm_cpu else float("nan")


def _cpu_seconds(connection: Connection) -> float:
    """CPU time spent so far by this process and, on PostgreSQL, by the server process
    serving the connection (both on this machine): on a busy machine, wall time measures
    the neighbours too. Parallel workers of PostgreSQL are not counted."""
    spent = time.process_time()
    if connection.dialect.name == "postgresql":
        pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        spent += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return spent


def _drop_caches() -> None:
    """Empty the operating system's page cache (root only): a cold run reads from disk."""
    subprocess.run(["sync"], check=True)
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


def time_queries(
    url: str, backend: str, runs: int, drop_caches: bool, only: set[str] | None
) -> list[Timing]:
    """Each case over each period: cold once on a fresh engine, then ``runs`` warm."""
    from leadgate.adapters.db.engine import build_engine
    from leadgate.analytics.periods import Period

    timings = []
    for period_name, (start, end) in PERIODS.items():
        period = Period(start, end)
        for case in cases():
            if only and case.name not in only:
                continue
            if drop_caches:
                _drop_caches()
            engine = build_engine(url)
            try:
                with engine.connect() as connection:
                    began = time.perf_counter()
                    report = case.run(connection, period)
                    cold = time.perf_counter() - began
                warm, cpu = [], []
                for _ in range(runs):
                    with engine.connect() as connection:
                        spent = _cpu_seconds(connection)
                        began = time.perf_counter()
                        case.run(connection, period)
                        warm.append(time.perf_counter() - began)
                        cpu.append(_cpu_seconds(connection) - spent)
            finally:
                engine.dispose()
            timing = Timing(backend, period_name, case.name, cold, warm, cpu, report.to_json())
            timings.append(timing)
            print(
                f"  {backend} {period_name} {case.name}: cold {cold:.2f} s, warm "
                f"{timing.warm_median:.2f} s, CPU {timing.cpu_median:.2f} s",
                flush=True,
            )
    return timings


def _same(a: Any, b: Any) -> bool:
    """Equal reports, numbers within rounding (each back end sums floats its own way)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float | int) and isinstance(b, float | int):
        return abs(a - b) <= 1e-6 * max(1.0, abs(a), abs(b)) + 0.011  # cents, 4th decimal
    return bool(a == b)


def _kept_sqlite(keep: Path, name: str) -> str:
    keep.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{keep.resolve() / name}.db"


def _kept_postgresql(name: str) -> tuple[str, bool]:
    """The kept database's URL and whether it already holds a finished population."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(make_url(PG_ADMIN), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        comment = connection.execute(
            text(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                "WHERE datname = :name"
            ),
            {"name": name},
        ).first()
        if comment is None:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)
    return url, comment is not None and comment[0] == "populated"


def _mark_populated(url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    if url.startswith("sqlite"):
        Path(url.removeprefix("sqlite:///") + ".populated").touch()
        return
    admin = create_engine(make_url(PG_ADMIN), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"COMMENT ON DATABASE \"{make_url(url).database}\" IS 'populated'"))
    admin.dispose()


def _drop_kept(keep: Path, name: str, console: Console) -> None:
    for suffix in (".db", ".db.populated", ".db-wal", ".db-shm"):
        (keep / f"{name}{suffix}").unlink(missing_ok=True)
    drop_database(make_pg_url(name))
    console.print(f"removed {keep / name}.db and PostgreSQL database {name}")


def make_pg_url(name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``--analytics`` options (``--leads``, ``--touchpoints`` and ``--backends`` are
    shared with the other benchmarks)."""
    group = parser.add_argument_group("funnel and attribution queries (--analytics)")
    group.add_argument("--analytics", action="store_true", help="time the analytics queries")
    group.add_argument("--runs", type=int, default=3, help="warm runs per query (median)")
    group.add_argument("--seed", type=int, default=5, help="seed of the synthetic history")
    group.add_argument("--keep", metavar="DIR", help="keep and reuse the populated databases")
    group.add_argument("--drop-kept", action="store_true", help="remove what --keep kept")
    group.add_argument(
        "--drop-caches", action="store_true", help="empty the OS file cache before cold runs (root)"
    )
    group.add_argument("--only", help="time only these queries, separated by ';'")
    group.add_argument("--json", metavar="FILE", help="also write the timings as JSON")


def run(args: argparse.Namespace) -> int:
    """``--analytics``: populate (or reuse), time, print; 0 when every query ran."""
    from benchmarks.analytics_data import history
    from leadgate.adapters.db.engine import build_engine
    from leadgate.adapters.db.migrate import upgrade

    console = Console(width=160)
    name = f"leadgate_analytics_{args.leads}_{args.touchpoints}_s{args.seed}"
    keep = Path(args.keep) if args.keep else None
    if args.drop_kept:
        _drop_kept(keep or Path("."), name, console)
        return 0
    console.print(f"machine: {describe()}")
    backends = args.backends.split(",")
    urls: dict[str, tuple[str, bool]] = {}
    for backend in backends:
        if keep is None:
            urls[backend] = (create_database(backend), False)
        elif backend == "sqlite":
            url = _kept_sqlite(keep, name)
            urls[backend] = (url, Path(url.removeprefix("sqlite:///") + ".populated").exists())
        else:
            urls[backend] = _kept_postgresql(name)
    timings: list[Timing] = []
    loads: dict[str, float] = {}
    try:
        drawn = None
        for backend in backends:
            url, populated = urls[backend]
            engine = build_engine(url)
            upgrade(engine)  # a kept database gets new migrations (indexes) here
            engine.dispose()
            if not populated:
                if drawn is None:
                    console.print(
                        f"drawing {args.leads:,} leads and {args.touchpoints:,} touchpoints ..."
                    )
                    began = time.perf_counter()
                    drawn = history(args.leads, args.touchpoints, seed=args.seed)
                    loads["draw"] = time.perf_counter() - began
                    console.print(
                        f"drawn in {loads['draw']:.0f} s: {len(drawn.accounts):,} accounts, "
                        f"{len(drawn.transitions):,} transitions, {len(drawn.outcomes):,} outcomes"
                    )
                began = time.perf_counter()
                _load(backend, url, drawn, console)
                loads[backend] = time.perf_counter() - began
                _mark_populated(url)
                console.print(f"{backend} loaded in {loads[backend]:.0f} s")
            console.print(f"timing {backend} (load average {_loadavg()}) ...")
            only = set(args.only.split(";")) if args.only else None
            timings += time_queries(url, backend, args.runs, args.drop_caches, only)
    finally:
        if keep is None:
            for url, _ in urls.values():
                drop_database(url)
    _print(console, args, timings, backends)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                [
                    {
                        "backend": x.backend,
                        "period": x.period,
                        "query": x.case,
                        "cold_s": round(x.cold, 3),
                        "warm_s": [round(w, 3) for w in x.warm],
                        "warm_cpu_s": [round(w, 3) for w in x.warm_cpu],
                    }
                    for x in timings
                ],
                indent=2,
            )
        )
    return 0


def _load(backend: str, url: str, drawn: Any, console: Console) -> None:
    from benchmarks.analytics_data import load_postgresql, load_sqlite

    total = (
        len(drawn.accounts)
        + len(drawn.leads)
        + len(drawn.transitions)
        + len(drawn.outcomes)
        + int(drawn.tp_lead.size)
    )
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as bar:
        task = bar.add_task(f"{backend}: loading", total=total)

        def progress(step: str, rows: int) -> None:
            bar.update(task, advance=rows, description=f"{backend}: {step}")

        if backend == "sqlite":
            load_sqlite(url.removeprefix("sqlite:///"), drawn, progress)
        else:
            load_postgresql(url, drawn, progress)


def _print(
    console: Console, args: argparse.Namespace, timings: list[Timing], backends: list[str]
) -> None:
    cold = "cold (OS cache dropped)" if args.drop_caches else "cold (new connection)"
    table = Table(
        "query",
        "period",
        *(f"{b} {kind}" for b in backends for kind in ("cold", "warm", "warm CPU")),
        "same result",
        title=f"funnel and attribution on {args.leads:,} leads, {args.touchpoints:,} touchpoints",
        caption=f"target ≤ {TARGET_SECONDS:g} s per query; {cold}; warm: median of "
        f"{args.runs}; warm CPU: median CPU seconds of this process and the PostgreSQL server "
        "process (what the query costs on an idle machine, parallel workers aside); quarter = "
        f"Q1 2026, year = 2025-06-01 → 2026-06-01; load average {_loadavg()}\n{describe()}",
    )
    by_key = {(x.backend, x.period, x.case): x for x in timings}
    for period in PERIODS:
        for case in cases():
            row = [case.name, period]
            found = [by_key.get((b, period, case.name)) for b in backends]
            if not any(found):
                continue
            for x in found:
                if x is None:
                    row += ["—", "—", "—"]
                    continue
                row += [_seconds(x.cold), _seconds(x.warm_median), _seconds(x.cpu_median)]
            results = [x.result for x in found if x is not None]
            row.append(
                "—"
                if len(results) < 2
                else "yes"
                if _same(results[0], results[1])
                else "[red]NO[/]"
            )
            table.add_row(*row)
    console.print(table)


def _loadavg() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _seconds(value: float) -> str:
    text = f"{value:.2f} s"
    return text if value <= TARGET_SECONDS else f"[red]{text}[/]"
