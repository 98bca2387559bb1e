"""Inbox mode for ``python -m benchmarks --http --history --ingest-mode inbox``.

The server captures (a request is answered once its calls are in the inbox) and its
qualifier thread drains the inbox; what counts is how fast events are *qualified*. Drained
calls are kept for the run (``LEADGATE_INBOX_KEEP_SECONDS``), so each one's received and
drained times are in the database. Per band: qualified events ÷ (the band's last drain
commit − its first call's arrival, both by the server's clock), and the lag from arrival
to drain commit (p50, p99), which is how long a call waits for its stored score. Each
band starts once every earlier call is qualified, so its time holds its own calls only.
While the rounds are sent, ``GET /v1/admin/inbox`` is polled to show the backlog stays
bounded (its largest value, and the oldest waiting call's largest age).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import httpx
from rich.console import Console
from rich.table import Table

from benchmarks.http_ingest import LEADGATE, _leadgate, _percentile

MODES = ("inline", "inbox")
_ROUND = re.compile(r"^h(\d+)-")
POLL_SECONDS = 0.2
WORKER_POLL_SECONDS = 0.05


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--ingest-mode",
        choices=MODES,
        default="inline",
        help="with --http --history: LEADGATE_INGEST_MODE of the server; inbox also reports "
        "qualified events/s, the qualifier's lag and the backlog (default inline)",
    )
    group.add_argument(
        "--qualifier",
        choices=("serve", "worker"),
        default="serve",
        help="with --ingest-mode inbox: qualify in the server's thread (serve, the default) "
        "or in a `leadgate worker` process beside it (worker)",
    )


def server_env(mode: str, qualifier: str = "serve") -> dict[str, str]:
    """Settings of the server under test (and of its `leadgate worker`) for ``mode``."""
    if mode != "inbox":
        return {"LEADGATE_INGEST_MODE": mode}
    return {
        "LEADGATE_INGEST_MODE": "inbox",
        # Keep every drained call for the run: the lag figures are read from them.
        "LEADGATE_INBOX_KEEP_SECONDS": "86400",
        "LEADGATE_INBOX_SERVE_QUALIFIER": "true" if qualifier == "serve" else "false",
    }


@contextmanager
def qualifier_worker(url: str, env: dict[str, str]) -> Iterator[None]:
    """``leadgate worker`` on ``url`` (it drains the inbox) until the block ends."""
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [LEADGATE, "--database-url", url, "worker", "--poll", str(WORKER_POLL_SECONDS)],
            stdout=subprocess.DEVNULL,
            stderr=log,
            env={**os.environ, **env},
        )
        try:
            yield
        finally:
            process.terminate()
            process.wait(timeout=30)
            if process.returncode not in (0, -signal.SIGTERM):
                log.seek(0)
                raise RuntimeError(
                    f"leadgate worker exited with {process.returncode}:\n"
                    f"{log.read().decode(errors='replace')[-2000:]}"
                )


def admin_key(url: str) -> str:
    """A key for the admin endpoint the backlog is watched through."""
    created = _leadgate(
        url, "keys", "create", "--name", "bench-admin", "--scopes", "admin", "--json"
    )
    key: str = json.loads(created)["key"]
    return key


@dataclass(frozen=True, slots=True)
class Backlog:
    """The largest backlog seen while the rounds were sent, the oldest waiting call's
    largest age, and the calls parked at the end."""

    largest: int
    oldest_age_seconds: float
    parked: int


class BacklogWatch:
    """Polls the admin endpoint in a thread: the largest backlog and oldest age seen, and
    waiting until nothing waits."""

    def __init__(self, port: int, key: str) -> None:
        self._http = httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.max_backlog = 0
        self.max_oldest_age = 0.0
        self.parked = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> BacklogWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._http.close()

    def facts(self) -> dict[str, float]:
        with self._lock:  # one client, two threads
            response = self._http.get("/v1/admin/inbox")
        response.raise_for_status()
        facts: dict[str, float] = response.json()
        self.max_backlog = max(self.max_backlog, int(facts["backlog"]))
        self.max_oldest_age = max(self.max_oldest_age, float(facts["oldest_age_seconds"] or 0))
        self.parked = int(facts["parked"])
        return facts

    def _run(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            try:
                self.facts()
            except httpx.HTTPError:
                continue

    def backlog(self) -> Backlog:
        return Backlog(self.max_backlog, self.max_oldest_age, self.parked)

    def wait_drained(self, timeout: float = 600.0) -> None:
        """Return once the backlog is 0; RuntimeError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while self.facts()["backlog"] > 0:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the inbox did not drain in {timeout:.0f} s")
            time.sleep(0.05)


@dataclass(frozen=True, slots=True)
class Qualified:
    """What the qualifier did with the calls of rounds ``first``..``last``."""

    first: int
    last: int
    events: int
    seconds: float
    lag_p50_ms: float
    lag_p99_ms: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def drained_calls(url: str) -> list[tuple[int, datetime, datetime]]:
    """(round, received, drained) of every drained call of the benchmark's rounds."""
    from sqlalchemy import create_engine, select

    from leadgate.adapters.db import tables as t
    from leadgate.adapters.db.engine import build_engine

    engine = build_engine(url) if url.startswith("sqlite") else create_engine(url)
    inbox = t.inbox.c
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(inbox.message_id, inbox.received_at, inbox.drained_at).where(
                    inbox.drained_at.is_not(None)
                )
            ).all()
    finally:
        engine.dispose()
    found = []
    for message_id, received, drained in rows:
        match = _ROUND.match(message_id)
        if match:
            found.append((int(match[1]), received, drained))
    return found


def qualified(calls: Sequence[tuple[int, datetime, datetime]], first: int, last: int) -> Qualified:
    inside = [(received, drained) for r, received, drained in calls if first <= r <= last]
    lags = sorted((drained - received).total_seconds() for received, drained in inside)
    seconds = (
        (max(d for _, d in inside) - min(r for r, _ in inside)).total_seconds() if inside else 0.0
    )
    return Qualified(
        first,
        last,
        len(inside),
        seconds,
        _percentile(lags, 0.50) * 1000,
        _percentile(lags, 0.99) * 1000,
    )


def print_qualified(
    console: Console,
    bands: Sequence[Qualified],
    overall: Qualified,
    backlog: Backlog,
    bare_rate: float,
) -> None:
    """The qualifier's figures per band, then the backlog."""
    table = Table(
        "events per person",
        "qualified events",
        "qualified events/s",
        "lag p50",
        "lag p99",
        title="inbox mode: qualified (stored and scored) by the server's qualifier thread",
        caption="qualified events/s = the band's events ÷ (last drain commit − first call "
        "received); lag = received → drain commit (the score is stored then)",
    )
    for figures in [*bands, overall]:
        label = f"{figures.first}–{figures.last}"
        table.add_row(
            label if figures is not overall else f"all, {label}",
            f"{figures.events:,}",
            f"{figures.rate:,.0f}",
            f"{figures.lag_p50_ms:,.0f} ms",
            f"{figures.lag_p99_ms:,.0f} ms",
        )
    console.print(table)
    ratio = f"{overall.rate / bare_rate:.2f}" if bare_rate else "—"
    console.print(
        f"qualified over rounds {overall.first}–{overall.last}: {overall.rate:,.0f} events/s "
        f"(÷ bare {bare_rate:,.0f} = {ratio}); backlog at most {backlog.largest:,} calls, "
        f"oldest waiting at most {backlog.oldest_age_seconds:.2f} s (polled every "
        f"{POLL_SECONDS} s); parked {backlog.parked}",
        highlight=False,
    )
