"""Leads: the people leadgate scores and moves through the lifecycle."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from leadgate.domain.accounts import Account
from leadgate.domain.attributes import lookup
from leadgate.domain.identity import email_domain
from leadgate.domain.lifecycle import Stage

LEAD_ATTRIBUTES: frozenset[str] = frozenset(
    {
        "email",
        "email_domain",
        "first_name",
        "last_name",
        "title",
        "seniority",
        "department",
        "persona",
        "source_channel",
        "source_campaign",
        "country",
        "owner",
        "stage",
    }
)


@dataclass(slots=True)
class Lead:
    """A person who may buy, with what rules can read about them.

    Example: ``Lead(email="ann@acme.io", title="VP Marketing", seniority="vp",
    department="marketing", source_channel="paid_search", account=Account("acme.io"))``.
    Fit rules read lead attributes by name (``seniority``), custom traits by their
    key (``traits.plan`` or just ``plan``) and the account's as ``account.<name>``.
    """

    id: int | None = None
    email: str | None = None
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
    stage: Stage = Stage.LEAD
    stage_entered_at: datetime | None = None
    # Touchpoints before this moment no longer count toward engagement (recycle policy).
    engagement_reset_at: datetime | None = None
    account_id: int | None = None
    account: Account | None = None
    traits: dict[str, Any] = field(default_factory=dict)

    def attribute(self, name: str) -> Any:
        """Given a rule's field name, return the value it refers to, or None."""
        if name.startswith("account."):
            return self.account.attribute(name[8:]) if self.account else None
        if name.startswith("traits."):
            return lookup(self.traits, name[7:])
        if name == "email_domain":
            return email_domain(self.email) if self.email else None
        if name in LEAD_ATTRIBUTES:
            value = getattr(self, name)
            return value.value if isinstance(value, Stage) else value
        return lookup(self.traits, name)
