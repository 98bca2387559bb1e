"""Microsoft Teams incoming webhooks: one Adaptive Card in a message.

Works with both the classic Office 365 connector URLs and the Workflows (Power Automate)
"post to a channel when a webhook request is received" URLs: both accept
``{"type": "message", "attachments": [{"contentType":
"application/vnd.microsoft.card.adaptive", "content": {...}}]}``.

Card layout: the title, a subtle line with the event and time, a FactSet (the facts), the
body as RichTextBlocks (literal text: lead data cannot inject formatting), and an
"Open lead" action. Teams refuses cards over about 28 KB, so the body is cut to fit.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

import httpx

from leadgate.adapters.notify import _markdown as md
from leadgate.adapters.notify._http import HttpChannel, read_http_settings
from leadgate.adapters.notify.channel import ConfigReader
from leadgate.domain.notifications import Notification

CARD_VERSION = "1.4"
MAX_CARD_BYTES = 24_000  # below Teams' ~28 KB message limit, leaving room for the envelope


@dataclass(frozen=True, slots=True)
class TeamsConfig:
    """Example: ``{"url": "https://acme.webhook.office.com/webhookb2/...", "timeout": 10}``.

    The URL is a secret, kept out of ``repr`` and error messages.
    """

    url: str = field(repr=False)
    timeout: float = 10.0
    connect_timeout: float = 5.0

    @classmethod
    def from_dict(cls, config: Mapping[str, Any]) -> TeamsConfig:
        reader = ConfigReader("teams", config)
        settings = read_http_settings(
            reader, "the incoming-webhook or Workflows URL of the channel"
        )
        reader.done()
        return cls(**settings)


class TeamsChannel(HttpChannel):
    kind = "teams"

    def __init__(self, config: TeamsConfig, *, client: httpx.Client | None = None) -> None:
        super().__init__(config.url, config.timeout, config.connect_timeout, client)

    def render(self, notification: Notification) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(teams_payload(notification), ensure_ascii=False).encode("utf-8")
        return body, {"Content-Type": "application/json; charset=utf-8"}


def teams_payload(notification: Notification) -> dict[str, Any]:
    """Given a notification, return the incoming-webhook JSON with its Adaptive Card."""
    n = notification
    when = n.occurred_at.astimezone(UTC)
    body: list[dict[str, Any]] = [
        {
            "type": "RichTextBlock",
            "inlines": [{"type": "TextRun", "text": n.title, "size": "Large", "weight": "Bolder"}],
        },
        {
            "type": "TextBlock",
            "text": f"{n.event.value} · {when:%Y-%m-%d %H:%M %Z}",
            "isSubtle": True,
            "spacing": "None",
            "wrap": True,
        },
    ]
    if n.facts:
        body.append({"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in n.facts]})
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "fallbackText": n.title,
        "msteams": {"width": "Full"},
        "body": body,
    }
    if n.link:
        card["actions"] = [{"type": "Action.OpenUrl", "title": n.link_label, "url": n.link}]
    size = _size(card)
    for block in md.parse(n.body):
        element = md.to_teams(block)
        grown = size + _size(element) + 1
        if grown > MAX_CARD_BYTES:
            body.append(
                {"type": "TextBlock", "text": "… more in leadgate", "isSubtle": True, "wrap": True}
            )
            break
        body.append(element)
        size = grown
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


def _size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False).encode("utf-8"))
