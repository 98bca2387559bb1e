"""Response bodies of the analytics reports: exactly each report's ``to_json()``, described
field by field so the OpenAPI document says what every figure is (docs/analytics.md
defines them). Rates are shares between 0 and 1, null when undefined (nothing to divide).

Funnel and velocity rows carry their group under the name of the breakdown (``by``):
``{"source_channel": "paid_search", ...}``, or ``{"group": null, ...}`` without one; the
attribution rows carry one number per model asked for. Those fields are optional here and
only the ones the report has are sent.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema

from leadgate.analytics.attribution import AttributionBy
from leadgate.analytics.dimensions import Dimension
from leadgate.analytics.report_params import BadParameter, parse_moment
from leadgate.domain.lifecycle import Stage

# --- the period's ends as query parameters ---------------------------------------------

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
# RFC 3339 (what "format: date-time" means): a zone is required; the CLI is more lenient.
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)


def _moment(value: Any) -> datetime:
    if not (isinstance(value, str) and (_DATE.fullmatch(value) or _RFC3339.fullmatch(value))):
        raise ValueError(
            "expected a date (2026-03-01, midnight UTC) or a date-time with a zone "
            "(2026-03-01T09:00:00Z)"
        )
    try:
        return parse_moment(value, "")
    except BadParameter as exc:
        raise ValueError(str(exc)) from None


Moment = Annotated[
    datetime,
    PlainValidator(_moment),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date"},
                {"type": "string", "format": "date-time"},
            ],
            "examples": ["2026-03-01", "2026-03-01T09:00:00Z"],
        }
    ),
]

# --- pieces every report shares --------------------------------------------------------

Rate = Annotated[float | None, Field(description="A share between 0 and 1; null: undefined")]


class PeriodOut(BaseModel):
    """The report's period ``[from, to)`` in UTC: ``to`` is excluded."""

    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from", examples=["2026-03-01T00:00:00Z"])
    to: str = Field(examples=["2026-04-01T00:00:00Z"])


class _Grouped(BaseModel):
    """The group of a row: the one field named after ``by`` (``group`` without one)."""

    group: str | None = Field(None, description="Present without `by`; always null")
    source_channel: str | None = None
    campaign: str | None = None
    persona: str | None = None
    seniority: str | None = None
    industry: str | None = None
    employee_band: str | None = None
    region: str | None = None
    owner: str | None = None
    model_version: str | None = None
    week: str | None = Field(None, description="Monday of the week (UTC), YYYY-MM-DD")
    month: str | None = Field(None, description="First day of the month (UTC), YYYY-MM-DD")


# --- funnel ---------------------------------------------------------------------------


class StageEntriesOut(_Grouped):
    stage: Stage
    entries: int = Field(description="Transitions into the stage in the period")
    leads: int = Field(description="Distinct leads among those entries")
    first_entries: int = Field(description="Entries that were the lead's first into the stage")


class ConversionOut(_Grouped):
    from_stage: Stage
    to_stage: Stage
    cohort: int = Field(description="Leads whose first entry into from_stage is in the period")
    converted: int = Field(description="Of them, those that entered to_stage afterwards")
    rate: Rate


class FunnelOut(BaseModel):
    period: PeriodOut
    by: Dimension | None
    within_days: float | None
    stages: list[StageEntriesOut]
    conversions: list[ConversionOut]


# --- velocity -------------------------------------------------------------------------

Days = Annotated[float | None, Field(description="Days; null when there are no cases")]


class StepOut(_Grouped):
    from_stage: Stage
    to_stage: Stage
    leads: int
    median_days: Days
    p75_days: Days
    p90_days: Days
    mean_days: Days


class TimeInStageOut(_Grouped):
    stage: Stage
    stays: int = Field(description="Stays in the stage that ended in the period")
    median_days: Days
    p75_days: Days
    p90_days: Days
    mean_days: Days


class VelocityOut(BaseModel):
    period: PeriodOut
    by: Dimension | None
    steps: list[StepOut]
    time_in_stage: list[TimeInStageOut]


# --- handoff and SLA ------------------------------------------------------------------

Hours = Annotated[float | None, Field(description="Wall-clock hours; null without touches")]


