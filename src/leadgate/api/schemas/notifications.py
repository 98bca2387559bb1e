"""Request and response bodies for notification endpoints and the outbox.

Endpoint settings hold credentials (a webhook's signing secret, an SMTP password, header
values such as ``Authorization``) and Slack and Teams webhook URLs carry their token in
the path or query, so no answer ever shows them: ``redact`` hides them the way
``leadgate endpoints`` does, and ``redacted`` names what was hidden.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal, TypeAlias
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool

from leadgate.api.schemas.common import Traits, id_cursor, not_blank
from leadgate.domain.notifications import EventType
from leadgate.services.handoff_queries import MessageDetail, Page
from leadgate.services.ports import Endpoint, OutboxMessage

REDACTED = "***"
# Settings whose values are credentials, by a word in their name.
_SECRET_WORDS = ("secret", "password", "token", "key")

ChannelKind: TypeAlias = Literal["slack", "teams", "webhook", "email"]
MessageStatus: TypeAlias = Literal["pending", "delivered", "dead"]

EVERY_EVENT = "*"
SUBSCRIPTIONS = [e.value for e in EventType] + [EVERY_EVENT]


def _subscription(value: str) -> str:
    if value not in SUBSCRIPTIONS:
        raise ValueError(f"unknown event {value!r}; one of {', '.join(SUBSCRIPTIONS)}")
    return value


Subscription: TypeAlias = Annotated[
    str, Field(json_schema_extra={"enum": SUBSCRIPTIONS}), AfterValidator(_subscription)
]


def redact_url(url: str) -> str:
    """Scheme, host and port only: the path and query of a webhook URL are its token."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return REDACTED
    if not parts.scheme or not host:
        return REDACTED
    rest = "/…" if (parts.path not in ("", "/") or parts.query or parts.fragment) else ""
    return f"{parts.scheme}://{host}{port}{rest}"


def redact(config: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Given an endpoint's settings, return them safe to show and the names of the
    settings hidden or cut (``headers.NAME`` for a header value)."""
    shown: dict[str, Any] = {}
    hidden: list[str] = []
    for key, value in config.items():
        lowered = key.lower()
        if any(word in lowered for word in _SECRET_WORDS):
            shown[key] = REDACTED
            hidden.append(key)
        elif lowered == "headers" and isinstance(value, Mapping):
            shown[key] = dict.fromkeys(value, REDACTED)
            hidden.extend(f"{key}.{name}" for name in value)
        elif lowered.endswith("url") and isinstance(value, str):
            shown[key] = redact_url(value)
            if shown[key] != value:
                hidden.append(key)
        else:
            shown[key] = value
    return shown, hidden


class EndpointIn(BaseModel):
    """A place notifications go, and the events it wants."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, not_blank(255)] = Field(description="Unique; stored trimmed")
    kind: ChannelKind
    config: Traits = Field(
        description="The channel's settings (docs/notifications.md): slack and teams `url`; "
        "webhook `url`, `secret` (16+ characters), `headers`; email `host`, `from`, `to`, "
        "`security`, `port`, `username`, `password` ...; each also `timeout`"
    )
    events: list[Subscription] = Field(
        min_length=1,
        max_length=50,
        description="Event types to receive, or `*` for every event",
    )


class EndpointPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    active: StrictBool = Field(
        description="false pauses the endpoint: no new messages are queued for it"
    )


class EndpointOut(BaseModel):
    id: int
    name: str
    kind: ChannelKind
    config: dict[str, Any] = Field(
        description=f"The settings with credentials shown as {REDACTED!r} (any setting "
        "named like secret, password, token or key; every header value) and URLs cut to "
        "scheme, host and port"
    )
    redacted: list[str] = Field(description="The settings hidden or cut in `config`")
    events: list[str]
    active: bool
    created_at: datetime

    @classmethod
    def of(cls, endpoint: Endpoint) -> EndpointOut:
        shown, hidden = redact(endpoint.config)
        return cls(
            id=endpoint.id,
            name=endpoint.name,
            kind=endpoint.kind,
            config=shown,
            redacted=hidden,
            events=list(endpoint.events),
            active=endpoint.active,
            created_at=endpoint.created_at,
        )


class EndpointList(BaseModel):
    items: list[EndpointOut] = Field(description="Oldest first")


class OutboxMessageOut(BaseModel):
    """One notification for one endpoint, and how its delivery is going."""

    id: int
    endpoint_id: int
    event_type: str
    idempotency_key: str = Field(
        description="Sent with every attempt (webhooks: `X-Leadgate-Delivery` and the body's "
        "`id`), so a receiver can drop a repeat"
    )
    lead_id: int | None
    status: MessageStatus = Field(
        description="pending (to send or retry), delivered, or dead (gave up)"
    )
    attempts: int = Field(description="Attempts since it was queued (or last replayed)")
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None

    @classmethod
    def of(cls, message: OutboxMessage) -> OutboxMessageOut:
        return cls.model_validate(message, from_attributes=True)


class OutboxPage(BaseModel):
    items: list[OutboxMessageOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page"
    )

    @classmethod
    def of(cls, page: Page[OutboxMessage]) -> OutboxPage:
        last = page.items[-1].id if page.more and page.items else None
        return cls(
            items=[OutboxMessageOut.of(m) for m in page.items],
            next_cursor=id_cursor(last) if last is not None else None,
        )


class AttemptOut(BaseModel):
    attempted_at: datetime
    ok: bool
    status_code: int | None = Field(description="HTTP status, or the SMTP reply code")
    error: str | None
    duration_ms: float


class OutboxMessageDetail(OutboxMessageOut):
    notification: dict[str, Any] = Field(description="The notification as queued")
    attempt_log: list[AttemptOut] = Field(
        description="Every attempt ever made, oldest first (a replay keeps earlier ones)"
    )

    @classmethod
    def of_detail(cls, detail: MessageDetail) -> OutboxMessageDetail:
        return cls(
            **OutboxMessageOut.of(detail.message).model_dump(),
            notification=dict(detail.message.notification),
            attempt_log=[AttemptOut.model_validate(a) for a in detail.attempts],
        )
