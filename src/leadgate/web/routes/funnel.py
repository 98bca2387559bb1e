"""The funnel page: stage entries, cohort conversions, velocity and attribution."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, TypeVar

from fastapi import APIRouter, Query, Request
from sqlalchemy import Connection
from starlette.responses import HTMLResponse

from leadgate.analytics.attribution import (
    ATTRIBUTED_STAGES,
    AttributionModel,
    attribution_report,
)
from leadgate.analytics.dimensions import Dimension
from leadgate.analytics.entries import MAIN_STAGES
from leadgate.analytics.funnel_report import (
    CohortConversion,
    FunnelReport,
    StageEntries,
    funnel_report,
)
from leadgate.analytics.velocity import velocity_report
from leadgate.domain.lifecycle import Stage
from leadgate.web.access import sees_analytics
from leadgate.web.auth import BadInput, CurrentUser, Forbidden, Reports, Wired
from leadgate.web.charts import bar_chart
from leadgate.web.labels import MODEL_LABELS, SHORT_LABELS, STAGE_LABELS, group_label
from leadgate.web.periods import PRESET_LABELS, pick_dimension, pick_period
from leadgate.web.templating import num, pct, render

router = APIRouter(include_in_schema=False)

T = TypeVar("T")


@router.get("/funnel")
def funnel_page(
    request: Request,
    user: CurrentUser,
    wired: Wired,
    reports: Reports,
    period: str | None = None,
    start: Annotated[str | None, Query(alias="from")] = None,
    end: Annotated[str | None, Query(alias="to")] = None,
    by: str | None = None,
    model: str = AttributionModel.W_SHAPED.value,
    stage: str = Stage.SQL.value,
) -> HTMLResponse:
    if not sees_analytics(user):
        raise Forbidden("The funnel is for marketing and admins. Your queue is under My queue.")
    picked = pick_period(period, start, end, now=datetime.now(UTC))
    dimension = pick_dimension(by)
    try:
        chosen_model = AttributionModel(model)
    except ValueError:
        raise BadInput(
            f"model: unknown attribution model {model!r}; one of "
            f"{', '.join(m.value for m in AttributionModel)}"
        ) from None
    credited_stage = next((s for s in ATTRIBUTED_STAGES if s.value == stage), None)
    if credited_stage is None:
        raise BadInput(f"stage: {stage!r}; attribution is of sql, opportunity or customer")

    def compute(report: Callable[[Connection], T]) -> T:
        with wired.engine.connect() as connection:
            return report(connection)

    period_ = picked.period
    funnel = reports.get(
        ("funnel", period_, dimension),
        lambda: compute(lambda c: funnel_report(c, period_, by=dimension)),
    )
    velocity = reports.get(
        ("velocity", period_), lambda: compute(lambda c: velocity_report(c, period_))
    )
    attribution = reports.get(
        ("attribution", period_), lambda: compute(lambda c: attribution_report(c, period_))
    )

    totals = funnel_report_totals(funnel, dimension)
    stage_chart = bar_chart(
        "Leads entering each stage",
        [
            (STAGE_LABELS[s.stage], s.entries, num(s.entries))
            for s in totals
            if s.stage in MAIN_STAGES
        ],
    )
    conversion_rows = _overall_conversions(funnel, dimension)
    conversion_chart = bar_chart(
        "Cohort conversion",
        [
            (
                f"{SHORT_LABELS[c.from_stage]} → {SHORT_LABELS[c.to_stage]}",
                c.rate or 0.0,
                pct(c.rate),
            )
            for c in conversion_rows
        ],
        maximum=1.0,
        tone="secondary",
    )
    group_chart = None
    if dimension is not None:
        mql_sql = [c for c in funnel.conversions if c.from_stage is Stage.MQL]
        group_chart = bar_chart(
            f"MQL → SQL conversion by {dimension.value.replace('_', ' ')}",
            [
                (group_label(c.group), c.rate or 0.0, f"{pct(c.rate)} of {num(c.cohort)}")
                for c in mql_sql[:25]
            ],
            maximum=1.0,
            tone="secondary",
        )
    credits = [c for c in attribution.credits if c.stage is credited_stage]
    credits.sort(key=lambda c: c.credits[chosen_model], reverse=True)
    attribution_chart = bar_chart(
        f"{STAGE_LABELS[credited_stage]} credited by channel ({MODEL_LABELS[chosen_model]})",
        [
            (
                group_label(c.channel, "no touches"),
                c.credits[chosen_model],
                num(c.credits[chosen_model]),
            )
            for c in credits
        ],
        tone="positive",
    )
    conversions_of = next(s for s in attribution.conversions if s.stage is credited_stage)
    return render(
        request,
        "funnel.html",
        user,
        picked=picked,
        presets=PRESET_LABELS,
        dimensions=list(Dimension),
        dimension=dimension,
        funnel=funnel,
        totals=totals,
        conversion_rows=conversion_rows,
        stage_chart=stage_chart,
        conversion_chart=conversion_chart,
        group_chart=group_chart,
        velocity=velocity,
        attribution=attribution,
        credits=credits,
        conversions_of=conversions_of,
        attribution_chart=attribution_chart,
        models=list(AttributionModel),
        chosen_model=chosen_model,
        credited_stage=credited_stage,
        attributed_stages=ATTRIBUTED_STAGES,
        stage_labels=STAGE_LABELS,
        model_labels=MODEL_LABELS,
        group_label=group_label,
    )


def funnel_report_totals(funnel: FunnelReport, dimension: Dimension | None) -> list[StageEntries]:
    """Stage rows over all groups (a breakdown's groups add up to the total)."""
    if dimension is None:
        return list(funnel.stages)
    sums: dict[Stage, list[int]] = {}
    for row in funnel.stages:
        acc = sums.setdefault(row.stage, [0, 0, 0])
        acc[0] += row.entries
        acc[1] += row.leads
        acc[2] += row.first_entries
    return [StageEntries(None, stage, *values) for stage, values in sums.items()]


def _overall_conversions(
    funnel: FunnelReport, dimension: Dimension | None
) -> list[CohortConversion]:
    if dimension is None:
        return list(funnel.conversions)
    sums: dict[tuple[Stage, Stage], list[int]] = {}
    for row in funnel.conversions:
        acc = sums.setdefault((row.from_stage, row.to_stage), [0, 0])
        acc[0] += row.cohort
        acc[1] += row.converted
    return [CohortConversion(None, a, b, *values) for (a, b), values in sums.items()]
