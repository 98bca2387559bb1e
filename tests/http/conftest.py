"""A real leadgate HTTP server on 127.0.0.1, on each database back end, for HTTP tests.

The server is uvicorn running the real app in a thread of the test process, bound to a
free port; tests talk to it with real HTTP clients (httpx, and the tracking SDKs).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine

from leadgate.api.app import create_app
from leadgate.bootstrap import App
from leadgate.config import Settings
from leadgate.services.keys import create_key
from tests.conftest import T0


@dataclass
class LiveServer:
    """A running server, its wiring, and keys for each kind of caller."""

    url: str
    app: App
    track_key: str  # lg_pub_...: tracking only
    secret_key: str  # lg_sk_...: read, write and admin

    def client(self, key: str | None = None, **kwargs: object) -> httpx.Client:
        """An HTTP client on the server, authenticated with ``key`` (the secret key by
        default; pass "" for none)."""
        key = self.secret_key if key is None else key
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kwargs)  # type: ignore[arg-type]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(wired: App) -> tuple[uvicorn.Server, threading.Thread, str]:
    port = _free_port()
    config = uvicorn.Config(
        create_app(wired), host="127.0.0.1", port=port, log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    return server, thread, f"http://127.0.0.1:{port}"


@pytest.fixture
def server_settings() -> Settings:
    """Override in a test module to run the server with other settings."""
    return Settings(database_url="sqlite://", key_cache_seconds=0.0)


@pytest.fixture
def live_server(
    engine: Engine, default_model: int, server_settings: Settings
) -> Iterator[LiveServer]:
    """A server on this test's database with the default model active and two keys."""
    wired = App(server_settings, engine)
    track = create_key(wired.uow(), name="test-tracking", scopes="track", now=T0).secret
    secret = create_key(wired.uow(), name="test-admin", scopes="admin", now=T0).secret
    server, thread, url = start_server(wired)
    try:
        yield LiveServer(url, wired, track, secret)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
