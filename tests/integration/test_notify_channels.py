"""The notification channels against real receivers on 127.0.0.1: an HTTP server that records
requests and checks webhook signatures itself, and an aiosmtpd SMTP server (plain, STARTTLS
with AUTH, implicit TLS) receiving real mail. Nothing on the network path is mocked."""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from leadgate.adapters.notify.channel import (
    Channel,
    ChannelConfigError,
    DeliveryResult,
    channel_from_config,
)
from leadgate.adapters.notify.webhook import verify_signature
from leadgate.domain.notifications import (
    AccountSummary,
    ContextPackage,
    HandoffSummary,
    LeadSummary,
    Notification,
    ScoreSummary,
    TopContribution,
    handoff_created,
    sla_breached,
)

SECRET = "whsec-integration-0123456789"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LINK = "https://leadgate.example.com/leads/7"

# A test-only CA and a certificate for 127.0.0.1 it signed (valid 2000–2100), made with
# `openssl ca`; the key protects nothing but these tests' loopback TLS.
TEST_CA = """-----BEGIN CERTIFICATE-----
MIIBaDCCAQ+gAwIBAgIBATAKBggqhkjOPQQDAjAbMRkwFwYDVQQDDBBsZWFkZ2F0
ZSB0ZXN0IENBMCAXDTAwMDEwMTAwMDAwMFoYDzIxMDAwMTAxMDAwMDAwWjAbMRkw
FwYDVQQDDBBsZWFkZ2F0ZSB0ZXN0IENBMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcD
QgAEHXxUmZwqttYhHkGK6puvUOYDKl1bnDTSJ0/ecHtvAgbPXMQz/6hbF7xtN9MP
X/GkYu+KWxulwP3McaUnxTGRGKNCMEAwDwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8B
Af8EBAMCAQYwHQYDVR0OBBYEFCXoB9ki9lUMEqTNWUihmskDIXv3MAoGCCqGSM49
BAMCA0cAMEQCIA4+32GK+GHIxKzo4YXdp8C4xcAXS9tjiBGOAeOHFEQ8AiAUjBx1
N1yzPp8qSrxgCSypeOds1SQO3ANG6hgGft7ASw==
-----END CERTIFICATE-----
"""
TEST_CERT = """-----BEGIN CERTIFICATE-----
MIIBszCCAVmgAwIBAgIBAjAKBggqhkjOPQQDAjAbMRkwFwYDVQQDDBBsZWFkZ2F0
ZSB0ZXN0IENBMCAXDTAwMDEwMTAwMDAwMFoYDzIxMDAwMTAxMDAwMDAwWjAUMRIw
EAYDVQQDDAkxMjcuMC4wLjEwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAARX3KVV
T7veqILnfWvs/4M7qJNQ7XCGjEingLaKIaESR+YFsmh3JEmgWrQ9PDOGb9rY8Grp
MDmPprttnYuf1ye8o4GSMIGPMAwGA1UdEwEB/wQCMAAwDgYDVR0PAQH/BAQDAgeA
MBMGA1UdJQQMMAoGCCsGAQUFBwMBMBoGA1UdEQQTMBGHBH8AAAGCCWxvY2FsaG9z
dDAdBgNVHQ4EFgQUgpvblrwu5Pn6zLFnU3pzT/9Ci+cwHwYDVR0jBBgwFoAUJegH
2SL2VQwSpM1ZSKGayQMhe/cwCgYIKoZIzj0EAwIDSAAwRQIhAJVhpHv7srquXpJe
mgqSM5FJRBXQXF+N/CDD8/w4aK8XAiA/H74Xi3n6/oSqGkNs4ssVTkpyeNq93Yo5
uf94AyvPvw==
-----END CERTIFICATE-----
"""
TEST_KEY = """-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgonSx5no7mGJKTpuN
rcY9NwXGSyK0a7y7Ll1dRY6AnZShRANCAARX3KVVT7veqILnfWvs/4M7qJNQ7XCG
jEingLaKIaESR+YFsmh3JEmgWrQ9PDOGb9rY8GrpMDmPprttnYuf1ye8
-----END PRIVATE KEY-----
"""


