"""Request and response bodies for leads, their score, touchpoints and transitions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    field_validator,
    model_validator,
)

from leadgate.analytics.leads import LeadRow, Page, TouchpointRow
from leadgate.api.errors import ErrorBody
from leadgate.api.schemas.common import (
    Domain,
    Email,
    IdentityValue,
    Traits,
    id_cursor,
    not_blank,
    not_nullable,
    text,
    time_id_cursor,
)
from leadgate.domain.identity import IdentityKind
from leadgate.domain.lifecycle import ActorType, Stage, Transition
from leadgate.domain.scoring_model import Grade
from leadgate.services.commands import LeadIn
from leadgate.services.queries import Explanation

# Column widths of the leads table (adapters/db/tables.py).
Name: TypeAlias = Annotated[str, text(255)]
Short: TypeAlias = Annotated[str, text(100)]


class LeadProfile(BaseModel):
    """Profile fields; a field left out (or null) keeps its stored value."""

    model_config = ConfigDict(extra="forbid")

    first_name: Name | None = None
    last_name: Name | None = None
    title: Name | None = None
    seniority: Short | None = None
    department: Short | None = None
    persona: Short | None = None
    source_channel: Short | None = None
    source_campaign: Name | None = None
    country: Short | None = None
    owner: Name | None = None
    account_domain: Domain | None = Field(
        default=None,
        description="Attach the lead to this account (created if new); without it the "
        "account comes from the email's domain, never from a free-mail domain",
    )
    traits: Traits = Field(default_factory=dict)

    def command(self) -> LeadIn:
        """The use cases' command (identity fields too, when the body has them)."""
        return LeadIn(**self.model_dump(exclude={"traits"}), traits=self.traits)


class LeadPatch(LeadProfile):
    """Changes to one lead's profile. Identities (email, external and user ids) are not
    changed here: send them to POST /v1/leads, which finds the lead by them."""


class LeadUpsert(LeadProfile):
    """A lead found by email, else external id, else user id; created when none is known.

    Give at least one of them. Identities not yet known are attached to the lead found.
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "anyOf": [
                {"required": ["email"]},
                {"required": ["external_id"]},
                {"required": ["user_id"]},
            ]
        },
    )

    # Optional but not nullable: a null identity would be no identity at all, so the
    # document leaves null out and the validator below refuses it.
    email: Email | None = Field(default=None, json_schema_extra=not_nullable)
    external_id: IdentityValue | None = Field(
        default=None, description="CRM id", json_schema_extra=not_nullable
    )
    user_id: IdentityValue | None = Field(
        default=None, description="Your application's user id", json_schema_extra=not_nullable
    )

    @field_validator("email", "external_id", "user_id", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("leave the field out rather than sending null")
        return value

    @model_validator(mode="after")
    def _identified(self) -> LeadUpsert:
        if self.email is None and self.external_id is None and self.user_id is None:
            raise ValueError("give an email, external_id or user_id")
        return self


class Identity(BaseModel):
    kind: IdentityKind
    value: str


class AccountRefOut(BaseModel):
    id: int
    domain: str
    name: str | None


class ScoreOut(BaseModel):
    """The stored current score."""

    fit: float
    engagement: float
    total: float
    grade: Grade | None
    mql_gate: bool = Field(description="The MQL gate held when it was scored")
    sales_ready_gate: bool = Field(description="The sales-ready gate held when it was scored")
    model_version: int
    scored_at: datetime


class LeadOut(BaseModel):
    id: int
    email: str | None
    first_name: str | None
    last_name: str | None
    title: str | None
    seniority: str | None
    department: str | None
    persona: str | None
    source_channel: str | None
    source_campaign: str | None
    country: str | None
    owner: str | None
    stage: Stage
    stage_entered_at: datetime | None
    account: AccountRefOut | None
    identities: list[Identity] = Field(description="Strongest first: email, user, CRM, anonymous")
    traits: dict[str, Any]
    score: ScoreOut | None = Field(description="None until the lead is first scored")
    created_at: datetime
    updated_at: datetime = Field(description="Last change of profile, identities or stage")

    @classmethod
    def of(cls, row: LeadRow) -> LeadOut:
        return cls.model_validate(row, from_attributes=True)


class LeadPage(BaseModel):
    items: list[LeadOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page"
    )

    @classmethod
    def of(cls, page: Page[LeadRow]) -> LeadPage:
        return cls(
            items=[LeadOut.of(row) for row in page.items],
            next_cursor=id_cursor(page.items[-1].id) if page.more else None,
        )


class TouchpointOut(BaseModel):
    message_id: str
    name: str = Field(description="Canonical name, after the model's alias table")
    original_name: str = Field(description="The name as it was sent")
    occurred_at: datetime
    received_at: datetime
    properties: dict[str, Any]

    @classmethod
    def of(cls, row: TouchpointRow) -> TouchpointOut:
        return cls.model_validate(row, from_attributes=True)


class TouchpointPage(BaseModel):
    items: list[TouchpointOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page"
    )

    @classmethod
    def of(cls, page: Page[TouchpointRow]) -> TouchpointPage:
        last = page.items[-1] if page.more else None
        return cls(
            items=[TouchpointOut.of(row) for row in page.items],
            next_cursor=time_id_cursor(last.occurred_at, last.id) if last else None,
        )


class MatchOut(BaseModel):
    message_id: str
    name: str
    occurred_at: datetime
    points: float = Field(description="Raw points this touchpoint earned")
    decayed: float = Field(description="What is left of them after decay")


class ContributionOut(BaseModel):
    """One rule's share; the ``points`` of all contributions sum to the total."""

    rule_id: str
    kind: Literal["fit", "engagement"]
    points: float = Field(description="After caps: what counts")
    raw: float = Field(description="Before decay")
    decayed: float = Field(description="After decay, before the cap")
    cap: float | None
    capped: bool
    matches: list[MatchOut] = Field(description="Touchpoints the rule matched")
    value: Any = Field(description="For a fit rule, the attribute value it matched")
    description: str


