"""Event-to-alert latency: a lead crosses a gate over HTTP, its webhook reaches a receiver.

For each back end and worker poll interval: a fresh database, ``leadgate db upgrade``,
``leadgate model activate --default``, a tracking key (``leadgate keys create``); then, in
this process, a handoff configuration (the shipped one with every rep's capacity raised,
so no handoff waits in a team queue) and a webhook endpoint subscribed to
``handoff.created`` that points at a receiver run here (a threaded ``http.server`` on
127.0.0.1 that checks every signature with its own HMAC, written from the documented
recipe). ``leadgate serve`` and ``leadgate worker --poll <seconds>`` run as subprocesses.

Each lead is one ``POST /v1/batch`` with two Segment messages: an ``identify`` with grade-A
traits (a VP of marketing at a software company of 200 to 2,400 people in North America or
EMEA: fit 50, the A band starts at 40) and a ``Demo Requested`` track, which fires the
``skip_to_sql`` gate, so the request that returns 200 has committed the handoff and its
outbox message. Latency is from that 200 to the webhook's body arriving at the receiver,
both read from this process's monotonic clock. Requests start on a fixed schedule
(``--rate`` per second, from a few sender threads), so the figure is the pipeline's
latency, not the wait in a queue a burst would build; ``--rate 0`` sends as fast as the
senders can, which measures throughput instead.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

import httpx
import orjson

from benchmarks.databases import create_database, drop_database
from benchmarks.http_ingest import (
    LEADGATE,
    _free_port,
    _leadgate,
    _percentile,
    _wait_until_ready,
)

SECRET = "bench-handoff-latency-secret-0123456789"
EVENT = "handoff.created"
# Raised far above what a run creates: the latency of an alert, not a team queue, is measured.
_CAPACITY = re.compile(r"capacity: \d+")


@dataclass
class Arrival:
    at: float  # time.perf_counter() when the whole body was read
    delivery: str


class _Server(ThreadingHTTPServer):
    daemon_threads = True


class Receiver:
    """The webhook receiver: checks each signature, records the first arrival per lead
    (by e-mail), counts duplicates (a delivery id seen before) and refused requests."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.arrivals: dict[str, Arrival] = {}
        self.deliveries: set[str] = set()
        self.duplicates = 0
        self.bad_signatures = 0
        self.unexpected: list[str] = []
        self.everything = threading.Event()
        self.expected = 0
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/leadgate"

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def signature_ok(self, headers: dict[str, str], body: bytes) -> bool:
        """``sha256=`` + HMAC-SHA256(secret, ``<timestamp>.<body>``), timestamp within 5 min."""
        timestamp = headers.get("x-leadgate-timestamp", "")
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 300:
            return False
        digest = hmac.new(self.secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
        expected = "sha256=" + digest.hexdigest()
        return hmac.compare_digest(expected, headers.get("x-leadgate-signature", ""))

    def _record(self, headers: dict[str, str], body: bytes, at: float) -> int:
        if not self.signature_ok(headers, body):
            with self._lock:
                self.bad_signatures += 1
            return 401
        event = orjson.loads(body)
        delivery = headers.get("x-leadgate-delivery", "")
        email = str(((event.get("data") or {}).get("lead") or {}).get("email") or "")
        with self._lock:
            if event.get("type") != EVENT or delivery != event.get("id") or not email:
                self.unexpected.append(body[:300].decode(errors="replace"))
            elif delivery in self.deliveries:
                self.duplicates += 1
            else:
                self.deliveries.add(delivery)
                self.arrivals.setdefault(email, Arrival(at, delivery))
                if self.expected and len(self.arrivals) >= self.expected:
                    self.everything.set()
        return 200

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            # Keep-alive, as a real receiver behind a load balancer would offer: the
            # worker's HTTP client reuses its connection instead of opening one per alert.
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                at = time.perf_counter()
                headers = {k.lower(): v for k, v in self.headers.items()}
                status = receiver._record(headers, body, at)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        return Handler


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def lead_email(run: str, index: int) -> str:
    return f"buyer{index}@{run}-co{index // 4}.example"


def crossing_body(run: str, index: int) -> bytes:
    """One lead's request: grade-A traits, then the demo request that fires skip_to_sql.

    Fit under the default model: VP (15) + marketing (10) + software (10) + 50 to 5,000
    employees (10) + NA or EMEA (5) = 50, grade A. Leads alternate between the EMEA, North
    America and (1,000+ employees) enterprise teams of the handoff configuration.
    """
    now = datetime.now(UTC)
    user = f"{run}-user-{index}"
    company = index // 4
    us = index % 2 == 1
    context = {"library": {"name": "analytics-python", "version": "2.3.2"}}
    identify = {
        "type": "identify",
        "messageId": f"{run}-id-{index}",
        "userId": user,
        "timestamp": _iso(now),
        "context": context,
        "traits": {
            "email": lead_email(run, index),
            "name": f"Buyer {index}",
            "title": "VP Marketing",
            "seniority": "vp",
            "department": "marketing",
            "country": "US" if us else "DE",
            "company": {
                "name": f"Company {company}",
                "domain": f"{run}-co{company}.example",
                "industry": "software",
                "employees": 2400 if index % 5 == 0 else 200,
                "country": "US" if us else "DE",
                "region": "NA" if us else "EMEA",
            },
        },
    }
    track = {
        "type": "track",
        "messageId": f"{run}-demo-{index}",
        "userId": user,
        "event": "Demo Requested",
        "timestamp": _iso(now),
        "context": context,
        "properties": {"source": "pricing-page"},
    }
    return orjson.dumps({"batch": [identify, track], "sentAt": _iso(now)})


def configure(url: str, receiver_url: str) -> None:
    """Store and activate the roomy handoff configuration; add the webhook endpoint, as
    ``PUT /v1/handoff-config`` and ``POST /v1/endpoints`` would (same use cases, checks)."""
    from leadgate.adapters.db.engine import build_engine
    from leadgate.adapters.db.unit_of_work import SqlUnitOfWork
    from leadgate.adapters.handoff_yaml import load_handoff_config
    from leadgate.adapters.notify.channel import config_from_dict
    from leadgate.models.handoff import default_handoff_text
    from leadgate.services.handoff_config import (
        activate_handoff_config,
        create_endpoint,
        store_handoff_config,
    )

    document = _CAPACITY.sub("capacity: 1000000", default_handoff_text())
    engine = build_engine(url)
    now = datetime.now(UTC)
    stored, _ = store_handoff_config(
        SqlUnitOfWork(engine), document, check=load_handoff_config, now=now, actor="bench"
    )
    activate_handoff_config(
        SqlUnitOfWork(engine), stored.version, check=load_handoff_config, now=now
    )
    create_endpoint(
        SqlUnitOfWork(engine),
        name="bench receiver",
        kind="webhook",
        config={"url": receiver_url, "secret": SECRET},
        events=[EVENT],
        check=config_from_dict,
        now=now,
    )
    engine.dispose()


def database_counts(url: str) -> dict[str, int]:
    """What the database says happened: handoffs (queued ones apart) and outbox states."""
    from sqlalchemy import text

    from leadgate.adapters.db.engine import build_engine

    engine = build_engine(url)
    queries = {
        "handoffs": "SELECT count(*) FROM handoffs",
        "queued": "SELECT count(*) FROM handoffs WHERE owner IS NULL",
        "delivered": "SELECT count(*) FROM outbox WHERE status = 'delivered'",
        "pending": "SELECT count(*) FROM outbox WHERE status = 'pending'",
        "dead": "SELECT count(*) FROM outbox WHERE status = 'dead'",
        "failed_attempts": "SELECT count(*) FROM delivery_attempts WHERE NOT ok",
    }
    with engine.connect() as connection:
        counts = {k: int(connection.execute(text(q)).scalar_one()) for k, q in queries.items()}
    engine.dispose()
    return counts


@dataclass
class _Sent:
    """What the senders saw: when each lead's request returned 200, failures apart."""

    ok_at: dict[str, float] = field(default_factory=dict)
    request_seconds: list[float] = field(default_factory=list)
    failed: int = 0
    first_error: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)