def notification(handoff_id: int = 42) -> Notification:
    lead = LeadSummary(7, email="ann@acme.io", first_name="Ann", last_name="Lee", title="CMO")
    context = ContextPackage(
        lead=lead,
        account=AccountSummary("acme.io", "Acme", "software", 250),
        score=ScoreSummary(40, 47, 87, "A", 3),
        top_contributions=(TopContribution("demo_request", "engagement", 30, "Asked for a demo"),),
        form_answers={"Comment": "<!channel> ünïcode & <b>tags</b>"},
    )
    handoff = HandoffSummary(
        handoff_id, 7, T0, owner="jane@seller.io", due_at=T0 + timedelta(hours=4)
    )
    return handoff_created(handoff, context, link=LINK)


# --- a real HTTP receiver ---------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    signature_ok: bool | None  # checked on /hook only

    def json(self) -> Any:
        return json.loads(self.body)


class _Server(ThreadingHTTPServer):
    # Join handler threads on close, so no request outlives its test.
    daemon_threads = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (the timeout test) is expected, not a failure


class Receiver:
    """Records every request; answers by path: /hook checks the signature (401 if wrong),
    /status/<code>?retry_after=<v> answers that status, /slow waits, /redirect redirects,
    anything else is 200."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.requests: list[Received] = []
        self.port = 0
        self.release = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self, port: int = 0) -> None:
        self.release.clear()
        self._server = _Server(("127.0.0.1", port), self._handler())
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        self._server = self._thread = None

    def signature_ok(self, headers: dict[str, str], body: bytes) -> bool:
        """The receiver's own check, written from the documented recipe, not leadgate's."""
        timestamp = headers.get("x-leadgate-timestamp", "")
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 300:
            return False
        digest = hmac.new(self.secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
        return hmac.compare_digest(
            "sha256=" + digest.hexdigest(), headers.get("x-leadgate-signature", "")
        )

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                url = urlsplit(self.path)
                signed = receiver.signature_ok(headers, body) if url.path == "/hook" else None
                receiver.requests.append(Received(url.path, headers, body, signed))
                extra: dict[str, str] = {}
                if signed is False:
                    status, text = 401, "bad signature"
                elif url.path.startswith("/status/"):
                    status, text = int(url.path.rsplit("/", 1)[1]), "receiver says no"
                    for value in parse_qs(url.query).get("retry_after", []):
                        extra["Retry-After"] = value
                elif url.path == "/slow":
                    receiver.release.wait(5)
                    status, text = 200, "late"
                elif url.path == "/redirect":
                    status, text = 302, ""
                    extra["Location"] = receiver.url("/elsewhere")
                else:
                    status, text = 200, "ok"
                payload = text.encode()
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(SECRET)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def open_channels() -> Iterator[list[Channel]]:
    channels: list[Channel] = []
    yield channels
    for channel in channels:
        channel.close()


def make(channels: list[Channel], kind: str, **config: Any) -> Channel:
    channel = channel_from_config(kind, config)
    channels.append(channel)
    return channel


def webhook(channels: list[Channel], url: str, **config: Any) -> Channel:
    return make(channels, "webhook", url=url, secret=SECRET, **config)


# --- HTTP channels ----------------------------------------------------------------------------


def test_slack_message_arrives(receiver: Receiver, open_channels: list[Channel]) -> None:
    result = make(open_channels, "slack", url=receiver.url("/slack")).deliver(notification())
    assert (result.ok, result.status, result.error) == (True, 200, None)
    assert result.duration_ms > 0
    (request,) = receiver.requests
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    assert request.headers["user-agent"].startswith("leadgate/")
    message = request.json()
    assert message["blocks"][0]["type"] == "header"
    assert message["blocks"][-1]["elements"][0]["url"] == LINK
    assert "&lt;!channel&gt; ünïcode &amp; &lt;b&gt;tags&lt;/b&gt;" in json.dumps(
        message, ensure_ascii=False
    )


def test_teams_card_arrives(receiver: Receiver, open_channels: list[Channel]) -> None:
    result = make(open_channels, "teams", url=receiver.url("/teams")).deliver(notification())
    assert result.ok
    message = receiver.requests[0].json()
    assert message["type"] == "message"
    assert message["attachments"][0]["content"]["type"] == "AdaptiveCard"


def test_webhook_is_signed_and_the_receiver_verifies_it(
    receiver: Receiver, open_channels: list[Channel]
) -> None:
    note = notification()
    result = webhook(open_channels, receiver.url("/hook")).deliver(note)
    assert result.ok, result.error
    (request,) = receiver.requests
    assert request.signature_ok is True
    assert verify_signature(
        SECRET,
        request.headers["x-leadgate-timestamp"],
        request.body,
        request.headers["x-leadgate-signature"],
    )
    assert request.headers["x-leadgate-event"] == "handoff.created"
    assert request.headers["x-leadgate-delivery"] == note.key
    event = request.json()
    assert (event["id"], event["type"]) == (note.key, "handoff.created")
    assert event["data"]["context"]["form_answers"]["Comment"].startswith("<!channel> ünïcode")


def test_webhook_with_the_wrong_secret_is_refused_and_not_retried(
    receiver: Receiver, open_channels: list[Channel]
) -> None:
    channel = make(
        open_channels, "webhook", url=receiver.url("/hook"), secret="not-the-shared-secret"
    )
    result = channel.deliver(notification())
    assert (result.ok, result.status, result.retryable) == (False, 401, False)
    assert result.error == "HTTP 401: bad signature"
    assert receiver.requests[0].signature_ok is False


def test_receiver_down_then_back_loses_nothing(
    receiver: Receiver, open_channels: list[Channel]
) -> None:
    channel = webhook(open_channels, receiver.url("/hook"))
    first, second, third = notification(1), notification(2), notification(3)
    assert channel.deliver(first).ok

    port = receiver.port
    receiver.stop()
    down = channel.deliver(second)
    assert (down.ok, down.status, down.retryable) == (False, None, True)
    assert down.error is not None and "ConnectError" in down.error

    receiver.start(port)  # same URL, as after a receiver restart
    assert channel.deliver(second).ok  # the worker's retry: the same notification
    assert channel.deliver(third).ok
    # An acknowledgement lost after delivery makes the worker send again: same id, same body.
    assert channel.deliver(second).ok

    keys = [r.headers["x-leadgate-delivery"] for r in receiver.requests]
    assert keys == [first.key, second.key, third.key, second.key]
    assert all(r.signature_ok for r in receiver.requests)
    assert receiver.requests[1].body == receiver.requests[3].body
    assert {r.json()["id"] for r in receiver.requests} == {first.key, second.key, third.key}


@pytest.mark.parametrize(
    ("path", "status", "retryable", "retry_after"),
    [
        ("/status/500", 500, True, None),
        ("/status/502", 502, True, None),
        ("/status/503?retry_after=30", 503, True, 30.0),
        ("/status/408", 408, True, None),
        ("/status/429?retry_after=7", 429, True, 7.0),
        ("/status/400", 400, False, None),
        ("/status/404", 404, False, None),
        ("/status/410", 410, False, None),
    ],
)
def test_receiver_answers_decide_retry(
    receiver: Receiver,
    open_channels: list[Channel],
    path: str,
    status: int,
    retryable: bool,
    retry_after: float | None,
) -> None:
    for kind in ("slack", "teams", "webhook"):
        config: dict[str, Any] = {"secret": SECRET} if kind == "webhook" else {}
        result = make(open_channels, kind, url=receiver.url(path), **config).deliver(notification())
        assert (result.ok, result.status, result.retryable) == (False, status, retryable), kind
        assert result.retry_after == retry_after
        assert result.error == f"HTTP {status}: receiver says no"


def test_retry_after_as_an_http_date(receiver: Receiver, open_channels: list[Channel]) -> None:
    later = datetime.now(UTC) + timedelta(seconds=120)
    date = later.strftime("%a, %d %b %Y %H:%M:%S GMT")
    url = receiver.url("/status/429?retry_after=" + date.replace(" ", "%20"))
    result = make(open_channels, "slack", url=url).deliver(notification())
    assert result.retryable
    assert result.retry_after is not None and 100 < result.retry_after <= 120


def test_a_slow_receiver_times_out_and_is_retryable(
    receiver: Receiver, open_channels: list[Channel]
) -> None:
    channel = webhook(open_channels, receiver.url("/slow"), timeout=0.3)
    started = time.monotonic()
    result = channel.deliver(notification())
    assert time.monotonic() - started < 3
    assert (result.ok, result.status, result.retryable) == (False, None, True)
    assert result.error == "timed out (ReadTimeout)"
    receiver.release.set()


def test_redirects_are_not_followed(receiver: Receiver, open_channels: list[Channel]) -> None:
    result = make(open_channels, "slack", url=receiver.url("/redirect")).deliver(notification())
    assert (result.ok, result.status, result.retryable) == (False, 302, False)
    assert [r.path for r in receiver.requests] == ["/redirect"]


# --- a real SMTP server ---------------------------------------------------------------------


class Mailbox:
    """aiosmtpd handler: keeps accepted mail; refuses unknown@ (550) and busy@ (451)."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.startswith("unknown@"):
            return "550 5.1.1 no such mailbox"
        if address.startswith("busy@"):
            return "451 4.3.0 mailbox busy, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        return [
            email.message_from_bytes(e.original_content or b"", policy=email.policy.default)
            for e in self.envelopes
        ]


