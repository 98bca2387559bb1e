"""One POST with explicit timeouts, turned into a ``DeliveryResult``; shared by the HTTP
channels (Slack, Teams, webhook)."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from typing import Any

import httpx

from leadgate import __version__
from leadgate.adapters.notify.channel import (
    ConfigReader,
    DeliveryResult,
    parse_retry_after,
    result_for_http_status,
)
from leadgate.domain.notifications import Notification

USER_AGENT = f"leadgate/{__version__}"

# Enough of an error answer to explain it ("invalid_payload", "no_service"); the rest is
# not read, so a misbehaving receiver cannot make the worker download megabytes.
_ERROR_BYTES = 512


def read_http_settings(reader: ConfigReader, url_hint: str) -> dict[str, Any]:
    """Read the settings every HTTP channel has: ``url``, ``timeout`` (each read and write,
    seconds) and ``connect_timeout`` (seconds)."""
    return {
        "url": reader.url("url", url_hint),
        "timeout": reader.number("timeout", 10.0, 0.1, 120.0),
        "connect_timeout": reader.number("connect_timeout", 5.0, 0.1, 60.0),
    }


class HttpChannel(ABC):
    """POSTs what ``render`` returns to the configured URL, once."""

    kind = "http"

    def __init__(
        self, url: str, timeout: float, connect_timeout: float, client: httpx.Client | None
    ) -> None:
        self._url = url
        self._timeout = httpx.Timeout(timeout, connect=connect_timeout, pool=connect_timeout)
        self._owns_client = client is None
        # Redirects are not followed: see result_for_http_status.
        self._client = client if client is not None else httpx.Client(follow_redirects=False)

    @abstractmethod
    def render(self, notification: Notification) -> tuple[bytes, dict[str, str]]:
        """Given a notification, return the request body and its headers."""

    def deliver(self, notification: Notification) -> DeliveryResult:
        body, headers = self.render(notification)
        headers = {"User-Agent": USER_AGENT, **headers}
        started = time.perf_counter()
        try:
            with self._client.stream(
                "POST",
                self._url,
                content=body,
                headers=headers,
                timeout=self._timeout,
                follow_redirects=False,
            ) as response:
                status, retry_after = response.status_code, response.headers.get("Retry-After")
                detail = "" if response.is_success else _read_detail(response)
        except httpx.TimeoutException as exc:
            return _failed(f"timed out ({type(exc).__name__})", started, retryable=True)
        except (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.InvalidURL) as exc:
            # Our request cannot be sent as configured: retrying sends it the same way.
            return _failed(f"{type(exc).__name__}: {exc}", started, retryable=False)
        except httpx.TransportError as exc:
            # Refused, reset, DNS, TLS handshake, closed mid-answer: the receiver may recover.
            return _failed(f"{type(exc).__name__}: {exc}".rstrip(": "), started, retryable=True)
        return result_for_http_status(
            status,
            duration_ms=_elapsed(started),
            detail=detail,
            retry_after=parse_retry_after(retry_after),
        )

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> HttpChannel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _read_detail(response: httpx.Response) -> str:
    head = b""
    try:
        for chunk in response.iter_bytes():
            head += chunk
            if len(head) >= _ERROR_BYTES:
                break
    except httpx.HTTPError:
        pass  # the status already says what happened; the text is a courtesy
    text = " ".join(head[:_ERROR_BYTES].decode("utf-8", "replace").split())
    return text[:200] or response.reason_phrase


def _failed(error: str, started: float, *, retryable: bool) -> DeliveryResult:
    return DeliveryResult(False, None, error, retryable, _elapsed(started))


def _elapsed(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
