"""Channels: one delivery attempt of a notification to Slack, Teams, a webhook or a mailbox.

A channel renders the notification for its receiver and makes exactly one attempt. It never
retries or sleeps: the outbox worker owns retries, backoff and dead-lettering, and decides
from the ``DeliveryResult`` (``retryable``, ``retry_after``). That keeps a slow receiver
from holding a worker inside a retry loop and keeps every attempt recorded.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import formataddr, getaddresses, parsedate_to_datetime
from typing import TYPE_CHECKING, Any, NoReturn, Protocol, TypeAlias
from urllib.parse import urlsplit

from leadgate.domain.notifications import Notification

if TYPE_CHECKING:
    import httpx

    from leadgate.adapters.notify.email import EmailConfig
    from leadgate.adapters.notify.slack import SlackConfig
    from leadgate.adapters.notify.teams import TeamsConfig
    from leadgate.adapters.notify.webhook import WebhookConfig

    ChannelConfig: TypeAlias = SlackConfig | TeamsConfig | WebhookConfig | EmailConfig

CHANNEL_KINDS = ("slack", "teams", "webhook", "email")


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What one attempt did.

    ``status`` is the HTTP status, or for email the SMTP reply code (250 when accepted);
    None when no answer came (connection refused, timeout). ``retryable`` says whether the
    same notification may succeed later; ``retry_after`` is the receiver's own wait, in
    seconds, from a ``Retry-After`` header (429 or 503), for the worker's backoff.
    """

    ok: bool
    status: int | None
    error: str | None
    retryable: bool
    duration_ms: float
    retry_after: float | None = None


class Channel(Protocol):
    """A configured destination. Implementations are safe to share between threads."""

    @property
    def kind(self) -> str: ...

    def deliver(self, notification: Notification) -> DeliveryResult:
        """Make one attempt; never raises for receiver or network trouble."""
        ...

    def close(self) -> None:
        """Release connections the channel holds (an HTTP client it created)."""
        ...


