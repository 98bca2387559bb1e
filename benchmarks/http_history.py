"""How HTTP ingestion scales with a lead's history (``python -m benchmarks --http --history``).

The same people (``--people``, 400 by default) come back round after round: in each round
every person sends one page view, as Segment batches of ``--messages`` (100) page calls
with the person's user id and device id, posted by ``--senders`` threads with the client
of benchmarks/http_ingest.py. After round ``r`` every person has ``r`` touchpoints, so the
rounds of a history band (``--bands``, by default 2–6, 46–55, 96–105 and 141–150 events
per person) show what a request costs once the leads it names have that much history.
Round 1 creates the leads and is not measured.

Per band: events accepted in the band's rounds ÷ the time from the first of their
requests being sent to the last one answered (a band starts once every earlier request
is answered, so no other round's requests are in that time), and the latency of those
requests (p50, p99) as the client sees it; "all" is every round from the first band's
first to the last band's last, the rounds between bands included.

With ``--ingest-mode inbox`` the server captures into the inbox and qualifies in its
background thread; each band then also reports qualified events/s, the qualifier's lag
and the backlog (see benchmarks/inbox_lag.py).

The same rounds are then sent, with the same client and batches, to the bare server
(benchmarks/bare_server.py: parse, key check, one executemany and commit per request, on
SQLite), started and measured in the same run, so leadgate ÷ bare compares with the
floor on this machine at this moment.
"""

from __future__ import annotations

import argparse
import math
import random
import secrets
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
from rich.console import Console
from rich.table import Table

from benchmarks import inbox_lag
from benchmarks.bare_server import KEY_VARIABLE
from benchmarks.databases import create_database, drop_database
from benchmarks.http_ingest import (
    _count,
    _iso,
    _percentile,
    client,
    leadgate_database,
    leadgate_serve,
    page_message,
    post_batch,
    serving,
)
from benchmarks.machine import describe, load_average

DEFAULT_BANDS = "2-6,46-55,96-105,141-150"
TARGET_RATIO = 0.8  # events/s in the last band ÷ in the first
TARGET_BARE_RATIO = 0.25  # leadgate ÷ the bare server


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--history",
        action="store_true",
        help="with --http: the same --people come back round after round; events/s per "
        "history band, then the bare server with the same batches",
    )
    group.add_argument(
        "--bands",
        default=DEFAULT_BANDS,
        help="history bands (events per person, inclusive) for --http --history; the run "
        f"goes up to the last (default {DEFAULT_BANDS})",
    )
    inbox_lag.add_arguments(group)


@dataclass(frozen=True, slots=True)
class Band:
    """Rounds ``first``..``last``: after them each person has that many events."""

    first: int
    last: int

    @property
    def label(self) -> str:
        return f"{self.first}–{self.last}"

    @staticmethod
    def parse(text: str) -> list[Band]:
        bands: list[Band] = []
        for part in text.split(","):
            low, _, high = part.strip().partition("-")
            band = Band(int(low), int(high or low))
            if band.first < 2 or band.last < band.first:
                raise SystemExit(f"--bands: {part!r} is not FIRST-LAST with 2 ≤ FIRST ≤ LAST")
            if bands and band.first <= bands[-1].last:
                raise SystemExit(f"--bands: {part!r} must start after {bands[-1].label} ends")
            bands.append(band)
        return bands


@dataclass(frozen=True, slots=True)
class _Request:
    round: int
    sent: float
    done: float
    accepted: int
    error: str


@dataclass(frozen=True, slots=True)
class Figures:
    """What the requests of some rounds saw."""

    band: Band
    events: int
    seconds: float
    requests: int
    failed: int
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True, slots=True)
class RoundsResult:
    server: str
    backend: str
    bands: list[Figures]
    overall: Figures  # every measured round, from the first band's first to the last's last
    rss_mb: dict[int, float]
    counts: dict[str, int]
    failed: int  # requests of any round, round 1 included
    first_error: str
    mode: str = "inline"
    # Inbox mode: what the qualifier did per band and over every measured round.
    qualified: list[inbox_lag.Qualified] = field(default_factory=list)
    qualified_overall: inbox_lag.Qualified | None = None
    backlog: inbox_lag.Backlog | None = None


