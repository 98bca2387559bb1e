"""``make bench``: ingest and rescore throughput on SQLite and PostgreSQL.

Each measurement runs in a fresh subprocess so its peak memory (max RSS) is its own.
``python -m benchmarks --leads 10000 --touchpoints 100000`` runs a smaller version.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks.machine import describe

PG_ADMIN = os.environ.get(
    "LEADGATE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _create_database(backend: str) -> str:
    """A fresh, empty database for one benchmark run; returns its URL."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    if backend == "sqlite":
        return f"sqlite:///{tempfile.mkdtemp(prefix='leadgate-bench-')}/bench.db"
    name = f"leadgate_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(make_url(PG_ADMIN), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)


def _drop_database(url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    if url.startswith("sqlite"):
        shutil.rmtree(Path(url.removeprefix("sqlite:///")).parent, ignore_errors=True)
        return
    admin = create_engine(make_url(PG_ADMIN), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        name = make_url(url).database
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


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


def _in_subprocess(*args: str) -> dict[str, float]:
    """Run one step in a fresh interpreter so its peak memory is its own."""
    command = [sys.executable, "-m", "benchmarks", *args]
    done = subprocess.run(
        command, capture_output=True, text=True, check=False, cwd=Path(__file__).parent.parent
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--touchpoints", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=2000, help="touchpoints per ingest call")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--step", nargs=2, metavar=("STEP", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.step:  # internal: one step in this process, figures as JSON on stdout
        step, url = args.step
        figures = (
            _ingest(url, args.leads, args.touchpoints, args.batch)
            if step == "ingest"
            else _rescore(url)
        )
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
        url = _create_database(backend)
        try:
            ingest = _in_subprocess(*sizes, "--step", "ingest", url)
            rescore = _in_subprocess(*sizes, "--step", "rescore", url)
        except RuntimeError as exc:
            console.print(f"[red]{backend} failed:[/]\n{exc}")
            continue
        finally:
            _drop_database(url)
        table.add_row(
            backend,
            f"{ingest['rate']:,.0f} touchpoints/s",
            f"{ingest['seconds']:.1f} s",
            f"{ingest['peak_rss_mb']:,.0f} MB",
            f"{rescore['seconds']:.1f} s ({rescore['leads']:,.0f} leads)",
            f"{rescore['peak_rss_mb']:,.0f} MB",
        )
    console.print(table)


if __name__ == "__main__":
    main()