class ChannelConfigError(ValueError):
    """A channel's settings are missing or invalid; the message names the field."""

    def __init__(self, kind: str, field: str | None, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.field = field


def config_from_dict(kind: str, config: Mapping[str, Any]) -> ChannelConfig:
    """Given a channel kind and its settings, return the typed config, or raise
    ``ChannelConfigError`` naming the wrong field (useful to validate before storing)."""
    # Imported here: each channel module imports this one for DeliveryResult.
    from leadgate.adapters.notify.email import EmailConfig
    from leadgate.adapters.notify.slack import SlackConfig
    from leadgate.adapters.notify.teams import TeamsConfig
    from leadgate.adapters.notify.webhook import WebhookConfig

    parsers: dict[str, Callable[[Mapping[str, Any]], ChannelConfig]] = {
        "slack": SlackConfig.from_dict,
        "teams": TeamsConfig.from_dict,
        "webhook": WebhookConfig.from_dict,
        "email": EmailConfig.from_dict,
    }
    parser = parsers.get(kind)
    if parser is None:
        raise ChannelConfigError(
            str(kind), None, f"unknown channel kind {kind!r}; use one of {', '.join(parsers)}"
        )
    return parser(config)


def channel_from_config(
    kind: str, config: Mapping[str, Any], *, client: httpx.Client | None = None
) -> Channel:
    """Given a channel kind and its settings, return a ready channel.

    HTTP channels share ``client`` when given (the caller closes it); otherwise each
    creates its own and ``close()`` releases it.
    """
    from leadgate.adapters.notify.email import EmailChannel, EmailConfig
    from leadgate.adapters.notify.slack import SlackChannel, SlackConfig
    from leadgate.adapters.notify.teams import TeamsChannel, TeamsConfig
    from leadgate.adapters.notify.webhook import WebhookChannel, WebhookConfig

    parsed = config_from_dict(kind, config)
    if isinstance(parsed, SlackConfig):
        return SlackChannel(parsed, client=client)
    if isinstance(parsed, TeamsConfig):
        return TeamsChannel(parsed, client=client)
    if isinstance(parsed, WebhookConfig):
        return WebhookChannel(parsed, client=client)
    assert isinstance(parsed, EmailConfig)
    return EmailChannel(parsed)


# --- HTTP answers ---------------------------------------------------------------------------


def result_for_http_status(
    status: int, *, duration_ms: float, detail: str = "", retry_after: float | None = None
) -> DeliveryResult:
    """Given an HTTP status, return the attempt's result.

    2xx is delivered. 408 and 429 are the receiver asking for later, and 5xx is the
    receiver's own trouble: retryable. Any other 4xx (bad payload, revoked webhook, wrong
    signature) fails the same way every time, and so does a redirect, which is not followed
    (a POST must not wander to another host): not retryable.
    """
    if 200 <= status < 300:
        return DeliveryResult(True, status, None, False, duration_ms)
    detail = f": {detail}" if detail else ""
    if 300 <= status < 400:
        error = f"HTTP {status}{detail} (redirects are not followed; configure the final URL)"
        return DeliveryResult(False, status, error, False, duration_ms)
    retryable = status in (408, 429) or status >= 500 or status < 200
    return DeliveryResult(
        False,
        status,
        f"HTTP {status}{detail}",
        retryable,
        duration_ms,
        retry_after if retryable else None,
    )


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Given a Retry-After header (seconds or an HTTP date), return seconds to wait, or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # an HTTP date is GMT even when it does not say so
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


# --- reading settings -----------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class ConfigReader:
    """Reads one channel's settings; every refusal names the channel kind and the field."""

    def __init__(self, kind: str, config: Mapping[str, Any]) -> None:
        if not isinstance(config, Mapping):
            raise ChannelConfigError(
                kind, None, f"{kind} channel: settings must be a mapping, got {_kind(config)}"
            )
        self.kind = kind
        self._config = config
        self._read: set[str] = set()

    def fail(self, name: str, message: str) -> NoReturn:
        raise ChannelConfigError(self.kind, name, f"{self.kind} channel: {name!r} {message}")

    def _get(self, name: str) -> Any:
        self._read.add(name)
        value = self._config.get(name)
        return None if value is None or value == "" else value

    def text(self, name: str, *, required: bool = False, hint: str = "") -> str | None:
        value = self._get(name)
        if value is None:
            if required:
                self.fail(name, "is required" + (f" ({hint})" if hint else ""))
            return None
        if not isinstance(value, str):
            self.fail(name, f"must be a string, got {_kind(value)}")
        if _CONTROL.search(value):
            self.fail(name, "must not contain line breaks or control characters")
        return value.strip()

    def required_text(self, name: str, hint: str = "") -> str:
        value = self.text(name, required=True, hint=hint)
        assert value is not None
        return value

    def url(self, name: str, hint: str = "") -> str:
        value = self.required_text(name, hint)
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - reading it validates the port
        except ValueError:
            self.fail(name, "is not a valid URL")
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            self.fail(name, "must be an http:// or https:// URL")
        if " " in value:
            self.fail(name, "must not contain spaces")
        return value

    def number(self, name: str, default: float, low: float, high: float) -> float:
        value = self._get(name)
        if value is None:
            return default
        try:
            number = float(value) if not isinstance(value, bool) else math.nan
        except (TypeError, ValueError):
            number = math.nan
        if not (low <= number <= high):  # NaN fails this too
            self.fail(name, f"must be a number from {low:g} to {high:g}, got {value!r}")
        return number

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        value = self._get(name)
        if value is None:
            return default
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.fail(name, f"must be an integer from {low} to {high}, got {value!r}")
        return value

    def flag(self, name: str, default: bool) -> bool:
        """A yes/no setting: true/false, or the strings a CLI ``--set key=value`` gives."""
        value = self._get(name)
        if value is None:
            return default
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no"):
            return value.strip().lower() in ("true", "yes")
        if not isinstance(value, bool):
            self.fail(name, f"must be true or false, got {value!r}")
        return value

    def choice(self, name: str, options: tuple[str, ...], default: str) -> str:
        value = self.text(name)
        if value is None:
            return default
        if value.lower() not in options:
            self.fail(name, f"must be one of {', '.join(options)}, got {value!r}")
        return value.lower()

    def addresses(self, name: str, *, required: bool = False, single: bool = False) -> list[str]:
        value = self._get(name)
        if value is None:
            if required:
                self.fail(name, "is required")
            return []
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list | tuple) or not all(isinstance(v, str) for v in items):
            self.fail(name, f"must be an address or a list of addresses, got {_kind(value)}")
        found: list[str] = []
        for item in items:
            if _CONTROL.search(item):
                self.fail(name, "must not contain line breaks or control characters")
            for display, address in getaddresses([item]):
                if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", address):
                    self.fail(name, f"holds {item.strip()!r}, which is not an email address")
                found.append(formataddr((display, address)) if display else address)
        if single and len(found) != 1:
            self.fail(name, f"must be exactly one address, got {len(found)}")
        return found

    def mapping(self, name: str) -> dict[str, str]:
        value = self._get(name)
        if value is None:
            return {}
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            self.fail(name, "must map names to strings")
        for key, item in value.items():
            if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", key) or _CONTROL.search(item):
                self.fail(name, f"holds an invalid header {key!r}")
        return dict(value)

    def done(self) -> None:
        """Refuse settings nobody read: a typo ('secert') must not pass silently."""
        unknown = sorted(set(map(str, self._config)) - self._read)
        if unknown:
            known = ", ".join(sorted(self._read))
            raise ChannelConfigError(
                self.kind,
                unknown[0],
                f"{self.kind} channel: unknown setting {unknown[0]!r} (known: {known})",
            )


def _kind(value: object) -> str:
    return type(value).__name__
