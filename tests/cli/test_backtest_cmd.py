"""``leadgate backtest`` (``leadgate.cli.backtest_cmd``) on SQLite and PostgreSQL: the
report as JSON and as a table, a candidate listed at file:line:column, bad options."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from leadgate.models import default_model_text
from leadgate.services.commands import LeadIn
from leadgate.services.ingest import ingest_touchpoints
from leadgate.services.profiles import upsert_leads
from tests.cli.runner import as_json, leadgate, ok, one_line_error
from tests.integration.helpers import UowFactory, touch

NOW = datetime.now(UTC)


def lowered(threshold: int) -> str:
    text = default_model_text()
    new = text.replace("- {field: total, gte: 60}", f"- {{field: total, gte: {threshold}}}", 1)
    assert new != text
    return new


@pytest.fixture
def url(engine: Engine, uow_factory: UowFactory, default_model: int) -> str:
    """Six VPs at software companies with pricing visits and a webinar in the last weeks."""
    for i in range(6):
        email = f"vp{i}@acme{i}.io"
        upsert_leads(
            uow_factory(), [LeadIn(email=email, seniority="vp")], now=NOW - timedelta(days=40)
        )
        visits = [
            touch(
                f"p{i}-{j}",
                "page_view",
                NOW - timedelta(days=30 - 3 * j),
                email=email,
                category="pricing",
            )
            for j in range(i)
        ]
        ingest_touchpoints(uow_factory(), visits, now=NOW)
    return engine.url.render_as_string(hide_password=False)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_active_model_against_itself_changes_nothing(url: str, tmp_path: Path) -> None:
    same = write(tmp_path, "same.yaml", default_model_text())
    report = as_json(leadgate(url, "backtest", str(same), "--format", "json"))
    assert report["leads"] == 6
    assert report["totals"]["baseline"] == report["totals"]["candidate"]
    assert report["changes_total"] == 0 and report["changes"] == []
    assert report["converted"]["stage"] == "opportunity"
    assert len(report["weeks"]) >= 13  # 90 days
    out = ok(leadgate(url, "backtest", str(same)))
    assert "no lead's status would change" in out
    assert "MQLs" in out and "precision" in out


def test_a_lower_threshold_lists_the_leads_whose_status_changes(url: str, tmp_path: Path) -> None:
    low = write(tmp_path, "low.yaml", lowered(20))
    report = as_json(leadgate(url, "backtest", str(low), "--format", "json"))
    changes = report["changes"]
    assert report["changes_total"] == len(changes) > 1  # JSON lists every one
    assert all(c["baseline"] == "none" and c["candidate"] == "mql" for c in changes)
    table = ok(leadgate(url, "backtest", str(low), "--limit", "1"))
    assert f"{len(changes)} leads whose status would change" in table
    assert f"and {len(changes) - 1} more" in table
    # The same comparison the other way round, with the file as the baseline.
    same = write(tmp_path, "same.yaml", default_model_text())
    back = as_json(leadgate(url, "backtest", str(same), "--against", str(low), "--format", "json"))
    assert back["totals"]["baseline"] == report["totals"]["candidate"]
    assert back["baseline"]["source"] == str(low)


def test_an_invalid_candidate_is_listed_at_file_line_column(url: str, tmp_path: Path) -> None:
    broken = write(tmp_path, "broken.yaml", "name: x\nhalf_life_days: -3\nfit:\n  - {id: a}\n")
    result = leadgate(url, "backtest", str(broken))
    assert result.returncode == 2
    assert f"{broken}:2:" in result.stderr and "Traceback" not in result.stderr
    assert "is not a valid scoring model" in result.stderr


def test_bad_options_say_what_is_wrong(url: str, tmp_path: Path) -> None:
    same = write(tmp_path, "same.yaml", default_model_text())
    assert "no model version 42" in one_line_error(
        leadgate(url, "backtest", str(same), "--against", "42"), 1
    )
    assert "neither 'active'" in one_line_error(
        leadgate(url, "backtest", str(same), "--against", "nope.yaml"), 2
    )
    assert "--from" in one_line_error(leadgate(url, "backtest", str(same), "--from", "March"), 2)
    assert "before --from" in one_line_error(
        leadgate(url, "backtest", str(same), "--from", "2026-03-02", "--to", "2026-03-01"), 2
    )
    assert "cannot read" in one_line_error(leadgate(url, "backtest", "missing.yaml"), 2)
