"""PostHog's capture API (``/batch/``, ``/capture/``), as its clients send it.

PostHog names a person by ``distinct_id``, anonymous or not, so leadgate reads every
distinct id as a user id. Special events map to leadgate's meaning:
``$pageview`` → ``page_view`` (path from ``$pathname`` or ``$current_url``);
``$identify`` and ``$set`` → lead traits from ``$set`` (``$anon_distinct_id`` joins the
lead); ``$groupidentify`` → account traits from ``$group_set``; ``$create_alias`` → the
two ids are one person. Other events are touchpoints named by the event (through the
model's alias table). ``$groups`` on an event links the lead to a company keyed by domain.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from leadgate.adapters.tracking.payload import (
    MAX_DOMAIN_CHARS,
    MAX_EVENT_CHARS,
    MAX_ID_CHARS,
    MAX_MESSAGE_ID_CHARS,
    Rejected,
    bounded,
    check_message,
    derived_message_id,
    event_time,
    parse_time,
    text,
)
from leadgate.adapters.tracking.traits import account_from_traits, email_of, lead_from_traits
from leadgate.domain.errors import InvalidIdentity
from leadgate.domain.identity import IdentityKey, IdentityKind, identity_keys
from leadgate.services.commands import AccountIn, LeadIn, TouchpointIn, TrackedCall

_PERSON_EVENTS = {"$identify", "$set", "$set_once"}


def parse_event(
    event: Any, *, received_at: datetime, sent_at: datetime | None, max_skew: timedelta
) -> tuple[TrackedCall, datetime | None]:
    """Given one PostHog event, return the call and the future time it was clamped from."""
    if not isinstance(event, dict):
        raise Rejected("invalid_message", "an event must be a JSON object")
    check_message(event)
    name = bounded(text(event.get("event")), "event", MAX_EVENT_CHARS)
    if name is None:
        raise Rejected("missing_event", "event is required")
    properties = event.get("properties") or {}
    if not isinstance(properties, dict):
        raise Rejected("invalid_field", "properties: expected a JSON object")
    distinct_id = bounded(
        text(event.get("distinct_id")) or text(properties.get("distinct_id")),
        "distinct_id",
        MAX_ID_CHARS,
    )
    message_id = bounded(text(event.get("uuid")), "uuid", MAX_MESSAGE_ID_CHARS) or (
        derived_message_id(event)
    )
    when = event_time(
        parse_time(event.get("timestamp"), "timestamp"), sent_at, received_at, max_skew
    )

    if name == "$groupidentify":
        group_set = properties.get("$group_set") or {}
        if not isinstance(group_set, dict):
            raise Rejected("invalid_field", "properties.$group_set: expected a JSON object")
        company = account_from_traits(
            group_set, "$group_set", fallback_domain=text(properties.get("$group_key"))
        )
        # A group call names a company, not a person: no lead is created for it.
        return TrackedCall(message_id, (), account=company), when.clamped_from

    if distinct_id is None:
        raise Rejected("missing_identity", "distinct_id is required")
    traits: dict[str, Any] = {}
    if name in _PERSON_EVENTS:
        for field in ("$set", "$set_once"):
            value = event.get(field) or properties.get(field) or {}
            if not isinstance(value, dict):
                raise Rejected("invalid_field", f"{field}: expected a JSON object")
            traits = {**value, **traits} if field == "$set_once" else {**traits, **value}
    try:
        keys = identity_keys(email=email_of(traits, "$set"), user_id=distinct_id)
    except InvalidIdentity as exc:
        raise Rejected("invalid_email", f"$set.email: {exc}") from None
    for field in ("$anon_distinct_id", "alias"):
        other = bounded(text(properties.get(field)), f"properties.{field}", MAX_ID_CHARS)
        if other is not None and other != distinct_id:
            keys = (*keys, IdentityKey(IdentityKind.USER_ID, other))

    lead: LeadIn | None = None
    account: AccountIn | None = _group_account(properties.get("$groups"))
    touchpoint: TouchpointIn | None = None
    if name in _PERSON_EVENTS:
        lead, named = lead_from_traits(traits, "$set")
        account = named or account
    elif name != "$create_alias":
        touchpoint = _touchpoint(name, event, properties, message_id, when, distinct_id)
    return TrackedCall(message_id, keys, touchpoint, lead, account), when.clamped_from


def _touchpoint(
    name: str,
    event: dict[str, Any],
    properties: dict[str, Any],
    message_id: str,
    when: Any,
    distinct_id: str,
) -> TouchpointIn:
    # PostHog's own bookkeeping properties ($lib, $session_id ...) are not kept.
    kept = {k: v for k, v in properties.items() if not k.startswith("$")}
    if name == "$pageview":
        name = "page_view"
        url = text(properties.get("$current_url"))
        path = text(properties.get("$pathname"))
        if path is None and url is not None:
            path = "/" + url.split("://", 1)[-1].partition("/")[2]
        kept.update({k: v for k, v in (("url", url), ("path", path)) if v is not None})
    utm = {k[4:]: v for k, v in properties.items() if k.startswith("utm_") and v is not None}
    if utm:
        kept.setdefault("utm", utm)
    if when.clamped_from is not None:
        kept["$clock_clamped_from"] = when.clamped_from.isoformat()
    return TouchpointIn(
        message_id=message_id,
        name=name,
        occurred_at=when.occurred_at,
        properties=kept,
        user_id=distinct_id,
    )


def _group_account(groups: Any) -> AccountIn | None:
    """The company an event names in ``$groups``, when its key is a web domain."""
    if not isinstance(groups, dict):
        return None
    for key in groups.values():
        domain = text(key)
        if domain and "." in domain and " " not in domain and len(domain) <= MAX_DOMAIN_CHARS:
            return AccountIn(domain=domain)
    return None
