"""Accounts: the companies leads work at, keyed by web domain."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from leadgate.domain.attributes import lookup


@dataclass(slots=True)
class Account:
    """A company and what is known about it.

    Example: ``Account(domain="acme.io", industry="software", employees=250,
    country="DE", region="EMEA", technographics=["salesforce"])``.
    Custom traits go to ``traits``; rules read them as ``account.<trait>``.
    """

    domain: str
    id: int | None = None
    name: str | None = None
    industry: str | None = None
    employees: int | None = None
    annual_revenue: float | None = None
    country: str | None = None
    region: str | None = None
    technographics: list[str] = field(default_factory=list)
    owner: str | None = None
    traits: dict[str, Any] = field(default_factory=dict)

    def attribute(self, name: str) -> Any:
        """Given an attribute or custom-trait name, return its value or None."""
        if name in ACCOUNT_ATTRIBUTES:
            return getattr(self, name)
        return lookup(self.traits, name)


ACCOUNT_ATTRIBUTES: frozenset[str] = frozenset(
    {
        "domain",
        "name",
        "industry",
        "employees",
        "annual_revenue",
        "country",
        "region",
        "technographics",
        "owner",
    }
)
