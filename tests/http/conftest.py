"""The leadgate HTTP app on each database back end, for HTTP tests: in this process, or
as a real server on 127.0.0.1.

``app_server``: the app built by ``leadgate.api.app.create_app``, started once (its ASGI
lifespan runs, as at a server's start-up) and called in this process by httpx clients
whose transport hands each request to httpx's ASGI transport on the app's one event loop.
Every status, header and body is the app's; only the socket and uvicorn are left out, so
API behaviour is tested in milliseconds.

``live_server``: uvicorn running the real app in a thread of the test process, bound to a
free port, for what needs a socket: the tracking SDKs, the browser, the server itself.
"""

from __future__ import annotations

import math
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import pytest
import uvicorn
from anyio.from_thread import BlockingPortal, start_blocking_portal
from fastapi import FastAPI
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


APP_URL = "http://127.0.0.1"  # the host a live server has; cookies are set for it

# For HTTP behaviour that does not depend on the database (status codes, validation,
# authentication, the shape of errors and pages): run on SQLite only. The same request
# paths run on PostgreSQL wherever storage decides the answer.
sqlite_only = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


class _Chunks(httpx.AsyncByteStream):
    """A request body, in the chunks the client sent it in."""

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            yield chunk


class AppTransport(httpx.BaseTransport):
    """Hands each request of a synchronous httpx client to httpx's ASGI transport on the
    event loop of ``portal``, where the app was started, and returns the app's answer as
    sent: status, headers and the body's bytes (still compressed if the app compressed
    them). The request body reaches the app in the client's chunks (a streamed upload
    stays chunked, with no Content-Length). An exception inside the app is raised here,
    with its traceback."""

    def __init__(self, api: FastAPI, portal: BlockingPortal) -> None:
        self._asgi = httpx.ASGITransport(app=api)
        self._portal = portal

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        chunks = list(request.stream)

        async def send() -> tuple[int, httpx.Headers, bytes, dict[str, Any]]:
            forwarded = httpx.Request(
                request.method,
                request.url,
                headers=request.headers,
                stream=_Chunks(chunks),
                extensions=request.extensions,
            )
            answer = await self._asgi.handle_async_request(forwarded)
            assert isinstance(answer.stream, httpx.AsyncByteStream)
            raw = b"".join([part async for part in answer.stream])
            return answer.status_code, answer.headers, raw, dict(answer.extensions)

        status, headers, raw, extensions = self._portal.call(send)
        return httpx.Response(
            status, headers=headers, stream=httpx.ByteStream(raw), extensions=extensions
        )


def app_client(api: FastAPI, portal: BlockingPortal, key: str = "", **kwargs: Any) -> httpx.Client:
    """An httpx client of the started ``api``, authenticated with ``key`` (none if empty),
    configured as a client of a live server would be."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(
        base_url=APP_URL,
        headers=headers,
        timeout=30,
        transport=AppTransport(api, portal),
        **kwargs,
    )


@asynccontextmanager
async def _lifespan(api: FastAPI) -> AsyncIterator[None]:
    """The ASGI lifespan protocol, as a server speaks it: start-up before the first
    request, shut-down after the last."""
    to_app, app_inbox = anyio.create_memory_object_stream[dict[str, Any]](math.inf)
    app_outbox, from_app = anyio.create_memory_object_stream[dict[str, Any]](math.inf)

    async def receive() -> dict[str, Any]:
        return await app_inbox.receive()

    async def send(message: dict[str, Any]) -> None:
        await app_outbox.send(message)

    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
    async with to_app, app_inbox, app_outbox, from_app, anyio.create_task_group() as tasks:
        tasks.start_soon(api, scope, receive, send)
        await to_app.send({"type": "lifespan.startup"})
        started = await from_app.receive()
        assert started["type"] == "lifespan.startup.complete", started
        try:
            yield
        finally:
            await to_app.send({"type": "lifespan.shutdown"})
            stopped = await from_app.receive()
            assert stopped["type"] == "lifespan.shutdown.complete", stopped


@contextmanager
def started_app(wired: App) -> Iterator[tuple[FastAPI, BlockingPortal]]:
    """The app on ``wired`` with its own event loop thread, started until the block ends."""
    api = create_app(wired)
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(_lifespan(api)):
        yield api, portal


@dataclass
class AppServer:
    """The app started in this process, its wiring, and keys for each kind of caller."""

    url: str
    app: App
    track_key: str  # lg_pub_...: tracking only
    secret_key: str  # lg_sk_...: read, write and admin
    api: FastAPI
    portal: BlockingPortal

    def client(self, key: str | None = None, **kwargs: Any) -> httpx.Client:
        """A client of the app, authenticated with ``key`` (the secret key by default;
        pass "" for none)."""
        key = self.secret_key if key is None else key
        return app_client(self.api, self.portal, key, **kwargs)


@pytest.fixture
def app_server(
    engine: Engine, default_model: int, server_settings: Settings
) -> Iterator[AppServer]:
    """The app on this test's database with the default model active and two keys."""
    wired = App(server_settings, engine)
    track = create_key(wired.uow(), name="test-tracking", scopes="track", now=T0).secret
    secret = create_key(wired.uow(), name="test-admin", scopes="admin", now=T0).secret
    with started_app(wired) as (api, portal):
        yield AppServer(APP_URL, wired, track, secret, api, portal)
