"""``GET /v1/analytics/...`` of the app (in this process) over the generated workspace
(SQLite and PostgreSQL).

Each endpoint's body must be the library report's ``to_json()`` over the same database and
period (the HTTP layer adds nothing and loses nothing); one figure, the MQL → SQL cohort
conversion, is recounted in plain Python from the transition log. Then CSV, the default
period, keys and scopes, and every kind of bad parameter.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from anyio.from_thread import BlockingPortal
from fastapi import FastAPI

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
from leadgate.bootstrap import App
from leadgate.config import Settings
from leadgate.services.keys import create_key
from tests.conftest import T0
from tests.http.conftest import APP_URL, app_client, started_app
from tests.integration.test_analytics_data import Log, Workspace, ws

__all__ = ["ws"]  # the shared workspace fixture

REPORTS = list(REPORT_TABLES)


@dataclass
class Server:
    url: str
    ws: Workspace
    admin: str
    reader: str
    tracker: str
    api: FastAPI
    portal: BlockingPortal

    def client(self, key: str | None = None) -> httpx.Client:
        key = self.reader if key is None else key
        return app_client(self.api, self.portal, key)

    def get(self, path: str, key: str | None = None, **params: Any) -> httpx.Response:
        with self.client(key) as http:
            return http.get(f"/v1/analytics/{path}", params=params)

    def period(self) -> Period:
        return Period(self.ws.start, self.ws.end)

    def span(self) -> dict[str, str]:
        """The workspace's whole span as query parameters."""
        return {"from": self.ws.start.isoformat(), "to": self.ws.end.isoformat()}


@pytest.fixture(scope="module")
def server(ws: Workspace) -> Iterator[Server]:
    wired = App(Settings(database_url="sqlite://", key_cache_seconds=0.0), ws.engine)
    keys = {
        scopes: create_key(wired.uow(), name=f"analytics-{scopes}", scopes=scopes, now=T0).secret
        for scopes in ("admin", "read", "track")
    }
    with started_app(wired) as (api, portal):
        yield Server(APP_URL, ws, keys["admin"], keys["read"], keys["track"], api, portal)


def library(server: Server, compute: Any) -> Any:
    """The library's JSON over the workspace, as a client would decode it."""
    with server.ws.engine.connect() as connection:
        return json.loads(json.dumps(compute(connection).to_json()))