class FigureOut(BaseModel):
    figure: str = Field(examples=["sla_met_rate"])
    value: int | float | None


class _SlaGroup(BaseModel):
    handoffs: int
    met: int
    breached: int
    open: int
    met_rate: Rate
    median_hours: Hours
    p90_hours: Hours


class RepSlaOut(_SlaGroup):
    rep: str | None = Field(description="The owner; null: the team queue")


class TeamSlaOut(_SlaGroup):
    team: str | None


class SlaOut(BaseModel):
    period: PeriodOut
    summary: list[FigureOut]
    by_rep: list[RepSlaOut]
    by_team: list[TeamSlaOut]


# --- reasons --------------------------------------------------------------------------


class ExitsOut(BaseModel):
    stage: Stage
    exits: int
    advanced: int
    recycled: int
    disqualified: int
    lost: int
    other: int = Field(description="Exits elsewhere (manual overrides)")
    advance_rate: Rate
    recycle_rate: Rate
    disqualify_rate: Rate
    lost_rate: Rate


class ReasonOut(BaseModel):
    from_stage: Stage
    to_stage: Stage
    reason: str
    count: int
    share: float = Field(description="Of all moves from_stage → to_stage in the period")


class ReasonsOut(BaseModel):
    period: PeriodOut
    exits: list[ExitsOut]
    reasons: list[ReasonOut]


# --- attribution ----------------------------------------------------------------------


class StageConversionsOut(BaseModel):
    stage: Stage
    conversions: int
    touched: int = Field(description="Conversions with at least one touch")
    with_amount: int
    amount: float = Field(description="Sum of the amounts recorded")


class CreditOut(BaseModel):
    """One channel's (and campaign's) credit for one stage under each model asked for."""

    stage: Stage
    channel: str | None = Field(description="null: conversions without touches")
    campaign: str | None = Field(None, description="Present with by=campaign")
    first_touch: float | None = None
    last_touch: float | None = None
    linear: float | None = None
    u_shaped: float | None = None
    w_shaped: float | None = None
    time_decay: float | None = None


class AttributionOut(BaseModel):
    period: PeriodOut
    by: AttributionBy
    half_life_days: float
    lookback_days: float | None
    conversions: list[StageConversionsOut]
    credits: list[CreditOut] = Field(description="Conversions credited, per model")
    amounts: list[CreditOut] = Field(description="Amounts credited, per model (no SQLs)")


# --- signals --------------------------------------------------------------------------


class SignalOut(BaseModel):
    kind: Literal["rule", "touchpoint"]
    name: str = Field(description="Engagement rule id, or touchpoint name")
    with_leads: int
    with_converted: int
    rate_with: Rate
    rate_with_low: Rate
    rate_with_high: Rate
    without_leads: int
    without_converted: int
    rate_without: Rate
    rate_without_low: Rate
    rate_without_high: Rate
    lift: float | None = Field(description="rate_with − rate_without")


class PrecursorOut(BaseModel):
    from_stage: Stage
    to_stage: Stage
    touchpoint: str
    transitions: int
    seen: int
    share: Rate


class SignalsOut(BaseModel):
    period: PeriodOut
    within_days: float | None
    model_version: int | None = Field(description="The model whose rules were read")
    cohort: int = Field(description="Leads whose first MQL entry is in the period")
    converted: int
    signals: list[SignalOut]
    precursors: list[PrecursorOut]


# --- accounts -------------------------------------------------------------------------


class IntentTopicOut(BaseModel):
    topic: str
    surges: int
    max_score: float | None


class AccountEngagementOut(BaseModel):
    rank: int
    account_id: int
    domain: str
    name: str | None
    industry: str | None
    employees: int | None
    region: str | None
    engagement: float = Field(description="Sum of its leads' stored engagement")
    contacts: int
    engaged_contacts: int = Field(description="Leads with engagement ≥ engaged_min")
    touches: int = Field(description="Its leads' touchpoints in the period")
    intent_topics: list[IntentTopicOut]


class AccountsOut(BaseModel):
    period: PeriodOut
    engaged_min: float
    accounts: list[AccountEngagementOut]
