"""Segment's HTTP tracking API (https://segment.com/docs/connections/sources/catalog/
libraries/server/http-api/), which RudderStack's clients speak too.

Calls map onto leadgate as follows: ``track`` → a touchpoint named by the event (through
the model's alias table), ``page`` → a ``page_view`` with a category from the model's
URL-pattern table, ``screen`` → a ``screen_view``, ``identify`` → lead traits (and the
anonymous id joins the lead), ``group`` → account traits and the lead's account,
``alias`` → two ids of one person, merged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from leadgate.adapters.tracking.payload import (
    MAX_EVENT_CHARS,
    MAX_ID_CHARS,
    MAX_MESSAGE_ID_CHARS,
    Rejected,
    Skipped,
    bounded,
    check_message,
    derived_message_id,
    enabled_for_leadgate,
    event_time,
    parse_time,
    text,
)
from leadgate.adapters.tracking.traits import (
    account_from_traits,
    email_of,
    lead_from_traits,
)
from leadgate.domain.errors import InvalidIdentity
from leadgate.domain.identity import IdentityKey, IdentityKind, identity_keys
from leadgate.services.commands import AccountIn, LeadIn, TouchpointIn, TrackedCall

CALL_TYPES = ("track", "page", "screen", "identify", "group", "alias")

# Segment's context.campaign keys → the utm names rules read (``utm.campaign``).
_UTM = {"name": "campaign", "source": "source", "medium": "medium", "term": "term"}
_PAGE_FIELDS = ("path", "url", "title", "referrer", "search")


@dataclass(frozen=True, slots=True)
class Envelope:
    """What applies to every message of one request."""

    received_at: datetime
    max_skew: timedelta
    sent_at: datetime | None = None
    context: dict[str, Any] | None = None
    integrations: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Parsed:
    call: TrackedCall
    clamped_from: datetime | None = None


def _object(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Rejected("invalid_field", f"{where}: expected a JSON object")
    return value


def parse_message(message: Any, envelope: Envelope, call_type: str | None = None) -> Parsed:
    """Given one Segment message (and the endpoint's type, for /v1/track etc.), return the
    call, or raise Rejected naming the field."""
    if not isinstance(message, dict):
        raise Rejected("invalid_message", "a message must be a JSON object")
    check_message(message)
    kind = call_type or text(message.get("type"))
    if kind is None:
        raise Rejected("missing_type", f"type is required: one of {', '.join(CALL_TYPES)}")
    kind = kind.lower()
    if kind not in CALL_TYPES:
        raise Rejected("invalid_type", f"type {kind!r} is not one of {', '.join(CALL_TYPES)}")
    context = {**(envelope.context or {}), **_object(message.get("context"), "context")}
    integrations = {
        **(envelope.integrations or {}),
        **_object(message.get("integrations"), "integrations"),
    }
    if not enabled_for_leadgate(integrations):
        raise Skipped("integration_disabled", "skipped: integrations turn leadgate off")
    traits = _object(message.get("traits"), "traits")
    context_traits = _object(context.get("traits"), "context.traits")
    user_id = bounded(text(message.get("userId")), "userId", MAX_ID_CHARS)
    anonymous_id = bounded(text(message.get("anonymousId")), "anonymousId", MAX_ID_CHARS)
    if user_id is None and anonymous_id is None:
        raise Rejected("missing_identity", f"{kind}: userId or anonymousId is required")
    email = email_of(traits) or email_of(context_traits, "context.traits")
    try:
        keys = identity_keys(email=email, user_id=user_id, anonymous_id=anonymous_id)
    except InvalidIdentity as exc:
        raise Rejected("invalid_email", f"traits.email: {exc}") from None
    if kind == "alias":
        previous = bounded(text(message.get("previousId")), "previousId", MAX_ID_CHARS)
        if previous is None or user_id is None:
            raise Rejected("missing_identity", "alias: previousId and userId are required")
        # The previous id may have been a user id or an anonymous id: link both readings.
        keys = (
            *keys,
            IdentityKey(IdentityKind.USER_ID, previous),
            IdentityKey(IdentityKind.ANONYMOUS_ID, previous),
        )
    message_id = bounded(
        text(message.get("messageId")), "messageId", MAX_MESSAGE_ID_CHARS
    ) or derived_message_id(message)
    sent_at = parse_time(message.get("sentAt"), "sentAt") or envelope.sent_at
    timestamp = parse_time(
        message.get("timestamp") or message.get("originalTimestamp"), "timestamp"
    )
    when = event_time(timestamp, sent_at, envelope.received_at, envelope.max_skew)

    touchpoint: TouchpointIn | None = None
    lead: LeadIn | None = None
    account: AccountIn | None = None
    if kind in ("track", "page", "screen"):
        properties = _event_properties(kind, message, context)
        if when.clamped_from is not None:
            properties["$clock_clamped_from"] = when.clamped_from.isoformat()
        touchpoint = TouchpointIn(
            message_id=message_id,
            name=_event_name(kind, message),
            occurred_at=when.occurred_at,
            properties=properties,
            email=email,
            user_id=user_id,
            anonymous_id=anonymous_id,
        )
    elif kind == "identify":
        # RudderStack's client sends identify traits in context.traits only.
        lead, account = lead_from_traits({**context_traits, **traits})
    elif kind == "group":
        account = account_from_traits(
            traits, "traits", fallback_domain=text(message.get("groupId"))
        )
    return Parsed(TrackedCall(message_id, keys, touchpoint, lead, account), when.clamped_from)


def _event_name(kind: str, message: dict[str, Any]) -> str:
    if kind == "page":
        return "page_view"
    if kind == "screen":
        return "screen_view"
    name = bounded(text(message.get("event")), "event", MAX_EVENT_CHARS)
    if name is None:
        raise Rejected("missing_event", "track: event is required")
    return name


def _event_properties(
    kind: str, message: dict[str, Any], context: dict[str, Any]
) -> dict[str, Any]:
    """A touchpoint's properties: the call's own, page details, and the campaign's utm."""
    properties = dict(_object(message.get("properties"), "properties"))
    if kind == "page":
        _page_properties(message, context, properties)
    elif kind == "screen" and (screen := text(message.get("name"))) is not None:
        properties.setdefault("name", screen)
    campaign = _object(context.get("campaign"), "context.campaign")
    utm = {_UTM.get(k, k): v for k, v in campaign.items() if v is not None}
    if utm:
        properties.setdefault("utm", utm)
    return properties


def _page_properties(
    message: dict[str, Any],
    context: dict[str, Any],
    properties: dict[str, Any],
) -> None:
    """Fill a page call's path, url, title ... from its properties or context.page, and
    its category from the call when it names one (else the model's URL-pattern table
    decides when the touchpoint is stored)."""
    page = _object(context.get("page"), "context.page")
    for field in _PAGE_FIELDS:
        if properties.get(field) is None and page.get(field) is not None:
            properties[field] = page[field]
    if (name := text(message.get("name"))) is not None:
        properties.setdefault("name", name)
    category = text(message.get("category")) or text(properties.get("category"))
    path = text(properties.get("path"))
    if path is None and (url := text(properties.get("url"))):
        path = "/" + url.split("://", 1)[-1].partition("/")[2]
        properties["path"] = path
    if category is not None:
        properties["category"] = category
