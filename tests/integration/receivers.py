"""Real receivers on 127.0.0.1 for the handoff tests: an HTTP server that can be stopped and
started again on the same port and checks ``X-Leadgate-Signature`` itself, and an aiosmtpd
SMTP server keeping the mail it accepts. Nothing on the network path is mocked."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from leadgate.adapters.notify.webhook import verify_signature

SECRET = "whsec-handoff-tests-0123456789"


@dataclass(frozen=True)
class Received:
    """One request as the receiver saw it; ``signature_ok`` is the receiver's own check
    (None when the receiver has no secret, e.g. Slack or Teams)."""

    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    signature_ok: bool | None
    answered: int

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def key(self) -> str:
        """The idempotency key the sender put on this delivery."""
        return self.headers.get("x-leadgate-delivery", "")


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # joined on close: no request outlives its test
    allow_reuse_address = True  # start again on the same port right after a stop


class HttpReceiver:
    """Records every POST and answers ``status`` (200 unless a test says otherwise); with
    a ``secret``, a request to a ``/hook...`` path (the generic webhooks) with a wrong or
    stale signature is answered 401.

    ``stop()`` then ``start()`` keeps the port, as a receiver restarting behind one URL."""

    def __init__(self, secret: str | None = SECRET) -> None:
        self.secret = secret
        self.status = 200
        self.port = 0
        self._requests: list[Received] = []
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def requests(self) -> list[Received]:
        with self._lock:
            return list(self._requests)

    @property
    def delivered(self) -> list[Received]:
        """The requests answered 2xx: what the receiver accepted."""
        return [r for r in self.requests if 200 <= r.answered < 300]

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        """Listen on the port it had before (a free one the first time)."""
        self._server = _Server(("127.0.0.1", self.port), self._handler())
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        self._server = self._thread = None

    def _check(self, path: str, headers: dict[str, str], body: bytes) -> bool | None:
        if self.secret is None or not path.startswith("/hook"):
            return None
        return verify_signature(
            self.secret,
            headers.get("x-leadgate-timestamp"),
            body,
            headers.get("x-leadgate-signature"),
        )

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                signed = receiver._check(self.path, headers, body)
                status = 401 if signed is False else receiver.status
                with receiver._lock:
                    receiver._requests.append(Received(self.path, headers, body, signed, status))
                payload = b"ok" if status < 300 else b"receiver says no"
                self.send_response(status)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler


@contextmanager
def http_receiver(secret: str | None = SECRET) -> Iterator[HttpReceiver]:
    receiver = HttpReceiver(secret)
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()


class Mailbox:
    """aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        return [
            email.message_from_bytes(e.original_content or b"", policy=email.policy.default)
            for e in self.envelopes
        ]

    def wait_for(self, count: int, timeout: float = 5.0) -> list[EmailMessage]:
        """aiosmtpd stores a message after answering 250: wait until ``count`` are in."""
        deadline = time.monotonic() + timeout
        while len(self.envelopes) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.messages()


def free_port() -> int:
    # aiosmtpd's controller needs its port before it starts (it connects to check).
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    """A plain SMTP server on 127.0.0.1: (its mailbox, its port)."""
    mailbox, port = Mailbox(), free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()