def round_body(people: int, batch: int, round_: int, chunk: int) -> bytes:
    """Request ``chunk`` of round ``round_``: one page view each for people
    ``chunk * batch`` up to the next chunk, timed now."""
    now = datetime.now(UTC)
    rng = random.Random(round_ * 100_003 + chunk)
    messages = [
        page_message(rng, person, f"h{round_}-{person}", now)
        for person in range(chunk * batch, min((chunk + 1) * batch, people))
    ]
    return orjson.dumps({"batch": messages, "sentAt": _iso(now)})


def send_rounds(
    port: int,
    key: str,
    *,
    people: int,
    batch: int,
    bands: list[Band],
    senders: int,
    progress: Callable[[Figures], None] | None = None,
    settle: Callable[[], None] | None = None,
) -> list[_Request]:
    """Post rounds 1 to the last band's last, in order, from ``senders`` threads (each
    takes the next request when its last one is answered); return every request.

    The rounds between bands follow each other without a pause, but each band starts
    once every earlier request is answered (and ``settle()`` returned: in inbox mode,
    every earlier call is qualified) and ends with its own last one, so its time holds
    its own requests only. ``progress`` is given each band's figures as it ends."""
    chunks = math.ceil(people / batch)
    segments, done = [], 0
    for band in bands:
        if band.first > done + 1:
            segments.append((done + 1, band.first - 1))
        segments.append((band.first, band.last))
        done = band.last
    seen: list[list[_Request]] = [[] for _ in range(senders)]
    clients = [client(port, key) for _ in range(senders)]
    try:
        for first, last in segments:
            band = Band(first, last)
            if settle and band in bands:
                settle()
            _send_segment(clients, seen, people, batch, chunks, first, last)
            if progress and band in bands:
                progress(figures([r for out in seen for r in out], band))
    finally:
        for sender in clients:
            sender.close()
    return [request for out in seen for request in out]


