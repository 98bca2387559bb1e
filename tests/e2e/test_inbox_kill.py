"""Inbox mode survives `kill -9`: a real `leadgate serve` killed mid-load loses no event it
answered 200 for and stores none twice, once restarted, retried and drained."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.cli.runner import leadgate as prepare
from tests.cli.runner import ok
from tests.e2e.servers import free_port, server_env, wait_ready
from tests.e2e.test_cli import LEADGATE

pytestmark = pytest.mark.slow

SENDERS = 4
PER_REQUEST = 50


def _serve(
    database: Path, port: int, tmp_path: Path, *, qualify: bool = True
) -> subprocess.Popen[str]:
    env = {
        **server_env(database),
        "LEADGATE_INGEST_MODE": "inbox",
        "LEADGATE_INBOX_SERVE_QUALIFIER": "true" if qualify else "false",
    }
    return subprocess.Popen(
        [str(LEADGATE), "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,  # its own process group: the kill reaches every process
    )


def _batch(sender: int, request: int) -> dict[str, object]:
    return {
        "batch": [
            {
                "type": "page",
                "messageId": f"s{sender}-r{request}-m{i}",
                "userId": f"user-{(sender * 7 + i) % 30}",
                "name": "Pricing",
                "properties": {"path": "/pricing"},
            }
            for i in range(PER_REQUEST)
        ]
    }


def test_a_server_killed_mid_load_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    database = tmp_path / "kill.db"
    ok(prepare(database, "db", "upgrade"))
    ok(prepare(database, "model", "activate", "--default"))
    key = ok(prepare(database, "keys", "create", "--name", "site")).splitlines()[0].strip()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = _serve(database, port, tmp_path)
    acknowledged: set[str] = set()
    unanswered: list[dict[str, object]] = []  # what a client would send again
    lock = threading.Lock()
    stop = threading.Event()

    def send(sender: int) -> None:
        with httpx.Client(base_url=url, auth=(key, ""), timeout=10) as http:
            for request in range(10_000):
                if stop.is_set():
                    return
                body = _batch(sender, request)
                ids = {str(m["messageId"]) for m in body["batch"]}  # type: ignore[attr-defined]
                try:
                    answer = http.post("/v1/batch", json=body)
                except httpx.TransportError:
                    with lock:
                        unanswered.append(body)
                    return  # the server is gone
                with lock:
                    if answer.status_code == 200:
                        acknowledged.update(ids)
                    else:
                        unanswered.append(body)

    try:
        wait_ready(url, server)
        senders = [threading.Thread(target=send, args=(i,)) for i in range(SENDERS)]
        for thread in senders:
            thread.start()
        time.sleep(1.5)  # mid-load: requests in flight, the qualifier mid-drain
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
        stop.set()
        for thread in senders:
            thread.join(timeout=20)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
    assert len(acknowledged) >= PER_REQUEST, "the load never got going"

    # Restarted (qualifying left to `leadgate inbox drain`), the clients' retries
    # answered and the inbox drained.
    # (Runs measured 50–200 calls still waiting in the inbox at this point.)
    server = _serve(database, port, tmp_path, qualify=False)
    try:
        wait_ready(url, server)
        with httpx.Client(base_url=url, auth=(key, ""), timeout=30) as http:
            for body in unanswered:
                assert http.post("/v1/batch", json=body).status_code == 200
        drained = ok(prepare(database, "inbox", "drain", "--json"))
        assert '"parked": 0' in drained
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    sent = acknowledged | {
        str(m["messageId"])
        for body in unanswered
        for m in body["batch"]  # type: ignore[attr-defined]
    }
    with sqlite3.connect(database) as db:
        stored = [row[0] for row in db.execute("SELECT message_id FROM touchpoints")]
        waiting = db.execute(
            "SELECT count(*) FROM inbox WHERE drained_at IS NULL AND parked_at IS NULL"
        ).fetchone()[0]
    assert waiting == 0
    assert len(stored) == len(set(stored)), "a touchpoint was stored twice"
    assert acknowledged <= set(stored), "an event answered 200 was lost"
    assert set(stored) == sent
