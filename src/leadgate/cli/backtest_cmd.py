"""``leadgate backtest``: replay the recorded history through a candidate scoring model."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from leadgate.cli._common import (
    EXIT_BAD_INPUT,
    console,
    err_console,
    fail,
    now,
    print_json,
    print_problems,
    read_text,
)
from leadgate.cli._common import app as wired_app
from leadgate.cli.progress import progress_bar
from leadgate.domain.predictive import Target
from leadgate.services.backtest import CONVERTED_MEANS

if TYPE_CHECKING:
    from leadgate.domain.scoring_model import ScoringModel
    from leadgate.services.backtest import BacktestReport, ModelRef


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"


def _load(path: Path, what: str) -> ScoringModel:
    """The model in a YAML file, or exit 2 listing every problem at file:line:column."""
    from leadgate.adapters.model_yaml import validate_model

    report = validate_model(read_text(path, what), source=str(path))
    if report.errors or report.model is None:
        print_problems(report.errors)
        fail(f"{path} is not a valid scoring model", EXIT_BAD_INPUT)
    return report.model


def _day(raw: str | None, option: str) -> date | None:
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        fail(f"{option}: {raw!r} is not a date such as 2026-03-01", EXIT_BAD_INPUT)


def backtest(
    candidate: Annotated[Path, typer.Argument(help="The candidate scoring model (YAML).")],
    against: Annotated[
        str,
        typer.Option(
            "--against",
            help="Compare with: 'active' (the active version), a stored version number, "
            "or another model YAML file.",
        ),
    ] = "active",
    first: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="First day (YYYY-MM-DD, UTC; default: 90 days before --to).",
            show_default=False,
        ),
    ] = None,
    last: Annotated[
        str | None,
        typer.Option("--to", help="Last day (YYYY-MM-DD, UTC; default today).", show_default=False),
    ] = None,
    converted: Annotated[
        Target,
        typer.Option(help="The stage that counts as converted for precision and timing."),
    ] = Target.OPPORTUNITY,
    output: Annotated[Format, typer.Option("--format", help="table or json.")] = Format.TABLE,
    limit: Annotated[
        int, typer.Option(min=0, help="Status changes to list in the table (JSON lists all).")
    ] = 20,
) -> None:
    """Replay the recorded touchpoints through CANDIDATE and a baseline at the end of each
    day (UTC) of the window and report, per week, the MQLs and sales-ready leads each would
    have produced, how many converted (precision), the share of opportunities and customers
    each caught (recall), how much earlier or later the candidate flags converting leads,
    and the leads whose status would change. Nothing is stored.

    Exit 0 with the report, 1 when it cannot run (no active model, database), 2 for bad
    input (an invalid model is listed at file:line:column).
    """
    from leadgate.services.backtest import Baseline, report_json, run_backtest

    model = _load(candidate, "CANDIDATE")
    if against.strip().casefold() == "active":
        baseline = Baseline()
    elif against.strip().isdigit():
        baseline = Baseline(version=int(against))
    else:
        path = Path(against)
        if not path.exists():
            fail(
                f"--against: {against!r} is neither 'active', a version number nor a file",
                EXIT_BAD_INPUT,
            )
        baseline = Baseline(model=_load(path, "--against"), source=str(path))
    start, end = _day(first, "--from"), _day(last, "--to")
    with wired_app() as wired, progress_bar("replaying", disable=output is Format.JSON) as bar:
        report = run_backtest(
            wired.uow(),
            model,
            candidate_source=str(candidate),
            baseline=baseline,
            first=start,
            last=end,
            converted=converted,
            now=now(),
            progress=bar,
        )
    if output is Format.JSON:
        print_json(report_json(report))
        return
    _print(report, limit)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _side(ref: ModelRef) -> str:
    return f"{ref.name} ({ref.source})"


def _print(report: BacktestReport, limit: int) -> None:
    figures = report.figures
    weeks = Table(
        "week",
        "MQLs base",
        "MQLs cand.",
        "sales-ready base",
        "sales-ready cand.",
        "MQLs converted base / cand.",
        "opportunities (caught base / cand.)",
        "customers (caught base / cand.)",
        title=(
            f"Backtest {figures.first} to {figures.last}: candidate {_side(report.candidate)} "
            f"against {_side(report.baseline)}, {figures.leads:,} leads"
        ),
    )
    for week in figures.weeks:
        b, c = week.baseline, week.candidate
        weeks.add_row(
            f"{week.start:%b %d}–{week.end:%b %d}",
            str(b.mql),
            str(c.mql),
            str(b.sales_ready),
            str(c.sales_ready),
            f"{b.mql_converted} / {c.mql_converted}",
            f"{week.opportunities} ({b.opportunities_caught} / {c.opportunities_caught})",
            f"{week.customers} ({b.customers_caught} / {c.customers_caught})",
        )
    console.print(weeks)
    totals = Table("over the window", "baseline", "candidate")
    base, cand = figures.baseline, figures.candidate
    rows = [
        ("MQLs (new in the window)", str(base.mql), str(cand.mql)),
        ("  already MQL the day before", str(base.already_mql), str(cand.already_mql)),
        (
            "  converted (precision)",
            _ratio(base.mql_converted, base.mql),
            _ratio(cand.mql_converted, cand.mql),
        ),
        ("sales-ready (new in the window)", str(base.sales_ready), str(cand.sales_ready)),
        (
            "  already sales-ready the day before",
            str(base.already_sales_ready),
            str(cand.already_sales_ready),
        ),
        (
            "  converted (precision)",
            _ratio(base.sales_ready_converted, base.sales_ready),
            _ratio(cand.sales_ready_converted, cand.sales_ready),
        ),
        (
            f"opportunities caught (of {figures.opportunities})",
            _ratio(base.opportunities_caught, figures.opportunities),
            _ratio(cand.opportunities_caught, figures.opportunities),
        ),
        (
            f"customers caught (of {figures.customers})",
            _ratio(base.customers_caught, figures.customers),
            _ratio(cand.customers_caught, figures.customers),
        ),
    ]
    for row in rows:
        totals.add_row(*row)
    console.print(totals)
    console.print(f"converted = {CONVERTED_MEANS[report.converted]}", highlight=False)
    timing = figures.timing
    if timing.median_days is None:
        console.print(
            f"timing: none of the {timing.converting} leads converting in the window was "
            "flagged by both models before converting",
            highlight=False,
        )
    else:
        console.print(
            f"timing: the candidate flags converting leads {_days(timing.median_days)} "
            f"(median over {timing.compared} caught by both; {timing.earlier} earlier, "
            f"{timing.same} the same day, {timing.later} later; {timing.only_candidate} "
            f"caught by the candidate only, {timing.only_baseline} by the baseline only)",
            highlight=False,
        )
    for warning in report.warnings:
        err_console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    changes = figures.changes
    if not changes:
        console.print("no lead's status would change")
        return
    table = Table(
        "lead",
        "email",
        "baseline",
        "candidate",
        "converted",
        title=f"{len(changes):,} leads whose status would change",
    )
    for change in changes[:limit]:
        table.add_row(
            str(change.lead_id),
            change.email or "",
            _status(change.baseline, change.baseline_since),
            _status(change.candidate, change.candidate_since),
            str(change.converted_on or ""),
        )
    console.print(table)
    if len(changes) > limit:
        console.print(
            f"… and {len(changes) - limit:,} more (--limit N, or --format json for all)",
            highlight=False,
        )


def _ratio(part: int, whole: int) -> str:
    return f"{part} ({_pct(part / whole)})" if whole else "–"


def _days(median: float) -> str:
    if median == 0:
        return "on the same day"
    word = "earlier" if median < 0 else "later"
    return f"{abs(median):g} days {word}"


def _status(status: str, since: date | None) -> str:
    return status if since is None else f"{status} since {since}"


def register(app: typer.Typer) -> None:
    app.command("backtest")(backtest)
