"""Commands: what callers hand to the use cases (already parsed, not yet resolved)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from leadgate.domain.identity import IdentityKey
from leadgate.domain.lifecycle import ActorType, Stage


@dataclass(frozen=True, slots=True)
class TouchpointIn:
    """One incoming event. At least one identity (email, user, external or anonymous id).

    ``name`` is the name as sent; the model's alias table maps it to a touchpoint name.
    """

    message_id: str
    name: str
    occurred_at: datetime
    properties: dict[str, Any] = field(default_factory=dict)
    email: str | None = None
    user_id: str | None = None
    external_id: str | None = None
    anonymous_id: str | None = None


@dataclass(frozen=True, slots=True)
class AccountIn:
    """What is known about a company; None leaves a stored value as it is."""

    domain: str
    name: str | None = None
    industry: str | None = None
    employees: int | None = None
    annual_revenue: float | None = None
    country: str | None = None
    region: str | None = None
    technographics: tuple[str, ...] = ()
    owner: str | None = None
    traits: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LeadIn:
    """A lead profile to create or update, found by email or external id.

    ``account_domain`` attaches the lead to that account; without it the account comes
    from the email's domain (never from a free-mail domain).
    """

    email: str | None = None
    external_id: str | None = None
    user_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    title: str | None = None
    seniority: str | None = None
    department: str | None = None
    persona: str | None = None
    source_channel: str | None = None
    source_campaign: str | None = None
    country: str | None = None
    owner: str | None = None
    account_domain: str | None = None
    traits: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ChangeStage:
    """A person's or system's decision to move a lead (accept, recycle, disqualify ...)."""

    lead_id: int
    to_stage: Stage
    reason: str
    actor: str
    actor_type: ActorType = ActorType.USER
    override: bool = False
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class TrackedCall:
    """One call from a tracking client (Segment, RudderStack, PostHog), already parsed.

    ``keys`` are the identities the call carries, strongest first; a call that ties two
    of them together (identify with an anonymous id, alias) may merge two leads.
    ``touchpoint`` is what it adds to the lead's history (track, page, screen), ``lead``
    the traits it sets on the person (identify), ``account`` the company it names (group).
    """

    message_id: str
    keys: tuple[IdentityKey, ...]
    touchpoint: TouchpointIn | None = None
    lead: LeadIn | None = None
    account: AccountIn | None = None
