"""POST /v1/models/backtest through the app in this process, on SQLite and PostgreSQL
(refusals on SQLite only)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from leadgate.models import default_model_text
from leadgate.services.commands import LeadIn
from leadgate.services.ingest import ingest_touchpoints
from leadgate.services.keys import create_key
from leadgate.services.profiles import upsert_leads
from tests.conftest import T0
from tests.http.conftest import AppServer, sqlite_only
from tests.integration.helpers import touch

NOW = datetime.now(UTC)


def seed(server: AppServer) -> None:
    for i in range(5):
        email = f"vp{i}@acme{i}.io"
        uow = server.app.uow
        upsert_leads(uow(), [LeadIn(email=email, seniority="vp")], now=NOW - timedelta(days=40))
        visits = [
            touch(
                f"p{i}-{j}",
                "page_view",
                NOW - timedelta(days=20 - j),
                email=email,
                category="pricing",
            )
            for j in range(i + 1)
        ]
        ingest_touchpoints(uow(), visits, now=NOW)


def lowered(threshold: int) -> str:
    text = default_model_text()
    return text.replace("- {field: total, gte: 60}", f"- {{field: total, gte: {threshold}}}", 1)


def test_a_reader_backtests_a_candidate_and_pages_through_the_changes(
    app_server: AppServer,
) -> None:
    seed(app_server)
    reader = create_key(app_server.app.uow(), name="r", scopes="read", now=T0).secret
    with app_server.client(reader) as http:
        same = http.post("/v1/models/backtest", json={"candidate": default_model_text()})
        assert same.status_code == 200, same.text
        body = same.json()
        assert body["changes_total"] == 0
        assert body["totals"]["baseline"] == body["totals"]["candidate"]
        assert body["window"]["to"] == NOW.date().isoformat()
        assert len(body["weeks"]) >= 13 and {"start", "end", "baseline"} <= set(body["weeks"][0])

        low = {"candidate": lowered(15), "against": "active"}
        full = http.post("/v1/models/backtest", json=low).json()
        assert full["changes_total"] == len(full["changes"]) >= 3
        page = http.post(
            "/v1/models/backtest", json={**low, "changes_offset": 1, "changes_limit": 2}
        ).json()
        assert page["changes"] == full["changes"][1:3]
        assert page["changes_total"] == full["changes_total"]

        window = http.post(
            "/v1/models/backtest",
            json={"candidate": default_model_text(), "from": "2026-01-01", "to": "2026-01-31"},
        ).json()
        assert (window["window"]["from"], len(window["weeks"])) == ("2026-01-01", 5)


@sqlite_only
def test_an_invalid_candidate_is_a_422_with_line_and_column(app_server: AppServer) -> None:
    with app_server.client() as http:
        response = http.post(
            "/v1/models/backtest", json={"candidate": "name: x\nhalf_life_days: -3\n"}
        )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid_model"
    assert any(e["line"] == 2 for e in body["errors"])
    assert "candidate:2:" in body["message"]


@sqlite_only
def test_errors_name_the_problem(app_server: AppServer) -> None:
    with app_server.client() as http:
        missing = http.post(
            "/v1/models/backtest", json={"candidate": default_model_text(), "against": 77}
        )
        assert missing.status_code == 404 and "77" in missing.json()["message"]
        reversed_window = http.post(
            "/v1/models/backtest",
            json={"candidate": default_model_text(), "from": "2026-03-02", "to": "2026-03-01"},
        )
        assert reversed_window.status_code == 400
        assert reversed_window.json()["code"] == "invalid_input"
    with app_server.client(app_server.track_key) as http:
        denied = http.post("/v1/models/backtest", json={"candidate": default_model_text()})
        assert denied.status_code == 403