def body(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


# ------------------------------------------------------------------ the same figures


@pytest.mark.parametrize("by", [None, Dimension.SOURCE_CHANNEL, Dimension.WEEK])
def test_funnel_is_the_library_report(server: Server, by: Dimension | None) -> None:
    params: dict[str, Any] = {**server.span(), "within": 14}
    if by is not None:
        params["by"] = by.value
    got = body(server.get("funnel", **params))
    want = library(server, lambda c: funnel_report(c, server.period(), by=by, within_days=14))
    assert got == want
    assert got["conversions"] and any(row["cohort"] for row in got["conversions"])


@pytest.mark.parametrize("by", [None, Dimension.EMPLOYEE_BAND])
def test_velocity_is_the_library_report(server: Server, by: Dimension | None) -> None:
    params: dict[str, Any] = server.span() | ({"by": by.value} if by else {})
    got = body(server.get("velocity", **params))
    assert got == library(server, lambda c: velocity_report(c, server.period(), by=by))
    assert any(row["leads"] for row in got["steps"])


def test_sla_and_reasons_are_the_library_reports(server: Server) -> None:
    got = body(server.get("sla", **server.span()))
    assert got == library(server, lambda c: sla_report(c, server.period()))
    assert {row["figure"] for row in got["summary"]} >= {"sla_met_rate", "acceptance_rate"}
    assert got["by_rep"] and got["by_team"]
    got = body(server.get("reasons", **server.span()))
    assert got == library(server, lambda c: reasons_report(c, server.period()))
    assert got["reasons"]


def test_attribution_is_the_library_report(server: Server) -> None:
    params = {
        **server.span(),
        "by": "campaign",
        "model": ["w_shaped", "first_touch", "w_shaped"],
        "lookback": 30,
        "half_life": 3.5,
    }
    got = body(server.get("attribution", **params))
    options = AttributionOptions(half_life_days=3.5, lookback_days=30)
    models = (AttributionModel.W_SHAPED, AttributionModel.FIRST_TOUCH)
    want = library(
        server,
        lambda c: attribution_report(
            c, server.period(), by=AttributionBy.CAMPAIGN, options=options, models=models
        ),
    )
    assert got == want
    # Only the models asked for, each once, and the campaign column; CSV keeps their order.
    assert set(got["credits"][0]) == {"stage", "channel", "campaign", "w_shaped", "first_touch"}
    header = server.get("attribution", **params, format="csv", table="credits").text
    assert header.splitlines()[0] == "stage,channel,campaign,w_shaped,first_touch"
    # Every model's credits of a stage add up to its conversions.
    for stage in got["conversions"]:
        rows = [r for r in got["credits"] if r["stage"] == stage["stage"]]
        assert sum(r["w_shaped"] for r in rows) == pytest.approx(stage["conversions"], abs=1e-3)

    default = body(server.get("attribution", **server.span()))
    assert default["by"] == "channel" and default["half_life_days"] == 7.0
    assert set(default["credits"][0]) == {"stage", "channel"} | {m.value for m in AttributionModel}


def test_signals_and_accounts_are_the_library_reports(server: Server) -> None:
    got = body(server.get("signals", **server.span(), within=30, model_version=1))
    want = library(
        server,
        lambda c: signals_report(c, server.period(), within_days=30, model_version=1),
    )
    assert got == want and got["model_version"] == 1 and got["signals"]
    got = body(server.get("accounts", **server.span(), limit=5, engaged_min=2.5))
    want = library(server, lambda c: account_report(c, server.period(), limit=5, engaged_min=2.5))
    assert got == want
    assert 0 < len(got["accounts"]) <= 5


def _mql_to_sql(log: Log, period: Period) -> tuple[int, int]:
    """The MQL → SQL cohort conversion recounted from the transition log: leads whose
    first MQL entry falls in the period, and those of them entering SQL at or after it."""
    first_mql: dict[int, Any] = {}
    for tr in log.transitions:  # ordered by time, then id
        if tr.to_stage == "mql" and tr.lead_id not in first_mql:
            first_mql[tr.lead_id] = tr
    cohort = [tr for tr in first_mql.values() if period.contains(tr.occurred_at)]
    converted = [
        mql
        for mql in cohort
        if any(
            tr.to_stage == "sql" and (tr.occurred_at, tr.id) >= (mql.occurred_at, mql.id)
            for tr in log.by_lead[mql.lead_id]
        )
    ]
    return len(cohort), len(converted)


def test_the_mql_to_sql_conversion_matches_a_recount_of_the_transition_log(
    server: Server,
) -> None:
    for days in (14, 28):
        period = Period(server.ws.end - timedelta(days=days), server.ws.end)
        params = {"from": period.start.isoformat(), "to": period.end.isoformat()}
        got = body(server.get("funnel", **params))
        row = next(r for r in got["conversions"] if r["from_stage"] == "mql")
        cohort, converted = _mql_to_sql(server.ws.log, period)
        assert cohort > 0
        assert (row["cohort"], row["converted"]) == (cohort, converted)
        assert row["rate"] == pytest.approx(converted / cohort, abs=5e-5)


# ------------------------------------------------------------------ formats and periods


def test_csv_of_one_table_and_of_every_table(server: Server) -> None:
    with server.ws.engine.connect() as c:
        tables = funnel_report(c, server.period(), by=Dimension.SOURCE_CHANNEL).tables()
    response = server.get(
        "funnel", **server.span(), by="source_channel", format="csv", table="conversions"
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.text == tables[1].to_csv()
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert rows[0].keys() == {
        "source_channel",
        "from_stage",
        "to_stage",
        "cohort",
        "converted",
        "rate",
    }

    every = server.get("funnel", **server.span(), by="source_channel", format="csv")
    assert every.text == tables_csv(tables)
    sections = every.text.split("\n\n")
    assert [s.splitlines()[0] for s in sections] == ["# stages", "# conversions"]


@pytest.mark.parametrize("report", REPORTS)
def test_every_report_answers_json_and_csv_for_the_default_period(
    server: Server, report: str
) -> None:
    before = datetime.now(UTC)
    got = body(server.get(report))
    after = datetime.now(UTC)
    start = datetime.fromisoformat(got["period"]["from"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(got["period"]["to"].replace("Z", "+00:00"))
    assert before - timedelta(seconds=1) <= end <= after and end - start == timedelta(days=30)
    for table in REPORT_TABLES[report]:
        assert table in got
        response = server.get(report, format="csv", table=table)
        assert response.status_code == 200, response.text
        assert response.text.splitlines()[0].count(",") >= 1 or table == "accounts"


def test_a_date_means_midnight_utc_and_to_is_excluded(server: Server) -> None:
    got = body(server.get("reasons", **{"from": "2026-02-01", "to": "2026-02-15"}))
    assert got["period"] == {"from": "2026-02-01T00:00:00Z", "to": "2026-02-15T00:00:00Z"}
    shifted = body(
        server.get("reasons", **{"from": "2026-02-01T01:00:00+01:00", "to": "2026-02-15T00:00:00Z"})
    )
    assert shifted == got  # the same moment written in another zone
    # Transitions exactly at `to` belong to the next period.
    edge = server.ws.log.transitions[len(server.ws.log.transitions) // 2].occurred_at
    at = edge.astimezone(UTC).isoformat()
    before = body(server.get("funnel", **{"from": server.ws.start.isoformat(), "to": at}))
    after = body(server.get("funnel", **{"from": at, "to": server.ws.end.isoformat()}))
    whole = body(server.get("funnel", **server.span()))
    for a, b, w in zip(before["stages"], after["stages"], whole["stages"], strict=True):
        assert a["entries"] + b["entries"] == w["entries"]


# ------------------------------------------------------------------ keys and bad input


@pytest.mark.parametrize("report", REPORTS)
def test_a_key_is_needed_and_it_needs_the_read_scope(server: Server, report: str) -> None:
    anonymous = server.get(report, key="")
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "unauthorized"
    tracking = server.get(report, key=server.tracker)
    assert tracking.status_code == 403
    assert "'read' scope" in tracking.json()["message"]
    assert server.get(report, key=server.admin).status_code == 200


@pytest.mark.parametrize(
    ("report", "params", "status", "named"),
    [
        ("funnel", {"from": "2026-13-01"}, 422, "from"),
        ("funnel", {"from": "yesterday"}, 422, "from"),
        ("funnel", {"to": "2026-03-01T09:00:00"}, 422, "to"),  # no zone
        ("funnel", {"from": "2026-03-01", "to": "2026-03-01"}, 400, "from"),
        ("velocity", {"from": "2999-01-01"}, 400, "from"),  # after now, the default end
        ("sla", {"to": "0001-01-01"}, 400, "to"),
        ("funnel", {"by": "colour"}, 422, "by"),
        ("velocity", {"by": "channel"}, 422, "by"),
        ("funnel", {"within": "-1"}, 422, "within"),
        ("funnel", {"within": "soon"}, 422, "within"),
        ("funnel", {"format": "xml"}, 422, "format"),
        ("funnel", {"table": "credits"}, 422, "table"),
        ("attribution", {"by": "industry"}, 422, "by"),
        ("attribution", {"model": "first"}, 422, "model"),
        ("attribution", {"half_life": "0"}, 422, "half_life"),
        ("attribution", {"lookback": "inf"}, 422, "lookback"),
        ("signals", {"model_version": "0"}, 422, "model_version"),
        ("signals", {"model_version": "99"}, 404, "model_version"),
        ("accounts", {"limit": "0"}, 422, "limit"),
        ("accounts", {"engaged_min": "nan"}, 422, "engaged_min"),
    ],
)
def test_bad_parameters_are_refused_naming_them(
    server: Server, report: str, params: dict[str, str], status: int, named: str
) -> None:
    response = server.get(report, **params)
    assert response.status_code == status, response.text
    error = response.json()
    assert re.match(rf"{named}(\.\d+)?: ", error["message"]), error  # model.0: the first
    assert error["code"] in {"invalid_request", "invalid_input", "not_found"}


def test_a_half_life_of_seconds_is_answered(server: Server) -> None:
    # Weights too small for a double once were a 500 on PostgreSQL (exp underflow).
    response = server.get("attribution", **server.span(), half_life="0.0001")
    assert response.status_code == 200, response.text
