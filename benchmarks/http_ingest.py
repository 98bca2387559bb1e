"""HTTP ingestion: Segment-shaped batches sent to ``leadgate serve``, as a site would.

For each back end and worker count: a fresh database, ``leadgate db upgrade``,
``leadgate model activate --default``, a tracking key (``leadgate keys create``), then
``leadgate serve`` in a subprocess. Several sender threads each post ``POST /v1/batch``
with 100 messages per request (what Segment's and RudderStack's libraries send) for a fixed
time, with the key as the HTTP Basic user name. The mix: page views (pricing, product,
blog, docs, careers ...), tracks ("Demo Requested", "Email Opened", "Webinar Attended" ...),
identify calls with job and company traits, and a few group calls, over a fixed pool of
people who come back, so identities resolve (and anonymous visitors merge into identified
leads), scores change and gates fire.

Measured: events accepted per second, request latency (p50, p99) as the client sees it,
the peak RSS of the server and its workers (VmHWM in /proc), and transitions written.
"""

from __future__ import annotations

import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import httpx
import orjson

from benchmarks.databases import create_database, drop_database

LEADGATE = str(Path(sys.executable).with_name("leadgate"))

# (path, title, weight): where visitors go; the model's page_categories turn paths into
# categories (pricing, product, case_study, careers, blog, docs ...).
PAGES = [
    ("/", "Home", 10),
    ("/pricing", "Pricing", 9),
    ("/pricing/enterprise", "Enterprise pricing", 3),
    ("/product/scoring", "Scoring", 6),
    ("/features/routing", "Routing", 4),
    ("/integrations/salesforce", "Salesforce integration", 3),
    ("/customers/acme", "Acme case study", 3),
    ("/blog/why-decay-matters", "Why decay matters", 14),
    ("/blog/mql-is-dead", "The MQL is dead", 10),
    ("/docs/getting-started", "Getting started", 8),
    ("/careers", "Careers", 1),
    ("/contact", "Contact", 1),
]
# (event, properties, weight): Segment-style event names, mapped by the model's aliases.
_TRACKS: list[tuple[str, dict[str, Any], int]] = [
    ("Email Opened", {"campaign": "nurture-3"}, 12),
    ("Email Link Clicked", {"campaign": "nurture-3"}, 5),
    ("Ebook Downloaded", {"asset": "scoring-guide"}, 3),
    ("Webinar Registered", {"webinar": "q3-launch"}, 2),
    ("Webinar Attended", {"webinar": "q3-launch"}, 2),
    ("Form Submitted", {"form": "newsletter"}, 2),
    ("product_active_day", {}, 3),
    ("Trial Started", {"plan": "team"}, 1),
    ("Demo Requested", {"source": "pricing-page"}, 1),
]
_SENIORITY = ["vp", "director", "manager", "individual_contributor", "c_level", "student"]
_DEPARTMENT = ["marketing", "sales", "revops", "engineering", "finance"]
_INDUSTRY = ["software", "fintech", "ecommerce", "retail", "healthcare"]
_REGION = ["NA", "EMEA", "APAC"]
# Call types by share of messages: mostly page views and tracks, as on a real site.
_CALLS = [("page", 52), ("track", 34), ("identify", 11), ("group", 3)]


_LIBRARY = {"name": "analytics-python", "version": "2.3.2"}
PAGE_WEIGHTS = [w for *_, w in PAGES]


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def page_properties(path: str, title: str) -> dict[str, Any]:
    """What a Segment library sends as a page call's properties."""
    return {
        "path": path,
        "url": f"https://www.leadgate.example{path}",
        "title": title,
        "referrer": "https://www.google.com/",
    }


def page_fields(rng: random.Random) -> dict[str, Any]:
    """A page call's ``name`` and ``properties``: one of the site's pages, by weight."""
    path, title, _ = rng.choices(PAGES, PAGE_WEIGHTS)[0]
    return {"name": title, "properties": page_properties(path, title)}


def page_message(rng: random.Random, person: int, message_id: str, now: datetime) -> dict[str, Any]:
    """An identified person's page view (user id and device id), timed ``now``."""
    return {
        "type": "page",
        "messageId": message_id,
        "anonymousId": f"anon-{person}",
        "userId": f"user-{person}",
        "timestamp": _iso(now),
        "context": {"library": _LIBRARY},
        **page_fields(rng),
    }


