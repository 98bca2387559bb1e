"""Routes: the analytics reports, ``GET /v1/analytics/{report}``.

Each route reads the period and the report's own options, runs the report (synchronous
SQL: FastAPI runs these ``def`` routes in its thread pool) and answers the report's
``to_json()``, or with ``format=csv`` its tables as CSV.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Protocol

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import Connection, select

from leadgate.adapters.db import tables as t
from leadgate.analytics.account_report import account_report
from leadgate.analytics.attribution import (
    AttributionBy,
    AttributionModel,
    AttributionOptions,
    attribution_report,
)
from leadgate.analytics.dimensions import Dimension
from leadgate.analytics.funnel_report import funnel_report
from leadgate.analytics.handoff_report import reasons_report, sla_report
from leadgate.analytics.output import Table
from leadgate.analytics.periods import Period
from leadgate.analytics.report_params import (
    DEFAULT_DAYS,
    MAX_DAYS,
    BadParameter,
    period_of,
    pick_tables,
    tables_csv,
)
from leadgate.analytics.signals import signals_report
from leadgate.analytics.velocity import velocity_report
from leadgate.api.auth import require
from leadgate.api.errors import ERROR_RESPONSES, ApiError, ErrorBody
from leadgate.api.schemas.analytics import (
    AccountsOut,
    AttributionOut,
    FunnelOut,
    Moment,
    ReasonsOut,
    SignalsOut,
    SlaOut,
    VelocityOut,
)
from leadgate.api.schemas.common import INT32_MAX
from leadgate.bootstrap import App
from leadgate.domain.keys import ApiKey, Scope

router = APIRouter(prefix="/v1/analytics", tags=["analytics"])

Reader = Annotated[ApiKey, Depends(require(Scope.READ))]


class _Report(Protocol):
    def tables(self) -> tuple[Table, ...]: ...

    def to_json(self) -> dict[str, Any]: ...


def _wired(request: Request) -> App:
    return request.app.state.leadgate  # type: ignore[no-any-return]


Wired = Annotated[App, Depends(_wired)]


def _period(
    start: Annotated[
        Moment | None,
        Query(
            alias="from",
            description="Start, included: a date (midnight UTC) or a date-time with a zone. "
            f"Default: {DEFAULT_DAYS} days before `to`",
        ),
    ] = None,
    end: Annotated[
        Moment | None,
        Query(
            alias="to",
            description="End, EXCLUDED (`to=2026-04-01` ends with March 31). Default: now",
        ),
    ] = None,
) -> Period:
    try:
        return period_of(start, end, now=datetime.now(UTC))
    except BadParameter as exc:
        raise ApiError(400, "invalid_input", f"{exc.name}: {exc}") from None


PeriodDep = Annotated[Period, Depends(_period)]
Format = Annotated[
    Literal["json", "csv"],
    Query(
        alias="format",
        description="json: the report; csv: its tables, as sections opened by `# NAME` "
        "lines, or the one named by `table`",
    ),
]
_TABLE_HELP = "With format=csv: only this table (JSON always carries every table)"
Days = Annotated[float, Query(ge=0, le=MAX_DAYS, allow_inf_nan=False)]


def _responses() -> dict[int | str, dict[str, Any]]:
    return {
        **ERROR_RESPONSES,
        200: {
            "description": "The report (JSON), or its tables as CSV with format=csv",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
    }


def _answer(
    wired: App,
    name: str,
    output: str,
    table: str | None,
    compute: Callable[[Connection], _Report],
) -> Any:
    with wired.engine.connect() as connection:
        report = compute(connection)
    if output == "csv":
        try:
            chosen = pick_tables(name, report.tables(), table)
        except BadParameter as exc:
            raise ApiError(400, "invalid_input", f"{exc.name}: {exc}") from None
        return Response(tables_csv(chosen), media_type="text/csv; charset=utf-8")
    return report.to_json()


@router.get(
    "/funnel",
    response_model=FunnelOut,
    response_model_exclude_unset=True,
    responses=_responses(),
    summary="Stage entries and cohort conversions",
)
def funnel(
    key: Reader,
    wired: Wired,
    period: PeriodDep,
    by: Annotated[Dimension | None, Query(description="Break down by this dimension")] = None,
    within: Annotated[
        Days | None,
        Query(description="Count a conversion only within this many days of the cohort entry"),
    ] = None,
    output: Format = "json",
    table: Annotated[
        Literal["stages", "conversions"] | None, Query(description=_TABLE_HELP)
    ] = None,
) -> Any:
    """Entries into each stage in the period, and the MQL → SQL, SQL → opportunity and
    opportunity → customer conversions of the leads first entering the earlier stage in
    it (docs/analytics.md, "Funnel")."""
    return _answer(
        wired,
        "funnel",
        output,
        table,
        lambda c: funnel_report(c, period, by=by, within_days=within),
    )


@router.get(
    "/velocity",
    response_model=VelocityOut,
    response_model_exclude_unset=True,
    responses=_responses(),
    summary="Days from stage to stage, and time in each stage",
)
def velocity(
    key: Reader,
    wired: Wired,
    period: PeriodDep,
    by: Annotated[Dimension | None, Query(description="Break down by this dimension")] = None,
    output: Format = "json",
    table: Annotated[
        Literal["steps", "time_in_stage"] | None, Query(description=_TABLE_HELP)
    ] = None,
) -> Any:
    """Median, p75, p90 and mean days lead → MQL → SQL → opportunity → customer of the
    steps completed in the period, and time in stage of the stays that ended in it."""
    return _answer(wired, "velocity", output, table, lambda c: velocity_report(c, period, by=by))


@router.get(
    "/sla",
    response_model=SlaOut,
    responses=_responses(),
    summary="Speed to lead, SLA met rate, acceptance",
)
def sla(
    key: Reader,
    wired: Wired,
    period: PeriodDep,
    output: Format = "json",
    table: Annotated[
        Literal["summary", "by_rep", "by_team"] | None, Query(description=_TABLE_HELP)
    ] = None,
) -> Any:
    """The handoffs created in the period: speed to lead (median, p90 hours), SLA met and
    breached, by rep and by team, and the acceptance rate."""
    return _answer(wired, "sla", output, table, lambda c: sla_report(c, period))


@router.get(
    "/reasons",
    response_model=ReasonsOut,
    responses=_responses(),
    summary="Where MQLs, SQLs and opportunities went, and why",
)
def reasons(
    key: Reader,
    wired: Wired,
    period: PeriodDep,
    output: Format = "json",
    table: Annotated[Literal["exits", "reasons"] | None, Query(description=_TABLE_HELP)] = None,
) -> Any:
    """Exits of MQL, SQL and opportunity in the period (advance, recycle, disqualify and
    lost rates) and the reasons given for recycling, disqualifying and losing."""
    return _answer(wired, "reasons", output, table, lambda c: reasons_report(c, period))


@router.get(
    "/attribution",
    response_model=AttributionOut,
    response_model_exclude_unset=True,
    responses=_responses(),
    summary="Credit of SQLs, opportunities and won deals by channel or campaign",
)
def attribution(
    key: Reader,
    wired: Wired,
    period: PeriodDep,
    by: Annotated[
        AttributionBy, Query(description="Channels, or (channel, campaign) pairs")
    ] = AttributionBy.CHANNEL,
    model: Annotated[
        list[AttributionModel] | None,
        Query(description="Models to include; repeat the parameter for several (default all)"),
    ] = None,
    lookback: Annotated[
        Days | None,
        Query(description="Ignore touches more than this many days before the conversion"),
    ] = None,
    half_life: Annotated[
        float,
        Query(
            gt=0,
            le=MAX_DAYS,
            allow_inf_nan=False,
            description="Half-life of the time_decay model, in days",
        ),
    ] = 7.0,
    output: Format = "json",
    table: Annotated[
        Literal["conversions", "credits", "amounts"] | None, Query(description=_TABLE_HELP)
    ] = None,
) -> Any:
    """The period's SQLs, opportunities and won deals credited to channels (or campaigns)
    under first touch, last touch, linear, U-shaped, W-shaped and time decay; the credits
    of one conversion sum to 1, and amounts follow the credits."""
    models = tuple(dict.fromkeys(model or ())) or tuple(AttributionModel)
    options = AttributionOptions(half_life_days=half_life, lookback_days=lookback)

    def compute(connection: Connection) -> _Report:
        return attribution_report(connection, period, by=by, options=options, models=models)

    return _answer(wired, "attribution", output, table, compute)


def _model_exists(connection: Connection, version: int) -> bool:
    mv = t.model_versions
    found = connection.execute(select(mv.c.version).where(mv.c.version == version)).first()
    return found is not None


@router.get(
    "/signals",
    response_model=SignalsOut,
    responses={
        **_responses(),
        404: {"model": ErrorBody, "description": "No such scoring model version"},
    },
    summary="Which rules and touchpoints go with MQLs becoming SQLs",
)
def signals(
    key: Reader,
    wired: Wired,
    period: PeriodDep,
    within: Annotated[
        Days | None, Query(description="Count an MQL as converted only within this many days")
    ] = None,
    model_version: Annotated[
        int | None,
        Query(ge=1, le=INT32_MAX, description="Rules of this model version (default: active)"),
    ] = None,
    output: Format = "json",
    table: Annotated[
        Literal["signals", "precursors"] | None, Query(description=_TABLE_HELP)
    ] = None,
) -> Any:
    """MQL → SQL conversion of the period's MQL cohort with and without each engagement
    rule and touchpoint type (95% Wilson intervals, lift), and the touchpoints seen most
    often just before each kind of transition."""

    def compute(connection: Connection) -> _Report:
        if model_version is not None and not _model_exists(connection, model_version):
            raise ApiError(
                404, "not_found", f"model_version: no scoring model version {model_version}"
            )
        return signals_report(connection, period, within_days=within, model_version=model_version)

    return _answer(wired, "signals", output, table, compute)


@router.get(
    "/accounts",
    response_model=AccountsOut,
    responses=_responses(),
    summary="Accounts ranked by their leads' engagement",
)
def accounts(
    key: Reader,
    wired: Wired,
    period: PeriodDep,
    limit: Annotated[int, Query(ge=1, le=500, description="How many accounts")] = 25,
    engaged_min: Annotated[
        float,
        Query(
            ge=-1e9,
            le=1e9,
            allow_inf_nan=False,
            description="Stored engagement a lead needs to be an engaged contact",
        ),
    ] = 10.0,
    output: Format = "json",
    table: Annotated[Literal["accounts"] | None, Query(description=_TABLE_HELP)] = None,
) -> Any:
    """The most engaged accounts (sum of their leads' stored engagement), with engaged
    contacts (the buying group), touches and intent topics in the period."""
    return _answer(
        wired,
        "accounts",
        output,
        table,
        lambda c: account_report(c, period, limit=limit, engaged_min=engaged_min),
    )
