"""The analytics reports on the command line: funnel, velocity, sla, reasons, attribution,
signals, accounts.

Each command reads the period (``--from``/``--to``), its own options, and prints the
report as Rich tables, JSON (the API's body) or CSV. Options are read as text and checked
here, so that a bad value is one line naming the option (exit 2), as everywhere else.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Annotated, Any, NoReturn, Protocol, TypeVar

import typer
from rich.table import Table as RichTable
from sqlalchemy import Connection

from leadgate.analytics.output import Cell, Table
from leadgate.analytics.periods import Period
from leadgate.analytics.report_params import (
    DEFAULT_DAYS,
    MAX_DAYS,
    REPORT_TABLES,
    BadParameter,
    parse_moment,
    period_of,
    pick_tables,
    tables_csv,
)
from leadgate.cli._common import EXIT_BAD_INPUT, console, err_console, fail, now, print_json
from leadgate.cli._common import app as wired_app

_E = TypeVar("_E", bound=StrEnum)


class Report(Protocol):
    def tables(self) -> tuple[Table, ...]: ...

    def to_json(self) -> dict[str, Any]: ...


# --- options every report takes ---------------------------------------------------------

From = Annotated[
    str | None,
    typer.Option(
        "--from",
        metavar="DATE",
        help="Start of the period, included: YYYY-MM-DD (midnight UTC) or an ISO 8601 time "
        f"(no zone: UTC). Default: {DEFAULT_DAYS} days before --to.",
        show_default=False,
    ),
]
To = Annotated[
    str | None,
    typer.Option(
        "--to",
        metavar="DATE",
        help="End of the period, EXCLUDED (--to 2026-04-01 ends with March 31): YYYY-MM-DD "
        "or an ISO 8601 time. Default: now.",
        show_default=False,
    ),
]
Format = Annotated[
    str,
    typer.Option(
        "--format",
        metavar="table|json|csv",
        help="table (Rich), json (the API's body, every table) or csv (several tables as "
        "sections opened by '# NAME' lines; one with --table).",
    ),
]


def _table_option(report: str) -> Any:
    names = REPORT_TABLES[report]
    return typer.Option(
        "--table",
        metavar="|".join(names),
        help=f"Show only this table (with --format table or csv). Tables: {', '.join(names)}.",
        show_default=False,
    )


# The dimensions of leadgate.analytics.dimensions (a test checks), written out so that
# --help needs no database modules imported.
DIMENSIONS = (
    "source_channel",
    "campaign",
    "persona",
    "seniority",
    "industry",
    "employee_band",
    "region",
    "owner",
    "model_version",
    "week",
    "month",
)
By = Annotated[
    str | None,
    typer.Option(
        metavar="DIMENSION",
        help="Break the report down by one of: " + ", ".join(DIMENSIONS) + ".",
        show_default=False,
    ),
]


# --- reading options ----------------------------------------------------------------------


def _bad(option: str, message: str) -> NoReturn:
    fail(f"{option}: {message}", EXIT_BAD_INPUT)


def _choice(raw: str | None, kind: type[_E], option: str) -> _E | None:
    if raw is None:
        return None
    try:
        return kind(raw.strip())
    except ValueError:
        known = ", ".join(c.value for c in kind)
        _bad(option, f"unknown value {raw!r}; one of {known}")


def _number(
    raw: str | None,
    option: str,
    *,
    low: float,
    high: float,
    above: bool = False,
    whole: bool = False,
) -> float | None:
    """A number from an option within [low, high] (``above``: greater than low)."""
    if raw is None:
        return None
    try:
        value = float(int(raw)) if whole else float(raw)
    except ValueError:
        _bad(option, f"{raw!r} is not {'a whole number' if whole else 'a number'}")
    too_low = value <= low if above else value < low
    if not math.isfinite(value) or too_low or value > high:
        bound = f"greater than {low:g}" if above else f"at least {low:g}"
        _bad(option, f"{raw} is out of range: {bound} and at most {high:g}")
    return value


def _days(raw: str | None, option: str, *, positive: bool = False) -> float | None:
    return _number(raw, option, low=0, high=MAX_DAYS, above=positive)


def _period(start: str | None, end: str | None) -> Period:
    try:
        begin = parse_moment(start, "from") if start is not None else None
        stop = parse_moment(end, "to") if end is not None else None
        return period_of(begin, stop, now=now())
    except BadParameter as exc:
        _bad(f"--{exc.name}", str(exc))


def _format(raw: str, table: str | None) -> str:
    chosen = raw.strip().lower()
    if chosen not in ("table", "json", "csv"):
        _bad("--format", f"unknown format {raw!r}; one of table, json, csv")
    if chosen == "json" and table is not None:
        _bad("--table", "applies to --format table or csv; JSON always carries every table")
    return chosen


def _table_name(report: str, raw: str | None) -> str | None:
    if raw is not None and raw not in REPORT_TABLES[report]:
        known = ", ".join(REPORT_TABLES[report])
        _bad("--table", f"{report} has no table {raw!r}; its tables: {known}")
    return raw


# --- running and printing -----------------------------------------------------------------


@contextmanager
def _connection(label: str) -> Iterator[Connection]:
    """A read connection, with a spinner on stderr while the queries run."""
    with (
        wired_app() as wired,
        wired.engine.connect() as connection,
        err_console.status(f"computing {label}…"),
    ):
        yield connection


def _cell(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        text = f"{value:,.4f}".rstrip("0").rstrip(".")
        return "0" if text in ("", "-0") else text
    if isinstance(value, int):
        return f"{value:,}"
    return value


def _heading(report: str, body: dict[str, Any]) -> str:
    period = body["period"]
    options = [
        f"{key.replace('_', ' ')} {value}"
        for key, value in body.items()
        if key != "period" and not isinstance(value, list | dict) and value is not None
    ]
    text = f"[bold]{report}[/]  {period['from']} → {period['to']} (to excluded)"
    return text + ("  " + ", ".join(options) if options else "")


def _without_empty_group(table: Table) -> Table:
    """Without a breakdown the first column, ``group``, is empty: not worth a column."""
    if table.columns[:1] != ("group",) or any(row[0] is not None for row in table.rows):
        return table
    return Table(table.name, table.columns[1:], tuple(row[1:] for row in table.rows))


def _show(report: str, result: Report, output: str, table: str | None) -> None:
    if output == "json":
        print_json(result.to_json())
        return
    try:
        tables = pick_tables(report, result.tables(), table)
    except BadParameter as exc:  # checked before running; kept for safety
        _bad(f"--{exc.name}", str(exc))
    if output == "csv":
        sys.stdout.write(tables_csv(tables))
        return
    console.print(_heading(report, result.to_json()), highlight=False)
    for found in map(_without_empty_group, tables):
        rich = RichTable(title=found.name, title_justify="left")
        numeric = {
            i
            for i in range(len(found.columns))
            if any(isinstance(row[i], int | float) for row in found.rows)
        }
        for i, column in enumerate(found.columns):
            rich.add_column(column, justify="right" if i in numeric else "left")
        for row in found.rows:
            rich.add_row(*(_cell(value) for value in row))
        if not found.rows:
            console.print(f"{found.name}: no rows", highlight=False)
            continue
        console.print(rich)


def _run(
    report: str,
    start: str | None,
    end: str | None,
    output: str,
    table: str | None,
    compute: Callable[[Connection, Period], Report],
) -> None:
    """Check the common options, then compute and print. Report-specific options are
    read by the caller before this, so every bad option fails before the database opens."""
    chosen = _format(output, table)
    wanted = _table_name(report, table)
    period = _period(start, end)
    with _connection(report) as connection:
        result = compute(connection, period)
    _show(report, result, chosen, wanted)


# --- commands -----------------------------------------------------------------------------


def funnel(
    start: From = None,
    end: To = None,
    by: By = None,
    within: Annotated[
        str | None,
        typer.Option(
            metavar="DAYS",
            help="Count a conversion only if it came at most this many days after the "
            "cohort entry (default: any time up to now).",
            show_default=False,
        ),
    ] = None,
    output: Format = "table",
    table: Annotated[str | None, _table_option("funnel")] = None,
) -> None:
    """Stage entries and cohort conversions MQL → SQL → opportunity → won.

    Example: `leadgate funnel --from 2026-03-01 --to 2026-04-01 --by source_channel`.
    """
    from leadgate.analytics.dimensions import Dimension
    from leadgate.analytics.funnel_report import funnel_report

    dimension = _choice(by, Dimension, "--by")
    within_days = _days(within, "--within")
    _run(
        "funnel",
        start,
        end,
        output,
        table,
        lambda c, p: funnel_report(c, p, by=dimension, within_days=within_days),
    )


def velocity(
    start: From = None,
    end: To = None,
    by: By = None,
    output: Format = "table",
    table: Annotated[str | None, _table_option("velocity")] = None,
) -> None:
    """Median, p75, p90 and mean days lead → MQL → SQL → opportunity → won, and time in
    each stage.

    Example: `leadgate velocity --from 2026-01-01 --by month`.
    """
    from leadgate.analytics.dimensions import Dimension
    from leadgate.analytics.velocity import velocity_report

    dimension = _choice(by, Dimension, "--by")
    _run("velocity", start, end, output, table, lambda c, p: velocity_report(c, p, by=dimension))


def sla(
    start: From = None,
    end: To = None,
    output: Format = "table",
    table: Annotated[str | None, _table_option("sla")] = None,
) -> None:
    """Handoffs created in the period: speed to lead (median, p90 hours), SLA met rate,
    breaches by rep and team, acceptance rate.

    Example: `leadgate sla --from 2026-03-01 --table by_rep`.
    """
    from leadgate.analytics.handoff_report import sla_report

    _run("sla", start, end, output, table, sla_report)


def reasons(
    start: From = None,
    end: To = None,
    output: Format = "table",
    table: Annotated[str | None, _table_option("reasons")] = None,
) -> None:
    """Where MQLs, SQLs and opportunities went (advance, recycle, disqualify, lost rates)
    and the reasons sales gave.

    Example: `leadgate reasons --from 2026-03-01 --format csv --table reasons`.
    """
    from leadgate.analytics.handoff_report import reasons_report

    _run("reasons", start, end, output, table, reasons_report)


def attribution(
    start: From = None,
    end: To = None,
    by: Annotated[
        str,
        typer.Option(
            metavar="channel|campaign",
            help="Credit channels, or (channel, campaign) pairs.",
        ),
    ] = "channel",
    model: Annotated[
        str | None,
        typer.Option(
            metavar="MODEL,...",
            help="Models to show, comma-separated: first_touch, last_touch, linear, "
            "u_shaped, w_shaped, time_decay (default: all).",
            show_default=False,
        ),
    ] = None,
    lookback: Annotated[
        str | None,
        typer.Option(
            metavar="DAYS",
            help="Ignore touches more than this many days before the conversion "
            "(default: the lead's whole history).",
            show_default=False,
        ),
    ] = None,
    half_life: Annotated[
        str | None,
        typer.Option(
            metavar="DAYS",
            help="Half-life of the time_decay model, in days (default 7).",
            show_default=False,
        ),
    ] = None,
    output: Format = "table",
    table: Annotated[str | None, _table_option("attribution")] = None,
) -> None:
    """Credit the period's SQLs, opportunities and won deals (and their amounts) to
    channels or campaigns, under each attribution model.

    Example: `leadgate attribution --by campaign --model first_touch,w_shaped --half-life 14`.
    """
    from leadgate.analytics.attribution import (
        AttributionBy,
        AttributionModel,
        AttributionOptions,
        attribution_report,
    )

    grouping = _choice(by, AttributionBy, "--by")
    assert grouping is not None
    models: list[AttributionModel] = []
    if model is not None:
        for name in (part.strip() for part in model.split(",")):
            chosen = _choice(name, AttributionModel, "--model")
            if chosen is not None and chosen not in models:
                models.append(chosen)
    options = AttributionOptions(
        half_life_days=_days(half_life, "--half-life", positive=True) or 7.0,
        lookback_days=_days(lookback, "--lookback"),
    )

    def compute(connection: Connection, period: Period) -> Report:
        return attribution_report(
            connection,
            period,
            by=grouping,
            options=options,
            models=tuple(models) or tuple(AttributionModel),
        )

    _run("attribution", start, end, output, table, compute)


def signals(
    start: From = None,
    end: To = None,
    within: Annotated[
        str | None,
        typer.Option(
            metavar="DAYS",
            help="Count an MQL as converted only if it reached SQL within this many days.",
            show_default=False,
        ),
    ] = None,
    model_version: Annotated[
        str | None,
        typer.Option(
            "--model-version",
            metavar="V",
            help="Engagement rules of this scoring model version (default: the active one).",
            show_default=False,
        ),
    ] = None,
    output: Format = "table",
    table: Annotated[str | None, _table_option("signals")] = None,
) -> None:
    """MQL → SQL conversion with and without each engagement rule and touchpoint type
    (95% Wilson intervals, lift), and the touchpoints seen just before each transition.

    Example: `leadgate signals --from 2026-01-01 --within 30 --table signals`.
    """
    from leadgate.analytics.signals import signals_report

    within_days = _days(within, "--within")
    version = _number(model_version, "--model-version", low=1, high=2**31 - 1, whole=True)
    chosen = int(version) if version is not None else None

    def compute(connection: Connection, period: Period) -> Report:
        if chosen is not None and not _model_exists(connection, chosen):
            fail(f"--model-version: no scoring model version {chosen}")
        return signals_report(connection, period, within_days=within_days, model_version=chosen)

    _run("signals", start, end, output, table, compute)


def _model_exists(connection: Connection, version: int) -> bool:
    from sqlalchemy import select

    from leadgate.adapters.db import tables as t

    mv = t.model_versions
    return (
        connection.execute(select(mv.c.version).where(mv.c.version == version)).first() is not None
    )


def accounts(
    start: From = None,
    end: To = None,
    limit: Annotated[
        str, typer.Option(metavar="N", help="How many accounts, most engaged first (1-500).")
    ] = "25",
    engaged_min: Annotated[
        str,
        typer.Option(
            "--engaged-min",
            metavar="POINTS",
            help="Stored engagement a lead needs to count as an engaged contact.",
        ),
    ] = "10",
    output: Format = "table",
    table: Annotated[str | None, _table_option("accounts")] = None,
) -> None:
    """Accounts ranked by their leads' combined engagement, with the buying group (engaged
    contacts), touches and intent topics in the period.

    Example: `leadgate accounts --limit 10 --engaged-min 20`.
    """
    from leadgate.analytics.account_report import account_report

    count = _number(limit, "--limit", low=1, high=500, whole=True)
    points = _number(engaged_min, "--engaged-min", low=-1e9, high=1e9)
    assert count is not None and points is not None
    _run(
        "accounts",
        start,
        end,
        output,
        table,
        lambda c, p: account_report(c, p, limit=int(count), engaged_min=points),
    )


def register(app: typer.Typer) -> None:
    for command in (funnel, velocity, sla, reasons, attribution, signals, accounts):
        app.command()(command)