class Traffic:
    """Request bodies for one sender: ``{"batch": [...], "sentAt": ...}`` as JSON bytes.

    Person ``i`` always has the same ids, e-mail and company, so people recur across
    senders and requests. Three page views in ten come from a visitor who has not
    identified yet (anonymous id only), the rest carry the user id as well.
    """

    def __init__(self, sender: int, people: int, batch: int, seed: int = 1) -> None:
        self._rng = random.Random(seed * 1_000 + sender)
        self._sender = sender
        self._people = people
        self._batch = batch
        self._sequence = 0
        self._calls = [c for c, _ in _CALLS]
        self._call_weights = [w for _, w in _CALLS]

    def _message(self, now: datetime) -> dict[str, Any]:
        rng = self._rng
        self._sequence += 1
        person = rng.randrange(self._people)
        company = person % max(self._people // 4, 1)
        call = rng.choices(self._calls, self._call_weights)[0]
        message: dict[str, Any] = {
            "type": call,
            "messageId": f"s{self._sender}-{self._sequence}-{uuid.uuid4().hex[:8]}",
            "anonymousId": f"anon-{person}",
            "timestamp": _iso(now - timedelta(seconds=rng.random() * 60)),
            "context": {"library": _LIBRARY},
        }
        if call != "page" or rng.random() >= 0.3:
            message["userId"] = f"user-{person}"
        if call == "page":
            message.update(page_fields(rng))
        elif call == "track":
            event, properties, _ = rng.choices(_TRACKS, [w for *_, w in _TRACKS])[0]
            message["event"] = event
            message["properties"] = properties
        elif call == "identify":
            message["userId"] = f"user-{person}"
            message["traits"] = {
                "email": f"person{person}@company{company}.example",
                "name": f"Person {person}",
                "title": "Head of Growth",
                "seniority": _SENIORITY[person % len(_SENIORITY)],
                "department": _DEPARTMENT[person % len(_DEPARTMENT)],
                "company": {
                    "name": f"Company {company}",
                    "domain": f"company{company}.example",
                    "industry": _INDUSTRY[company % len(_INDUSTRY)],
                    "employees": 20 + (company * 37) % 3000,
                    "region": _REGION[company % len(_REGION)],
                },
            }
        else:  # group
            message["userId"] = f"user-{person}"
            message["groupId"] = f"company{company}.example"
            message["traits"] = {
                "name": f"Company {company}",
                "industry": _INDUSTRY[company % len(_INDUSTRY)],
                "employees": 20 + (company * 37) % 3000,
                "technologies": ["salesforce", "segment"] if company % 2 else ["hubspot"],
            }
        return message

    def bodies(self) -> Iterator[bytes]:
        while True:
            now = datetime.now(UTC)
            batch = [self._message(now) for _ in range(self._batch)]
            yield orjson.dumps({"batch": batch, "sentAt": _iso(now)})


@dataclass
class _Tally:
    """What the senders saw; one per sender, merged at the end (no locks while sending)."""

    events: int = 0
    requests: int = 0
    failed: int = 0
    latencies: list[float] = field(default_factory=list)
    first_error: str = ""


def client(port: int, key: str) -> httpx.Client:
    """A sender's connection to a server on 127.0.0.1: the key as the HTTP Basic user name,
    as Segment's and RudderStack's libraries send it."""
    return httpx.Client(
        base_url=f"http://127.0.0.1:{port}",
        auth=(key, ""),
        headers={"Content-Type": "application/json"},
        timeout=60,
    )


def post_batch(sender: httpx.Client, body: bytes) -> tuple[int, str]:
    """POST one body to /v1/batch; return (messages accepted, error or "" when it was a 200)."""
    try:
        response = sender.post("/v1/batch", content=body)
    except httpx.HTTPError as exc:
        return 0, f"{exc.__class__.__name__}: {exc}"
    if response.status_code != 200:
        return 0, f"HTTP {response.status_code}: {response.text[:300]}"
    return int(response.json().get("accepted", 0)), ""


def _send(
    port: int,
    key: str,
    traffic: Traffic,
    warm_until: float,
    stop: float,
    tally: _Tally,
) -> None:
    with client(port, key) as sender:
        for body in traffic.bodies():
            sent = time.perf_counter()
            if sent >= stop:
                return
            accepted, error = post_batch(sender, body)
            done = time.perf_counter()
            if sent < warm_until:
                continue  # warm-up: caches, connection pools, first leads
            tally.requests += 1
            tally.latencies.append(done - sent)
            if not error:
                tally.events += accepted
            else:
                tally.failed += 1
                tally.first_error = tally.first_error or error


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _leadgate(url: str, *args: str) -> str:
    done = subprocess.run(
        [LEADGATE, "--database-url", url, *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"leadgate {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def _children(pid: int) -> list[int]:
    found = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(c) for c in (task / "children").read_text().split()]
    except OSError:
        pass
    return found + [grandchild for child in found for grandchild in _children(child)]


def _peak_rss_mb(pids: list[int]) -> dict[int, float]:
    """VmHWM (peak resident set) of each process, in MB."""
    peaks = {}
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks[pid] = int(line.split()[1]) / 1024
        except OSError:
            continue
    return peaks


def _count(url: str) -> dict[str, int]:
    from sqlalchemy import create_engine, text

    from leadgate.adapters.db.engine import build_engine

    engine = build_engine(url) if url.startswith("sqlite") else create_engine(url)
    with engine.connect() as connection:
        counts = {
            name: int(connection.execute(text(sql)).scalar_one())
            for name, sql in {
                "leads": "SELECT count(*) FROM leads",
                "touchpoints": "SELECT count(*) FROM touchpoints",
                "transitions": "SELECT count(*) FROM transitions WHERE actor_type = 'rule'",
                "merges": "SELECT count(*) FROM lead_merges",
            }.items()
        }
    engine.dispose()
    return counts


@dataclass
class HttpResult:
    backend: str
    workers: int
    senders: int
    seconds: float
    events: int
    requests: int
    failed: int
    p50_ms: float
    p99_ms: float
    server_rss_mb: dict[int, float]
    counts: dict[str, int]
    first_error: str = ""

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def run_one(
    backend: str,
    *,
    workers: int,
    senders: int,
    seconds: float,
    warmup: float,
    people: int,
    batch: int,
) -> HttpResult:
    """One measurement: fresh database, server up, load for ``seconds``, server down."""
    with leadgate_database(backend) as (url, key):
        with leadgate_serve(url, workers) as server:
            tallies, elapsed = _drive(server.port, key, senders, seconds, warmup, people, batch)
            rss = server.peak_rss_mb()
        latencies = sorted(x for t in tallies for x in t.latencies)
        return HttpResult(
            backend=backend,
            workers=workers,
            senders=senders,
            seconds=elapsed,
            events=sum(t.events for t in tallies),
            requests=len(latencies),
            failed=sum(t.failed for t in tallies),
            p50_ms=_percentile(latencies, 0.50) * 1000,
            p99_ms=_percentile(latencies, 0.99) * 1000,
            server_rss_mb=rss,
            counts=_count(url),
            first_error=next((t.first_error for t in tallies if t.first_error), ""),
        )


@contextmanager
def leadgate_database(backend: str) -> Iterator[tuple[str, str]]:
    """A fresh database, migrated, the default model active and a tracking key made;
    yields (database URL, key) and drops the database afterwards."""
    url = create_database(backend)
    try:
        _leadgate(url, "db", "upgrade")
        _leadgate(url, "model", "activate", "--default", "--actor", "bench")
        key = json.loads(_leadgate(url, "keys", "create", "--name", "bench", "--json"))["key"]
        yield url, key
    finally:
        drop_database(url)


@dataclass(frozen=True, slots=True)
class Server:
    """A server subprocess listening on 127.0.0.1:``port``."""

    port: int
    process: subprocess.Popen[bytes]

    def peak_rss_mb(self) -> dict[int, float]:
        """VmHWM of the server and every process under it (uvicorn's workers), in MB."""
        return _peak_rss_mb([self.process.pid, *_children(self.process.pid)])


@contextmanager
def serving(
    name: str, command: Callable[[int], list[str]], env: dict[str, str] | None = None
) -> Iterator[Server]:
    """Start ``command(port)`` on a free port, wait for its /readyz, stop it afterwards."""
    # The server's log goes to a file: a pipe nobody reads would stall it once full.
    with tempfile.TemporaryFile() as log:
        port = _free_port()
        process = subprocess.Popen(
            command(port), stdout=subprocess.DEVNULL, stderr=log, env={**os.environ, **(env or {})}
        )
        try:
            _wait_until_ready(port, process, log, name=name)
            yield Server(port, process)
        finally:
            process.terminate()
            process.wait(timeout=30)


def leadgate_serve(
    url: str, workers: int, env: dict[str, str] | None = None
) -> AbstractContextManager[Server]:
    """``leadgate serve`` on ``url`` with ``workers`` processes, no rate limit, and any
    other settings in ``env`` (``LEADGATE_*`` variables)."""
    return serving(
        "leadgate serve",
        lambda port: [
            *(LEADGATE, "--database-url", url, "serve", "--port", str(port)),
            *("--workers", str(workers), "--log-level", "warning"),
        ],
        {"LEADGATE_RATE_LIMIT_PER_SECOND": "0", **(env or {})},
    )


def _drive(
    port: int, key: str, senders: int, seconds: float, warmup: float, people: int, batch: int
) -> tuple[list[_Tally], float]:
    """Run the sender threads; return what each saw and the measured time."""
    start = time.perf_counter()
    warm_until, stop = start + warmup, start + warmup + seconds
    tallies = [_Tally() for _ in range(senders)]
    threads = [
        threading.Thread(
            target=_send,
            args=(port, key, Traffic(i, people, batch), warm_until, stop, tallies[i]),
            daemon=True,
        )
        for i in range(senders)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return tallies, time.perf_counter() - warm_until


def _percentile(ordered: list[float], share: float) -> float:
    if not ordered:
        return float("nan")
    if len(ordered) == 1:
        return ordered[0]
    # statistics.quantiles interpolates between neighbours, as most load tools do.
    return statistics.quantiles(ordered, n=1000, method="inclusive")[round(share * 1000) - 1]


def _wait_until_ready(
    port: int,
    server: subprocess.Popen[bytes],
    log: IO[bytes],
    timeout: float = 60,
    name: str = "leadgate serve",
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            log.seek(0)
            stderr = log.read().decode(errors="replace")[-3000:]
            raise RuntimeError(f"{name} exited with {server.returncode}:\n{stderr}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{name} did not become ready in {timeout:.0f} s")