def _free_port() -> int:
    # aiosmtpd's controller needs the port before it starts (it connects to it to check).
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _server_tls(tmp_path: Path) -> ssl.SSLContext:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text(TEST_CERT)
    key.write_text(TEST_KEY)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


@pytest.fixture
def ca_file(tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    path.write_text(TEST_CA)
    return str(path)


def _authenticate(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"alerts", b"s3cret")
    # handled=False: let aiosmtpd answer a failure with its 535 (True would mean we did).
    return AuthResult(success=ok, handled=False, auth_data=data)


@pytest.fixture
def smtp_servers(tmp_path: Path) -> Iterator[dict[str, tuple[Mailbox, int]]]:
    """Three servers: plain, STARTTLS with required AUTH, implicit TLS."""
    tls = _server_tls(tmp_path)
    servers: dict[str, tuple[Mailbox, int]] = {}
    controllers: list[Controller] = []
    options: dict[str, dict[str, Any]] = {
        "plain": {},
        "starttls": {
            "tls_context": tls,
            "require_starttls": True,
            "authenticator": _authenticate,
            "auth_required": True,
            "auth_require_tls": True,
        },
        "ssl": {"ssl_context": tls},
    }
    try:
        for name, extra in options.items():
            mailbox, port = Mailbox(), _free_port()
            controller = Controller(mailbox, hostname="127.0.0.1", port=port, **extra)
            controller.start()
            controllers.append(controller)
            servers[name] = (mailbox, port)
        yield servers
    finally:
        for controller in controllers:
            controller.stop()


def _email(port: int, **config: Any) -> Channel:
    settings = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "from": "leadgate <alerts@leadgate.example.com>",
        "to": ["sdr@seller.io", "Jane Roe <jane@seller.io>"],
        "timeout": 5,
        "local_hostname": "leadgate.test",
        **config,
    }
    return channel_from_config("email", settings)