def _send_segment(
    clients: list[httpx.Client],
    seen: list[list[_Request]],
    people: int,
    batch: int,
    chunks: int,
    first: int,
    last: int,
) -> None:
    """Rounds ``first``..``last``, one thread per client; returns when all are answered."""
    taken = iter(range((first - 1) * chunks, last * chunks))
    lock = threading.Lock()

    def work(sender: httpx.Client, out: list[_Request]) -> None:
        while True:
            with lock:
                index = next(taken, None)
            if index is None:
                return
            round_, chunk = divmod(index, chunks)
            body = round_body(people, batch, round_ + 1, chunk)
            sent = time.perf_counter()
            accepted, error = post_batch(sender, body)
            out.append(_Request(round_ + 1, sent, time.perf_counter(), accepted, error))

    threads = [
        threading.Thread(target=work, args=(sender, out), daemon=True)
        for sender, out in zip(clients, seen, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def figures(requests: Sequence[_Request], band: Band) -> Figures:
    inside = [r for r in requests if band.first <= r.round <= band.last]
    latencies = sorted(r.done - r.sent for r in inside)
    return Figures(
        band=band,
        events=sum(r.accepted for r in inside if not r.error),
        seconds=max((r.done for r in inside), default=0.0)
        - min((r.sent for r in inside), default=0.0),
        requests=len(inside),
        failed=sum(1 for r in inside if r.error),
        p50_ms=_percentile(latencies, 0.50) * 1000,
        p99_ms=_percentile(latencies, 0.99) * 1000,
    )


def _summarise(
    server: str,
    backend: str,
    requests: list[_Request],
    bands: list[Band],
    rss: dict[int, float],
    counts: dict[str, int],
) -> RoundsResult:
    return RoundsResult(
        server=server,
        backend=backend,
        bands=[figures(requests, band) for band in bands],
        overall=figures(requests, Band(bands[0].first, bands[-1].last)),
        rss_mb=rss,
        counts=counts,
        failed=sum(1 for r in requests if r.error),
        first_error=next((r.error for r in requests if r.error), ""),
    )


def measure_leadgate(
    backend: str,
    *,
    workers: int,
    people: int,
    batch: int,
    bands: list[Band],
    senders: int,
    progress: Callable[[Figures], None] | None = None,
    mode: str = "inline",
    qualifier: str = "serve",
) -> RoundsResult:
    """Fresh database, ``leadgate serve`` (and in inbox mode, given ``qualifier="worker"``,
    ``leadgate worker``) up, every round sent, server down."""
    inbox = mode == "inbox"
    env = inbox_lag.server_env(mode, qualifier)
    with leadgate_database(backend) as (url, key):
        admin = inbox_lag.admin_key(url) if inbox else ""
        worker = inbox_lag.qualifier_worker(url, env) if qualifier == "worker" else None
        with leadgate_serve(url, workers, env) as server, worker or nullcontext():
            watch = inbox_lag.BacklogWatch(server.port, admin) if inbox else None
            with watch or nullcontext():
                sent = send_rounds(
                    server.port,
                    key,
                    people=people,
                    batch=batch,
                    bands=bands,
                    senders=senders,
                    progress=progress,
                    settle=watch.wait_drained if watch else None,
                )
                if watch:
                    watch.wait_drained()
            rss = server.peak_rss_mb()
        result = replace(_summarise("leadgate", backend, sent, bands, rss, _count(url)), mode=mode)
        if not watch:
            return result
        calls = inbox_lag.drained_calls(url)
        return replace(
            result,
            qualified=[inbox_lag.qualified(calls, b.first, b.last) for b in bands],
            qualified_overall=inbox_lag.qualified(calls, bands[0].first, bands[-1].last),
            backlog=watch.backlog(),
        )


def measure_bare(*, people: int, batch: int, bands: list[Band], senders: int) -> RoundsResult:
    """A fresh SQLite file, the bare server up, every round sent, server down."""
    url = create_database("sqlite")
    path = url.removeprefix("sqlite:///")
    key = secrets.token_urlsafe(24)
    script = str(Path(__file__).with_name("bare_server.py"))
    try:
        with serving(
            "bare server",
            lambda port: [sys.executable, script, "--port", str(port), "--database", path],
            {KEY_VARIABLE: key},
        ) as server:
            sent = send_rounds(
                server.port, key, people=people, batch=batch, bands=bands, senders=senders
            )
            rss = server.peak_rss_mb()
        with sqlite3.connect(path) as db:
            counts = {"events": int(db.execute("SELECT count(*) FROM events").fetchone()[0])}
        return _summarise("bare", "sqlite", sent, bands, rss, counts)
    finally:
        drop_database(url)


def _rss(result: RoundsResult) -> str:
    rss = result.rss_mb
    if len(rss) <= 1:
        return f"{sum(rss.values()):,.0f} MB"
    return f"{sum(rss.values()):,.0f} MB ({max(rss.values()):,.0f} MB)"


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "—"


def run(args: argparse.Namespace) -> int:
    """Every back end and worker count, then the bare server once; print the tables.
    Returns 1 if a request failed or a run could not be made."""
    console = Console(width=150)
    bands = Band.parse(args.bands)
    people, batch, senders = args.people, args.messages, args.senders
    per_round = math.ceil(people / batch)
    console.print(f"machine: {describe()}")
    console.print(f"load average before: {load_average()}")
    console.print(
        f"workload: {people:,} people, one page view each per round (user id and device id), "
        f"{batch} per POST /v1/batch ({per_round} requests a round) from {senders} sender "
        f"threads; rounds 1–{bands[-1].last} (round 1 creates the leads, not measured); "
        "leadgate serve, then the bare server (benchmarks/bare_server.py) with the same client "
        "and batches; client and servers on this machine; default scoring model; "
        f"ingest mode {args.ingest_mode}"
        + (f", qualifier in {args.qualifier}" if args.ingest_mode == "inbox" else "")
    )
    problems = 0
    results: list[RoundsResult] = []
    for backend in args.backends.split(","):
        for workers in (int(w) for w in args.workers.split(",")):
            console.print(f"running leadgate on {backend}, {workers} worker(s) ...")
            started = time.perf_counter()

            def report(band: Figures, started: float = started) -> None:
                console.print(
                    f"  {band.band.label} events per person: {band.rate:,.0f} events/s "
                    f"({time.perf_counter() - started:.0f} s in)",
                    highlight=False,
                )

            try:
                result = measure_leadgate(
                    backend,
                    workers=workers,
                    people=people,
                    batch=batch,
                    bands=bands,
                    senders=senders,
                    progress=report,
                    mode=args.ingest_mode,
                    qualifier=args.qualifier if args.ingest_mode == "inbox" else "serve",
                )
            except RuntimeError as exc:
                console.print(f"[red]{backend} failed:[/]\n{exc}")
                problems += 1
                continue
            console.print(f"  took {time.perf_counter() - started:.0f} s")
            results.append(result)
    console.print("running the bare server (SQLite) ...")
    try:
        bare = measure_bare(people=people, batch=batch, bands=bands, senders=senders)
    except RuntimeError as exc:
        console.print(f"[red]the bare server failed:[/]\n{exc}")
        return 1
    for result in [*results, bare]:
        if result.first_error:
            console.print(
                f"[yellow]{result.server} {result.backend}, first failed request:[/] "
                f"{result.first_error}"
            )
        problems += 1 if result.failed else 0
    for result in results:
        _print(console, result, bare)
    console.print(f"load average after: {load_average()}")
    return 1 if problems else 0


def _print(console: Console, result: RoundsResult, bare: RoundsResult) -> None:
    table = Table(
        "events per person",
        "requests",
        "leadgate events/s",
        "p50",
        "p99",
        "bare events/s",
        "bare p50",
        "bare p99",
        "leadgate ÷ bare",
        "failed",
        title=f"leadgate on {result.backend}, {result.mode} mode (bare server on SQLite)",
        caption=f"targets: last band ÷ first ≥ {TARGET_RATIO}; ≥ 20,000 events/s, p99 ≤ 100 "
        f"ms, server ≤ 300 MB; leadgate ÷ bare ≥ {TARGET_BARE_RATIO}. A band's events/s = its "
        "rounds' events ÷ (last answer − first send of their requests)",
    )
    rows = [*zip(result.bands, bare.bands, strict=True), (result.overall, bare.overall)]
    for ours, floor in rows:
        label = ours.band.label if ours is not result.overall else f"all, {ours.band.label}"
        table.add_row(
            label,
            f"{ours.requests:,}",
            f"{ours.rate:,.0f}",
            f"{ours.p50_ms:,.0f} ms",
            f"{ours.p99_ms:,.0f} ms",
            f"{floor.rate:,.0f}",
            f"{floor.p50_ms:,.1f} ms",
            f"{floor.p99_ms:,.1f} ms",
            _ratio(ours.rate, floor.rate),
            f"{ours.failed + floor.failed:,}",
        )
    console.print(table)
    first, last = result.bands[0], result.bands[-1]
    console.print(
        f"history scaling: {last.rate:,.0f} events/s at {last.band.label} ÷ {first.rate:,.0f} "
        f"at {first.band.label} = {_ratio(last.rate, first.rate)} (target ≥ {TARGET_RATIO})",
        highlight=False,
    )
    console.print(
        f"leadgate ÷ bare over rounds {result.overall.band.label}: {result.overall.rate:,.0f} ÷ "
        f"{bare.overall.rate:,.0f} events/s = {_ratio(result.overall.rate, bare.overall.rate)} "
        f"(target ≥ {TARGET_BARE_RATIO})",
        highlight=False,
    )
    console.print(
        f"server peak RSS (VmHWM): leadgate {_rss(result)}, bare {_rss(bare)}; database: "
        f"{result.counts}, bare {bare.counts}",
        highlight=False,
    )
    if result.qualified_overall is not None and result.backlog is not None:
        inbox_lag.print_qualified(
            console, result.qualified, result.qualified_overall, result.backlog, bare.overall.rate
        )
