"""Request and response bodies for accounts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, Strict

from leadgate.analytics.leads import AccountRow, Page
from leadgate.api.schemas.common import INT32_MAX, Domain, Traits, id_cursor, text
from leadgate.services.commands import AccountIn


class AccountUpsert(BaseModel):
    """An account found by domain, created when new. A field left out (or null) keeps
    its stored value; traits merge into the stored ones."""

    model_config = ConfigDict(extra="forbid")

    domain: Domain
    name: Annotated[str, text(255)] | None = None
    industry: Annotated[str, text(100)] | None = None
    # Strict: true is not 1 employee, and "5" is text, not a number.
    employees: Annotated[int, Strict(), Field(ge=0, le=INT32_MAX)] | None = None
    annual_revenue: Annotated[float, Strict(), Field(ge=0, allow_inf_nan=False)] | None = None
    country: Annotated[str, text(100)] | None = None
    region: Annotated[str, text(50)] | None = None
    technographics: list[Annotated[str, text(100)]] = Field(
        default_factory=list, max_length=500, description="Tools in use; added to the stored ones"
    )
    owner: Annotated[str, text(255)] | None = None
    traits: Traits = Field(default_factory=dict)

    def command(self) -> AccountIn:
        return AccountIn(
            **self.model_dump(exclude={"technographics", "traits"}),
            technographics=tuple(self.technographics),
            traits=self.traits,
        )


class AccountOut(BaseModel):
    id: int
    domain: str
    name: str | None
    industry: str | None
    employees: int | None
    annual_revenue: float | None
    country: str | None
    region: str | None
    technographics: list[str]
    owner: str | None
    traits: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: AccountRow) -> AccountOut:
        return cls.model_validate(row, from_attributes=True)


class AccountPage(BaseModel):
    items: list[AccountOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page"
    )

    @classmethod
    def of(cls, page: Page[AccountRow]) -> AccountPage:
        return cls(
            items=[AccountOut.of(row) for row in page.items],
            next_cursor=id_cursor(page.items[-1].id) if page.more else None,
        )
