"""The worker's ``deliver``: an endpoint's stored settings → a channel → one attempt.

Channels are built once per endpoint and kept (with one shared HTTP client, so
connections to a receiver are reused across messages); an endpoint whose settings changed
since is rebuilt. Settings that no longer parse are a failed attempt that will not
succeed by retrying, so the message goes to the dead-letter with the reason.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx

from leadgate.adapters.notify.channel import (
    Channel,
    ChannelConfigError,
    DeliveryResult,
    channel_from_config,
)
from leadgate.domain.notifications import Notification
from leadgate.services.ports import Endpoint


class Dispatcher:
    """``Dispatcher()(endpoint, notification)`` makes one attempt; ``close()`` at the end."""

    def __init__(self, *, timeout: float = 10.0) -> None:
        self._client = httpx.Client(timeout=timeout, follow_redirects=False)
        self._channels: dict[int, tuple[str, Channel]] = {}
        self._lock = threading.Lock()

    def __call__(self, endpoint: Endpoint, notification: Notification) -> DeliveryResult:
        try:
            channel = self._channel(endpoint)
        except ChannelConfigError as exc:
            field = f"{exc.field}: " if exc.field else ""
            return DeliveryResult(
                ok=False,
                status=None,
                error=f"endpoint {endpoint.name!r} settings: {field}{exc}",
                retryable=False,
                duration_ms=0.0,
            )
        return channel.deliver(notification)

    def _channel(self, endpoint: Endpoint) -> Channel:
        fingerprint = _fingerprint(endpoint)
        with self._lock:
            cached = self._channels.get(endpoint.id)
            if cached is not None and cached[0] == fingerprint:
                return cached[1]
            channel = channel_from_config(endpoint.kind, endpoint.config, client=self._client)
            self._channels[endpoint.id] = (fingerprint, channel)
            return channel

    def close(self) -> None:
        with self._lock:
            for _, channel in self._channels.values():
                channel.close()
            self._channels.clear()
        self._client.close()

    def __enter__(self) -> Dispatcher:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _fingerprint(endpoint: Endpoint) -> str:
    return endpoint.kind + json.dumps(dict(endpoint.config), sort_keys=True, default=str)