def _check_mail(mailbox: Mailbox, note: Notification) -> None:
    (envelope,) = mailbox.envelopes
    assert envelope.mail_from == "alerts@leadgate.example.com"
    assert envelope.rcpt_tos == ["sdr@seller.io", "jane@seller.io"]
    (message,) = mailbox.messages()
    assert message["Subject"] == note.title
    assert message["From"] == "leadgate <alerts@leadgate.example.com>"
    assert message["To"] == "sdr@seller.io, Jane Roe <jane@seller.io>"
    assert message["Message-ID"] == f"<{note.key}@leadgate.example.com>"
    assert message["X-Leadgate-Event"] == "handoff.created"
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None and html is not None
    text, markup = plain.get_content(), html.get_content()
    assert "Owner:           jane@seller.io" in text
    assert "Comment: <!channel> ünïcode & <b>tags</b>" in text
    assert f"Open lead: {LINK}" in text
    assert "&lt;!channel&gt; ünïcode &amp; &lt;b&gt;tags&lt;/b&gt;" in markup
    assert f'<a href="{LINK}"' in markup


def _deliver(channel: Channel, note: Notification) -> DeliveryResult:
    try:
        return channel.deliver(note)
    finally:
        channel.close()


def test_email_arrives_with_text_and_html(smtp_servers: dict[str, tuple[Mailbox, int]]) -> None:
    mailbox, port = smtp_servers["plain"]
    note = notification()
    result = _deliver(_email(port), note)
    assert (result.ok, result.status, result.error) == (True, 250, None)
    _check_mail(mailbox, note)


def test_email_over_starttls_with_auth(
    smtp_servers: dict[str, tuple[Mailbox, int]], ca_file: str
) -> None:
    mailbox, port = smtp_servers["starttls"]
    note = notification()
    settings = {"security": "starttls", "ca_file": ca_file}
    result = _deliver(_email(port, username="alerts", password="s3cret", **settings), note)
    assert result.ok, result.error
    _check_mail(mailbox, note)

    refused = _deliver(_email(port, username="alerts", password="wrong", **settings), note)
    assert (refused.ok, refused.status, refused.retryable) == (False, 535, False)
    assert refused.error is not None and "SMTPAuthenticationError" in refused.error


