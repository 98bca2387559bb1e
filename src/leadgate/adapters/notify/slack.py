"""Slack incoming webhooks: a Block Kit message with a plain ``text`` fallback.

Layout: a header (the title), a section of mrkdwn fields (the facts), the body as sections
(one per Markdown heading), a context line (event, time, delivery key) and a button to the
lead. Slack's limits are applied here so a long context package is cut, never refused:
50 blocks, 150 characters of header, 10 fields of 2,000, 3,000 characters per section.
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

MAX_BLOCKS = 50
MAX_HEADER = 150
MAX_FIELDS = 10
MAX_FIELD = 2000
MAX_SECTION = 3000
MAX_BUTTON_URL = 3000
MAX_TEXT = 3000  # the fallback shown in notifications and by old clients


@dataclass(frozen=True, slots=True)
class SlackConfig:
    """Example: ``{"url": "https://hooks.slack.com/services/T000/B000/XXXX", "timeout": 10}``.

    The URL is a secret (anyone holding it can post), so it is kept out of ``repr`` and
    out of error messages.
    """

    url: str = field(repr=False)
    timeout: float = 10.0
    connect_timeout: float = 5.0

    @classmethod
    def from_dict(cls, config: Mapping[str, Any]) -> SlackConfig:
        reader = ConfigReader("slack", config)
        settings = read_http_settings(reader, "the incoming-webhook URL Slack shows for the app")
        reader.done()
        return cls(**settings)


class SlackChannel(HttpChannel):
    kind = "slack"

    def __init__(self, config: SlackConfig, *, client: httpx.Client | None = None) -> None:
        super().__init__(config.url, config.timeout, config.connect_timeout, client)

    def render(self, notification: Notification) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(slack_payload(notification), ensure_ascii=False).encode("utf-8")
        return body, {"Content-Type": "application/json; charset=utf-8"}


def slack_payload(notification: Notification) -> dict[str, Any]:
    """Given a notification, return the incoming-webhook JSON."""
    n = notification
    head: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(n.title, MAX_HEADER)}}
    ]
    for start in range(0, min(len(n.facts), 2 * MAX_FIELDS), MAX_FIELDS):
        fields = [
            {
                "type": "mrkdwn",
                "text": _cut(f"*{md.slack_escape(k)}*\n{md.slack_escape(v)}", MAX_FIELD),
            }
            for k, v in n.facts[start : start + MAX_FIELDS]
        ]
        head.append({"type": "section", "fields": fields})
    when = n.occurred_at.astimezone(UTC)
    tail: list[dict[str, Any]] = [
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"`{n.event.value}` · {when:%Y-%m-%d %H:%M %Z} · delivery `{n.key}`",
                }
            ],
        }
    ]
    if n.link and len(n.link) <= MAX_BUTTON_URL:
        tail.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": _cut(n.link_label, 75)},
                        "url": n.link,
                        "style": "primary",
                        "action_id": "open",
                    }
                ],
            }
        )
    sections = _sections(md.parse(n.body), MAX_BLOCKS - len(head) - len(tail))
    fallback = " · ".join([n.title, *(f"{k}: {v}" for k, v in n.facts)])
    return {
        "text": _cut(md.slack_escape(fallback), MAX_TEXT),
        "blocks": [*head, *sections, *tail],
        # A lead link must not unfurl into a preview of an internal page.
        "unfurl_links": False,
        "unfurl_media": False,
    }


def _sections(blocks: list[md.Block], room: int) -> list[dict[str, Any]]:
    """One section per heading, split at the size limit, cut to the blocks left."""
    texts: list[str] = []
    for block in blocks:
        line = md.to_slack(block)
        if block.kind == "heading" or not texts:
            texts.append(line)
        elif len(texts[-1]) + 1 + len(line) <= MAX_SECTION:
            texts[-1] += "\n" + line
        else:
            texts.append(line)
    if len(texts) > room:
        texts = [*texts[: room - 1], "_… more in leadgate_"]
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, MAX_SECTION)}}
        for text in texts
        if text.strip()
    ]


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
