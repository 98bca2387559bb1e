"""Request and response bodies for backtesting a candidate scoring model."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from leadgate.api.schemas.models import MAX_DOCUMENT_BYTES
from leadgate.domain.predictive import Target


class BacktestIn(BaseModel):
    """What to replay: a candidate model's YAML text, what to compare it with, the days."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    candidate: str = Field(
        max_length=MAX_DOCUMENT_BYTES, description="The candidate scoring model's YAML text"
    )
    against: Literal["active"] | Annotated[int, Field(ge=1, le=2**31 - 1)] = Field(
        default="active",
        description="The baseline: 'active' or a stored version number (ignored when "
        "against_document is given)",
    )
    against_document: str | None = Field(
        default=None,
        max_length=MAX_DOCUMENT_BYTES,
        description="Another model's YAML text to compare with instead of a stored version",
    )
    first: date | None = Field(
        default=None, alias="from", description="First day (UTC); default 90 days before `to`"
    )
    last: date | None = Field(default=None, alias="to", description="Last day (UTC); default today")
    converted: Target = Field(
        default=Target.OPPORTUNITY,
        description="The stage that counts as converted for precision and timing",
    )
    changes_offset: int = Field(default=0, ge=0, le=10_000_000)
    changes_limit: int = Field(
        default=100, ge=0, le=10_000, description="Status changes to return from the offset"
    )


class WindowOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    first: date = Field(alias="from")
    last: date = Field(alias="to")


class ModelRefOut(BaseModel):
    name: str
    version: int | None = Field(description="The stored version; null for a document")
    source: str = Field(description="'active', 'version N' or where the document came from")


class ConvertedOut(BaseModel):
    stage: Target
    means: str


class ModelTotalsOut(BaseModel):
    """One model over the whole window; ratios are null when their base is 0."""

    mql: int
    mql_converted: int
    mql_precision: float | None
    sales_ready: int
    sales_ready_converted: int
    sales_ready_precision: float | None
    already_mql: int
    already_sales_ready: int
    opportunities_caught: int
    opportunity_recall: float | None
    customers_caught: int
    customer_recall: float | None


class TotalsOut(BaseModel):
    baseline: ModelTotalsOut
    candidate: ModelTotalsOut


class TimingOut(BaseModel):
    converting: int
    compared: int
    median_days: float | None = Field(description="Negative: the candidate flags earlier")
    earlier: int
    later: int
    same: int
    only_candidate: int
    only_baseline: int


class ModelFiguresOut(BaseModel):
    mql: int
    mql_converted: int
    sales_ready: int
    sales_ready_converted: int
    opportunities_caught: int
    customers_caught: int


class WeekOut(BaseModel):
    start: date
    end: date
    opportunities: int
    customers: int
    baseline: ModelFiguresOut
    candidate: ModelFiguresOut


class StatusChangeOut(BaseModel):
    lead_id: int
    email: str | None
    baseline: Literal["none", "mql", "sales_ready"]
    baseline_since: date | None
    candidate: Literal["none", "mql", "sales_ready"]
    candidate_since: date | None
    converted_on: date | None


class BacktestOut(BaseModel):
    """The report, ready to chart: one entry per week, the totals, timing and changes."""

    model_config = ConfigDict(populate_by_name=True)

    window: WindowOut
    candidate: ModelRefOut
    baseline: ModelRefOut
    converted: ConvertedOut
    leads: int
    opportunities: int
    customers: int
    totals: TotalsOut
    timing: TimingOut
    weeks: list[WeekOut]
    changes_total: int
    changes: list[StatusChangeOut]
    warnings: list[str]