def _send_all(
    port: int, key: str, run: str, indexes: range, rate: float, senders: int, sent: _Sent
) -> tuple[float, float]:
    """Send one request per lead, lead ``i`` no earlier than ``start + i / rate``; return
    the start and the moment the last request returned."""
    next_index = iter(indexes)
    take = threading.Lock()
    start = time.perf_counter() + 0.2
    first = indexes.start

    def sender() -> None:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            auth=(key, ""),
            headers={"Content-Type": "application/json"},
            timeout=60,
        ) as client:
            while True:
                with take:
                    index = next(next_index, None)
                if index is None:
                    return
                if rate > 0:
                    delay = start + (index - first) / rate - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                body = crossing_body(run, index)
                began = time.perf_counter()
                try:
                    response = client.post("/v1/batch", content=body)
                    error = (
                        ""
                        if response.status_code == 200
                        else f"HTTP {response.status_code}: {response.text[:300]}"
                    )
                except httpx.HTTPError as exc:
                    error = f"{exc.__class__.__name__}: {exc}"
                done = time.perf_counter()
                with sent.lock:
                    if error:
                        sent.failed += 1
                        sent.first_error = sent.first_error or error
                    else:
                        sent.ok_at[lead_email(run, index)] = done
                        sent.request_seconds.append(done - began)

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return start, time.perf_counter()


