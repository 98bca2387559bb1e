"""Scratch databases for benchmark runs: a fresh SQLite file or PostgreSQL database each."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

PG_ADMIN = os.environ.get(
    "LEADGATE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def create_database(backend: str) -> str:
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


def drop_database(url: str) -> None:
    """Remove what create_database made."""
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


def populated_run(
    description: str,
    populate: Callable[[str, int], dict[str, int]],
    run: Callable[[str], dict[str, Any]],
) -> tuple[dict[str, Any], bool]:
    """The command line the standalone benchmarks share (``--leads``, ``--backend``,
    ``--json``): a fresh database, populated and timed, ``run`` on it, dropped after.
    Returns the figures and whether they were asked for as JSON (then already printed)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--json", action="store_true", help="Print the figures as JSON.")
    args = parser.parse_args()
    url = create_database(args.backend)
    try:
        setup = time.perf_counter()
        made = populate(url, args.leads)
        setup = time.perf_counter() - setup
        result = {**made, "backend": args.backend, "setup_s": setup, **run(url)}
    finally:
        drop_database(url)
    if args.json:
        print(json.dumps(result, indent=2))
    return result, args.json