def test_email_over_implicit_tls(
    smtp_servers: dict[str, tuple[Mailbox, int]], ca_file: str
) -> None:
    mailbox, port = smtp_servers["ssl"]
    note = notification()
    result = _deliver(_email(port, security="ssl", ca_file=ca_file), note)
    assert result.ok, result.error
    _check_mail(mailbox, note)


def test_email_refuses_an_untrusted_certificate(
    smtp_servers: dict[str, tuple[Mailbox, int]],
) -> None:
    _, port = smtp_servers["ssl"]
    result = _deliver(_email(port, security="ssl"), notification())  # system CAs only
    assert (result.ok, result.retryable) == (False, False)
    assert result.error is not None and "SSLCertVerificationError" in result.error


def test_email_starttls_required_but_not_offered(
    smtp_servers: dict[str, tuple[Mailbox, int]], ca_file: str
) -> None:
    mailbox, port = smtp_servers["plain"]
    result = _deliver(_email(port, security="starttls", ca_file=ca_file), notification())
    assert (result.ok, result.retryable) == (False, False)
    assert result.error is not None and "STARTTLS" in result.error
    assert mailbox.envelopes == []


def test_email_recipient_refusals(smtp_servers: dict[str, tuple[Mailbox, int]]) -> None:
    mailbox, port = smtp_servers["plain"]
    note = notification()
    gone = _deliver(_email(port, to="unknown@seller.io"), note)
    assert (gone.ok, gone.status, gone.retryable) == (False, 550, False)
    assert gone.error == "all recipients refused: unknown@seller.io (550 5.1.1 no such mailbox)"

    busy = _deliver(_email(port, to="busy@seller.io"), note)
    assert (busy.ok, busy.status, busy.retryable) == (False, 451, True)

    partial = _deliver(_email(port, to=["sdr@seller.io", "unknown@seller.io"]), note)
    assert (partial.ok, partial.retryable) == (True, False)  # resending would duplicate
    assert partial.error == "refused: unknown@seller.io (550 5.1.1 no such mailbox)"
    assert [e.rcpt_tos for e in mailbox.envelopes] == [["sdr@seller.io"]]


def test_email_server_down_is_retryable() -> None:
    result = _deliver(_email(_free_port()), notification())
    assert (result.ok, result.status, result.retryable) == (False, None, True)
    assert result.error is not None and "ConnectionRefusedError" in result.error


def test_email_to_recipients_writes_to_the_rep_and_the_manager(
    smtp_servers: dict[str, tuple[Mailbox, int]],
) -> None:
    """``to_recipients``: a breach alert reaches the owner and the team manager named in
    the handoff, with no fixed ``to``; ids that are not addresses are left out."""
    mailbox, port = smtp_servers["plain"]
    handoff = HandoffSummary(
        9, 7, T0, owner="jane@seller.io", manager="boss@seller.io", due_at=T0 + timedelta(hours=1)
    )
    lead = LeadSummary(7, email="ann@acme.io", first_name="Ann")
    breach = sla_breached(
        handoff, lead, occurred_at=T0 + timedelta(hours=2), overdue=timedelta(hours=1)
    )
    assert breach.recipients == ("jane@seller.io", "boss@seller.io")
    owner_only = sla_breached(
        handoff, lead, occurred_at=T0, overdue=timedelta(hours=1), alert_manager=False
    )
    assert owner_only.recipients == ("jane@seller.io",)

    settings = {"to": None, "to_recipients": "true"}
    result = _deliver(_email(port, **settings), Notification.from_record(breach.to_record()))
    assert (result.ok, result.status) == (True, 250)
    (envelope,) = mailbox.envelopes
    assert envelope.rcpt_tos == ["jane@seller.io", "boss@seller.io"]
    assert mailbox.messages()[0]["To"] == "jane@seller.io, boss@seller.io"

    # A queued handoff whose team manager is not an address: nothing to send, not an error.
    queued = replace(breach, recipients=("emea-team",))
    result = _deliver(_email(port, **settings), queued)
    assert (result.ok, result.status, result.error) == (True, None, "no recipients: nothing sent")
    assert len(mailbox.envelopes) == 1


def test_email_needs_to_unless_it_writes_to_recipients() -> None:
    base = {"host": "127.0.0.1", "security": "none", "from": "a@b.io"}
    with pytest.raises(ChannelConfigError, match="to"):
        channel_from_config("email", base)
    with pytest.raises(ChannelConfigError, match=r"to_recipients.*true or false"):
        channel_from_config("email", {**base, "to_recipients": "maybe"})
    channel_from_config("email", {**base, "to_recipients": True}).close()