@dataclass
class HandoffResult:
    backend: str
    poll: float
    handoffs: int  # measured leads (warm-up apart)
    rate: float  # offered leads per second (0: unpaced)
    send_seconds: float
    latencies: list[float]  # seconds, sorted, one per measured lead whose alert arrived
    request_seconds: list[float]  # the crossing requests' own latency, sorted
    missing: int  # leads (warm-up included) whose request succeeded but no alert came
    failed_requests: int
    duplicates: int
    bad_signatures: int
    unexpected: int
    drain_seconds: float  # from the first measured 200 to the last measured alert
    counts: dict[str, int]
    worker_cpu: float  # CPU seconds the worker used per second of the run
    first_error: str = ""

    def ms(self, share: float) -> float:
        return _percentile(self.latencies, share) * 1000

    @property
    def max_ms(self) -> float:
        return self.latencies[-1] * 1000 if self.latencies else float("nan")

    @property
    def alerts_per_second(self) -> float:
        return len(self.latencies) / self.drain_seconds if self.drain_seconds > 0 else 0.0

    @property
    def problems(self) -> int:
        return (
            self.missing
            + self.failed_requests
            + self.duplicates
            + self.bad_signatures
            + self.unexpected
        )


def _wait_for_worker(worker: subprocess.Popen[bytes], log: IO[bytes], timeout: float) -> None:
    """Until the worker says it is running (its banner on stderr)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log.seek(0)
        if b"leadgate worker running" in log.read():
            return
        if worker.poll() is not None:
            raise RuntimeError(f"leadgate worker exited with {worker.returncode}:\n{_tail(log)}")
        time.sleep(0.1)
    raise RuntimeError(f"leadgate worker did not start in {timeout:.0f} s")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process, from /proc (0 where there is none)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # After the command name: state is field 3, utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tail(log: IO[bytes]) -> str:
    log.seek(0)
    return log.read().decode(errors="replace")[-3000:]


def run_one(
    backend: str,
    *,
    handoffs: int,
    poll: float,
    rate: float,
    senders: int,
    warmup: int,
    grace: float,
) -> HandoffResult:
    """One measurement: fresh database, receiver, server and worker up, leads sent, down."""
    url = create_database(backend)
    run = f"r{os.getpid()}{int(time.time()) % 100000}"
    try:
        _leadgate(url, "db", "upgrade")
        _leadgate(url, "model", "activate", "--default", "--actor", "bench")
        key = json.loads(_leadgate(url, "keys", "create", "--name", "bench", "--json"))["key"]
        with (
            Receiver(SECRET) as receiver,
            tempfile.TemporaryFile() as server_log,
            tempfile.TemporaryFile() as worker_log,
        ):
            configure(url, receiver.url)
            receiver.expected = warmup + handoffs
            port = _free_port()
            base = [LEADGATE, "--database-url", url]
            server = subprocess.Popen(
                [*base, "serve", "--port", str(port), "--log-level", "warning"],
                stdout=subprocess.DEVNULL,
                stderr=server_log,
                env={**os.environ, "LEADGATE_RATE_LIMIT_PER_SECOND": "0"},
            )
            worker = subprocess.Popen(
                [*base, "worker", "--poll", f"{poll:g}"],
                stdout=subprocess.DEVNULL,
                stderr=worker_log,
            )
            worker_cpu = 0.0
            try:
                _wait_until_ready(port, server, server_log)
                _wait_for_worker(worker, worker_log, 60)
                cpu_before, wall_before = _cpu_seconds(worker.pid), time.perf_counter()
                sent = _Sent()
                if warmup:  # first connections, caches, the first leads: not measured
                    _send_all(port, key, run, range(warmup), rate or 10, 1, sent)
                measured = range(warmup, warmup + handoffs)
                started, finished = _send_all(port, key, run, measured, rate, senders, sent)
                expected = len(sent.ok_at)
                receiver.expected = expected
                if len(receiver.arrivals) < expected:
                    receiver.everything.wait(grace)
                time.sleep(min(0.5, grace))  # late duplicates would show up now
                if worker.poll() is not None:
                    raise RuntimeError(
                        f"leadgate worker exited with {worker.returncode}:\n{_tail(worker_log)}"
                    )
                worker_cpu = (_cpu_seconds(worker.pid) - cpu_before) / (
                    time.perf_counter() - wall_before
                )
            finally:
                worker.terminate()
                server.terminate()
                worker.wait(timeout=30)
                server.wait(timeout=30)
            counts = database_counts(url)
        measured_emails = {lead_email(run, i) for i in measured}
        pairs = [
            (sent.ok_at[email], receiver.arrivals[email].at)
            for email in measured_emails
            if email in sent.ok_at and email in receiver.arrivals
        ]
        latencies = sorted(arrived - ok for ok, arrived in pairs)
        first_ok = min((ok for ok, _ in pairs), default=0.0)
        last_arrival = max((arrived for _, arrived in pairs), default=0.0)
        return HandoffResult(
            backend=backend,
            poll=poll,
            handoffs=handoffs,
            rate=rate,
            send_seconds=finished - started,
            latencies=latencies,
            request_seconds=sorted(sent.request_seconds),
            missing=sum(1 for email in sent.ok_at if email not in receiver.arrivals),
            failed_requests=sent.failed,
            duplicates=receiver.duplicates,
            bad_signatures=receiver.bad_signatures,
            unexpected=len(receiver.unexpected),
            drain_seconds=last_arrival - first_ok,
            counts=counts,
            worker_cpu=worker_cpu,
            first_error=sent.first_error or (receiver.unexpected[:1] or [""])[0],
        )
    finally:
        drop_database(url)
