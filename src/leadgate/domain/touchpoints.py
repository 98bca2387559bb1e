"""Touchpoints: what a lead did or what happened to it, at a time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any

from leadgate.domain.attributes import lookup

# The touchpoint names leadgate knows; any other name is allowed and kept as given.
STANDARD_TOUCHPOINTS: frozenset[str] = frozenset(
    {
        "page_view",
        "form_submit",
        "content_download",
        "webinar_registered",
        "webinar_attended",
        "email_open",
        "email_click",
        "email_unsubscribe",
        "ad_click",
        "event_attended",
        "demo_request",
        "contact_sales",
        "trial_signup",
        "product_active_day",
        "sales_call",
        "sales_email",
        "meeting_booked",
        "sales_reply",
        "intent_surge",
    }
)


@dataclass(frozen=True, slots=True)
class Touchpoint:
    """One event in a lead's history; append-only, unique by ``message_id``.

    Example: ``Touchpoint("m-1", "page_view", datetime(2026, 3, 1, tzinfo=UTC),
    {"path": "/pricing", "category": "pricing"})``.
    """

    message_id: str
    name: str
    occurred_at: datetime
    properties: dict[str, Any] = field(default_factory=dict)
    lead_id: int | None = None

    def attribute(self, name: str) -> Any:
        """Given a rule's property name ('category', 'utm.campaign'), return its value."""
        if name == "name":
            return self.name
        return lookup(self.properties, name)


def canonical_name(raw: str, aliases: Mapping[str, str]) -> str:
    """Given an incoming event name, return the touchpoint name the alias table maps it to.

    Matching ignores case and surrounding spaces: with ``{"demo requested": "demo_request"}``
    both "Demo Requested" and "demo requested " become ``demo_request``. Unmapped names are
    kept as given (trimmed), so custom events still land.
    """
    name = raw.strip()
    return aliases.get(name.casefold(), name)


def page_category(path: str, table: Sequence[tuple[str, str]]) -> str | None:
    """Given a URL path and the model's (pattern, category) table, return the category of
    the first pattern that matches, or None.

    Patterns are shell-style globs matched against the path without its query string,
    ignoring case and a trailing slash: ``("/pricing*", "pricing")`` matches
    ``/pricing``, ``/Pricing/`` and ``/pricing/enterprise?ref=nav``.
    """
    clean = path.split("?", 1)[0].split("#", 1)[0].casefold()
    if len(clean) > 1:
        clean = clean.rstrip("/")
    for pattern, category in table:
        if fnmatchcase(clean, pattern.casefold()):
            return category
    return None


def classify(
    raw_name: str,
    properties: dict[str, Any],
    aliases: Mapping[str, str],
    page_categories: Sequence[tuple[str, str]],
) -> tuple[str, dict[str, Any]]:
    """Given an incoming event, return its touchpoint name and properties: the alias table
    names it, and a page view without a category gets one from its path."""
    name = canonical_name(raw_name, aliases)
    if name == "page_view" and properties.get("category") is None:
        path = properties.get("path")
        if isinstance(path, str) and (category := page_category(path, page_categories)):
            properties = {**properties, "category": category}
    return name, properties
