"""``leadgate funnel|velocity|sla|reasons|attribution|signals|accounts``
(``leadgate.cli.analytics_cmd``) on the generated workspace (SQLite and PostgreSQL).

tests/e2e runs the real console script once for a report. Each command's JSON
must be the library report's ``to_json()`` over the same database and period, its CSV the
report's tables; the SLA met rate is recounted from the handoff rows in plain Python.
Every bad option fails with one line naming it and exit 2.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

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
from leadgate.analytics.periods import Period
from leadgate.analytics.report_params import REPORT_TABLES, tables_csv
from leadgate.analytics.signals import signals_report
from leadgate.analytics.velocity import velocity_report
from leadgate.cli.analytics_cmd import DIMENSIONS
from tests.cli.runner import Ran, cli
from tests.integration.test_analytics_data import Workspace, ws

__all__ = ["ws"]  # the shared workspace fixture

REPORTS = list(REPORT_TABLES)


def url_of(ws: Workspace) -> str:
    return ws.engine.url.render_as_string(hide_password=False)


def run(ws: Workspace, *args: str) -> Ran:
    return cli(url_of(ws), *args)


def span(ws: Workspace) -> list[str]:
    return ["--from", ws.start.isoformat(), "--to", ws.end.isoformat()]


def library(ws: Workspace, compute: Any) -> Any:
    """The library's report over the workspace's whole span."""
    with ws.engine.connect() as connection:
        return compute(connection, Period(ws.start, ws.end))


def as_decoded(report: Any) -> Any:
    return json.loads(json.dumps(report.to_json()))


# (command arguments, the same report from the library)
CASES: list[tuple[list[str], Any]] = [
    (["funnel"], funnel_report),
    (
        ["funnel", "--by", "industry", "--within", "10"],
        lambda c, p: funnel_report(c, p, by=Dimension.INDUSTRY, within_days=10),
    ),
    (["velocity", "--by", "month"], lambda c, p: velocity_report(c, p, by=Dimension.MONTH)),
    (["sla"], sla_report),
    (["reasons"], reasons_report),
    (
        [
            "attribution",
            "--by",
            "campaign",
            "--model",
            "linear, time_decay",
            "--lookback",
            "45",
            "--half-life",
            "2",
        ],
        lambda c, p: attribution_report(
            c,
            p,
            by=AttributionBy.CAMPAIGN,
            options=AttributionOptions(half_life_days=2, lookback_days=45),
            models=(AttributionModel.LINEAR, AttributionModel.TIME_DECAY),
        ),
    ),
    (["attribution"], attribution_report),
    (
        ["signals", "--within", "21", "--model-version", "2"],
        lambda c, p: signals_report(c, p, within_days=21, model_version=2),
    ),
    (
        ["accounts", "--limit", "7", "--engaged-min", "5"],
        lambda c, p: account_report(c, p, limit=7, engaged_min=5),
    ),
]
IDS = [" ".join(args) for args, _ in CASES]


@pytest.mark.parametrize(("args", "compute"), CASES, ids=IDS)
def test_json_and_csv_are_the_library_report(ws: Workspace, args: list[str], compute: Any) -> None:
    report = library(ws, compute)
    assert run(ws, *args, *span(ws), "--format", "json").json() == as_decoded(report)
    tables = report.tables()
    assert run(ws, *args, *span(ws), "--format", "csv").ok() == tables_csv(tables)
    last = tables[-1]
    one = run(ws, *args, *span(ws), "--format", "csv", "--table", last.name).ok()
    assert one == last.to_csv()
    assert next(iter(csv.reader(io.StringIO(one)))) == list(last.columns)


@pytest.mark.parametrize(("args", "compute"), CASES, ids=IDS)
def test_the_table_output_shows_every_table_and_its_figures(
    ws: Workspace, args: list[str], compute: Any
) -> None:
    report = library(ws, compute)
    shown = run(ws, *args, *span(ws)).ok()
    assert shown.startswith(f"{args[0]}  ") and "(to excluded)" in shown
    for table in report.tables():
        assert table.name in shown
        if not table.rows:
            assert f"{table.name}: no rows" in shown
            continue
        # The first row's whole numbers are printed (with thousands separators).
        for value in table.rows[0]:
            if isinstance(value, int):
                assert f"{value:,}" in shown
    only = run(ws, *args, *span(ws), "--table", report.tables()[0].name).ok()
    for other in report.tables()[1:]:
        assert f"\n{other.name}" not in only


def test_the_sla_met_rate_matches_a_recount_of_the_handoffs(ws: Workspace) -> None:
    start = ws.end - timedelta(days=21)
    got = run(
        ws, "sla", "--from", start.isoformat(), "--to", ws.end.isoformat(), "--format", "json"
    ).json()
    summary = {row["figure"]: row["value"] for row in got["summary"]}
    created = [h for h in ws.log.handoffs if start <= h.created_at < ws.end]
    with_sla = [h for h in created if h.due_at is not None]
    met = sum(h.sla_status == "met" for h in with_sla)
    breached = sum(h.sla_status == "breached" for h in with_sla)
    assert met and breached
    assert (summary["handoffs"], summary["sla_met"], summary["sla_breached"]) == (
        len(created),
        met,
        breached,
    )
    assert summary["sla_met_rate"] == pytest.approx(met / (met + breached), abs=5e-5)


@pytest.mark.parametrize("report", REPORTS)
def test_the_default_period_is_the_last_30_days(ws: Workspace, report: str) -> None:
    before = datetime.now(UTC)
    got = run(ws, report, "--format", "json").json()
    end = datetime.fromisoformat(got["period"]["to"].replace("Z", "+00:00"))
    start = datetime.fromisoformat(got["period"]["from"].replace("Z", "+00:00"))
    assert before <= end <= datetime.now(UTC)
    assert end - start == timedelta(days=30)
    # The tables --table offers are the report's, in its order (the JSON keeps it).
    assert [key for key in got if isinstance(got[key], list)] == list(REPORT_TABLES[report])


def test_only_from_or_only_to(ws: Workspace) -> None:
    got = run(ws, "reasons", "--to", "2026-02-15", "--format", "json").json()
    assert got["period"] == {"from": "2026-01-16T00:00:00Z", "to": "2026-02-15T00:00:00Z"}
    got = run(ws, "reasons", "--from", "2026-02-01 12:00", "--format", "json").json()
    assert got["period"]["from"] == "2026-02-01T12:00:00Z"  # no zone: UTC
    got = run(
        ws, "reasons", "--from", "2026-02-01T12:00+01:00", "--to", "2026-02-02", "--format", "json"
    ).json()
    assert got["period"] == {"from": "2026-02-01T11:00:00Z", "to": "2026-02-02T00:00:00Z"}


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["funnel", "--from", "2026-13-01"], "--from"),
        (["funnel", "--from", "last week"], "--from"),
        (["funnel", "--to", "2026-02-30"], "--to"),
        (["velocity", "--from", "2026-03-01", "--to", "2026-03-01"], "--from"),
        (["sla", "--from", "2999-01-01"], "--from"),  # after now, the default end
        (["funnel", "--by", "colour"], "--by"),
        (["velocity", "--by", "channel"], "--by"),
        (["funnel", "--within", "-1"], "--within"),
        (["funnel", "--within", "soon"], "--within"),
        (["reasons", "--format", "xml"], "--format"),
        (["reasons", "--table", "credits"], "--table"),
        (["reasons", "--format", "json", "--table", "exits"], "--table"),
        (["attribution", "--by", "industry"], "--by"),
        (["attribution", "--model", "linear,first"], "--model"),
        (["attribution", "--half-life", "0"], "--half-life"),
        (["attribution", "--lookback", "inf"], "--lookback"),
        (["signals", "--model-version", "1.5"], "--model-version"),
        (["signals", "--within", "nan"], "--within"),
        (["accounts", "--limit", "0"], "--limit"),
        (["accounts", "--limit", "ten"], "--limit"),
        (["accounts", "--engaged-min", "x"], "--engaged-min"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else value,
)
def test_bad_input_is_one_line_naming_the_option_and_exit_2(
    ws: Workspace, args: list[str], option: str
) -> None:
    message = run(ws, *args).error(2)
    assert message.startswith(f"error: {option}: "), message


def test_an_unknown_model_version_is_not_found(ws: Workspace) -> None:
    message = run(ws, "signals", "--model-version", "99").error(1)
    assert message == "error: --model-version: no scoring model version 99"


def test_options_a_report_does_not_have_are_not_offered(ws: Workspace) -> None:
    for args in (["sla", "--by", "owner"], ["accounts", "--within", "3"]):
        result = run(ws, *args)
        assert result.code == 2
        assert "No such option" in result.stderr


def test_help_lists_the_dimensions_and_says_to_is_excluded(ws: Workspace) -> None:
    assert set(DIMENSIONS) == {d.value for d in Dimension}
    shown = run(ws, "funnel", "--help").ok()
    assert "EXCLUDED" in shown and "employee_band" in shown and "--within" in shown
    assert "--by" not in run(ws, "sla", "--help").ok()


def test_a_report_by_source_channel_is_the_library_report(ws: Workspace) -> None:
    args = ["funnel", *span(ws), "--by", "source_channel", "--format", "json"]
    got = run(ws, *args).json()
    want = library(ws, lambda c, p: funnel_report(c, p, by=Dimension.SOURCE_CHANNEL))
    assert got == as_decoded(want)


def test_a_half_life_of_seconds_is_answered(ws: Workspace) -> None:
    # Weights too small for a double once failed on PostgreSQL (exp underflow).
    report = run(ws, "attribution", *span(ws), "--half-life", "0.0001", "--format", "json")
    assert report.json()["half_life_days"] == 0.0001