class GatesOut(BaseModel):
    mql: bool
    sales_ready: bool
    skip_to_sql: bool


class FactorOut(BaseModel):
    """One feature's share of the predicted probability."""

    feature: str = Field(
        description="Feature name, e.g. trait.lead_origin or touch.demo_request.30d"
    )
    value: str = Field(description="The lead's value of it")
    contribution: float = Field(
        description="Log-odds against the average lead: positive raises the probability"
    )


class ScoreExplanation(BaseModel):
    """A lead's score with every contribution (the same numbers as `leadgate explain`)."""

    lead_id: int
    email: str | None
    stage: Stage
    model_version: int
    at: datetime = Field(description="The moment the score is computed for")
    fit: float
    engagement: float
    total: float
    grade: Grade | None
    gates: GatesOut
    contributions: list[ContributionOut]
    probability: float | None = Field(
        description="Calibrated probability from the active predictive model (null: none active)"
    )
    predictive_version: int | None = Field(description="The predictive model version")
    top_factors: list[FactorOut] = Field(
        description="The features that moved the probability most, largest first"
    )

    @classmethod
    def of(cls, lead_id: int, result: Explanation) -> ScoreExplanation:
        score = result.qualification.score
        return cls.model_validate(
            {
                "lead_id": lead_id,
                "email": result.lead.email,
                "stage": result.lead.stage,
                "model_version": result.model_version,
                "at": score.at,
                "fit": score.fit,
                "engagement": score.engagement,
                "total": score.total,
                "grade": score.grade,
                "gates": result.qualification.gates,
                "contributions": score.contributions,
                "probability": score.probability,
                "predictive_version": result.predictive_version,
                "top_factors": result.prediction.factors if result.prediction else [],
            },
            from_attributes=True,
        )


class TransitionOut(BaseModel):
    lead_id: int
    from_stage: Stage
    to_stage: Stage
    occurred_at: datetime
    actor_type: ActorType
    actor: str
    reason: str
    fit: float | None
    engagement: float | None
    total: float | None
    grade: str | None
    model_version: int | None
    override: bool

    @classmethod
    def of(cls, transition: Transition) -> TransitionOut:
        return cls.model_validate(transition, from_attributes=True)


class TransitionList(BaseModel):
    items: list[TransitionOut] = Field(description="Oldest first")


class StageChangeIn(BaseModel):
    """A decision to move a lead: accept, recycle, disqualify, opportunity, won, lost."""

    model_config = ConfigDict(extra="forbid")

    to: Stage
    reason: Annotated[str, not_blank(2000)] = Field(description="Why; kept with the transition")
    override: StrictBool = Field(
        default=False, description="Allow a move outside the transition table"
    )
    actor: Annotated[str, not_blank(255)] | None = Field(
        default=None, description="Who decided (default: the API key's name)"
    )


class LeadNotFoundBody(ErrorBody):
    """404: no such lead. A lead merged into another answers ``code: "merged"`` and names
    the surviving lead in ``merged_into``."""

    merged_into: int | None = None
