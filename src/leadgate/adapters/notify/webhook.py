"""Generic webhooks: the event as JSON, signed with HMAC-SHA256 and timestamped.

Request::

    POST <url>
    Content-Type: application/json; charset=utf-8
    X-Leadgate-Event: handoff.created
    X-Leadgate-Delivery: evt_3f1c...            (the idempotency key: same on every retry)
    X-Leadgate-Timestamp: 1772442000            (unix seconds when this attempt was signed)
    X-Leadgate-Signature: sha256=<hex>

    {"id": "evt_3f1c...", "type": "handoff.created", "occurred_at": "...", "data": {...}}

What is signed: the bytes ``<timestamp>.<body>``, that is the decimal timestamp exactly as
in ``X-Leadgate-Timestamp``, one ASCII dot, then the raw request body exactly as received
(UTF-8 JSON; verify before parsing or re-serialising it). The signature is
``"sha256=" + hex(HMAC-SHA256(key=secret as UTF-8, message=those bytes))``.

Receivers compare in constant time and refuse timestamps more than a few minutes from
their clock, which stops a captured request from being replayed later; within that window,
``X-Leadgate-Delivery`` (equal to the body's ``id``) identifies duplicates. A retry is
signed afresh with a new timestamp but carries the same delivery id and the same body.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from leadgate.adapters.notify._http import HttpChannel, read_http_settings
from leadgate.adapters.notify.channel import ConfigReader
from leadgate.domain.notifications import Notification

MIN_SECRET_CHARS = 16
DEFAULT_TOLERANCE = timedelta(minutes=5)
# Headers leadgate sets itself; configured extra headers may not replace them.
_RESERVED = frozenset(
    {
        "content-type",
        "content-length",
        "host",
        "user-agent",
        "x-leadgate-event",
        "x-leadgate-delivery",
        "x-leadgate-timestamp",
        "x-leadgate-signature",
    }
)


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    """Example: ``{"url": "https://crm.example.com/hooks/leadgate", "secret": "<32+ random
    characters>", "headers": {"Authorization": "Bearer ..."}}``.

    ``secret`` is shared with the receiver, which uses it to check ``X-Leadgate-Signature``;
    ``headers`` are sent as given (for receivers that also want a token).
    """

    url: str = field(repr=False)
    secret: str = field(repr=False)
    timeout: float = 10.0
    connect_timeout: float = 5.0
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, config: Mapping[str, Any]) -> WebhookConfig:
        reader = ConfigReader("webhook", config)
        settings = read_http_settings(reader, "where leadgate POSTs events")
        secret = reader.required_text(
            "secret", "generate one: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
        if len(secret) < MIN_SECRET_CHARS:
            reader.fail(
                "secret",
                f"must be at least {MIN_SECRET_CHARS} characters, a short secret can be guessed",
            )
        headers = reader.mapping("headers")
        for name in headers:
            if name.lower() in _RESERVED:
                reader.fail("headers", f"cannot set {name!r}: leadgate sets it")
        reader.done()
        return cls(secret=secret, headers=headers, **settings)


class WebhookChannel(HttpChannel):
    kind = "webhook"

    def __init__(
        self,
        config: WebhookConfig,
        *,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(config.url, config.timeout, config.connect_timeout, client)
        self._secret = config.secret
        self._headers = dict(config.headers)
        self._clock = clock

    def render(self, notification: Notification) -> tuple[bytes, dict[str, str]]:
        body = event_body(notification)
        timestamp = int(self._clock())
        return body, {
            **self._headers,
            "Content-Type": "application/json; charset=utf-8",
            "X-Leadgate-Event": notification.event.value,
            "X-Leadgate-Delivery": notification.key,
            "X-Leadgate-Timestamp": str(timestamp),
            "X-Leadgate-Signature": sign(self._secret, timestamp, body),
        }


def event_body(notification: Notification) -> bytes:
    """Given a notification, return the webhook body: the same bytes on every retry."""
    return json.dumps(notification.event_json(), ensure_ascii=False, separators=(",", ":")).encode(
        "utf-8"
    )


def sign(secret: str, timestamp: int | str, body: bytes | str) -> str:
    """Given the endpoint secret, the timestamp header and the raw body, return the
    ``X-Leadgate-Signature`` value: ``sha256=`` + hex HMAC-SHA256 of ``<timestamp>.<body>``."""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    message = str(timestamp).encode("ascii") + b"." + raw
    return "sha256=" + hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def verify_signature(
    secret: str,
    timestamp: int | str | None,
    body: bytes | str,
    signature: str | None,
    tolerance: timedelta = DEFAULT_TOLERANCE,
    now: datetime | None = None,
) -> bool:
    """Given what a receiver got (the two headers and the raw body), return whether the
    request is from the holder of ``secret`` and no older (or newer) than ``tolerance``.

    Pass the headers as received; a missing or malformed one gives False, never an error.
    """
    if timestamp is None or signature is None:
        return False
    text = str(timestamp).strip()
    if not text.isdigit():
        return False
    try:
        moment = datetime.fromtimestamp(int(text), UTC)
    except (OverflowError, OSError, ValueError):  # digits, but no representable time
        return False
    if abs((now or datetime.now(UTC)) - moment) > tolerance:
        return False
    expected = sign(secret, text, body)
    return hmac.compare_digest(expected.encode("ascii"), signature.strip().encode("utf-8"))
