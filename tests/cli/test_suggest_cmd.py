"""``leadgate model suggest`` (``leadgate.cli.suggest_cmd``): the evidence table, JSON, and
a diff that ``patch -p1`` applies to the active model's YAML and ``leadgate model validate``
accepts."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from leadgate.adapters.db.engine import build_engine
from leadgate.adapters.db.migrate import upgrade
from leadgate.adapters.db.unit_of_work import SqlUnitOfWork
from tests.cli.runner import as_json, leadgate, ok, one_line_error
from tests.integration.test_rule_evidence import HORIZON, MODEL, world


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    database = tmp_path_factory.mktemp("suggest") / "leadgate.db"
    engine = build_engine(f"sqlite:///{database}")
    upgrade(engine)
    world(lambda: SqlUnitOfWork(engine))
    engine.dispose()
    return database


def test_table_shows_the_evidence_and_the_verdicts(db: Path) -> None:
    out = ok(leadgate(db, "model", "suggest", "--horizon", f"{HORIZON}d"))
    assert "evidence per rule" in out and "lift [95%]" in out
    for rule in (
        "fit vp",
        "fit competitor",
        "eng demo",
        "eng newsletter",
        "touch webinar_attended",
    ):
        assert rule in out
    assert "too little evidence" in out and "changes suggested" in out


def test_the_diff_applies_to_the_active_model_and_validates(db: Path, tmp_path: Path) -> None:
    result = leadgate(db, "model", "suggest", "--horizon", f"{HORIZON}d", "--format", "yaml-diff")
    diff = ok(result)
    assert diff.startswith("# leadgate model suggest: model v1 (evidence): sql within 60 days")
    assert "# engagement demo: 10 → " in diff and "lift " in diff
    assert "# fit competitor: unchanged, too little evidence (0 leads with it" in diff
    (tmp_path / "model-v1.yaml").write_text(MODEL, encoding="utf-8")
    patch = shutil.which("patch")
    assert patch is not None
    applied = subprocess.run(
        [patch, "-p1"], input=diff, cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert applied.returncode == 0, applied.stdout + applied.stderr
    suggested = (tmp_path / "model-v1.yaml").read_text(encoding="utf-8")
    assert suggested != MODEL and "  - id: demo          # the driver\n" in suggested
    validated = leadgate(db, "model", "validate", str(tmp_path / "model-v1.yaml"))
    assert validated.returncode == 0, validated.stderr
    assert "valid (0 errors" in validated.stderr

    # --output writes the same document; JSON carries it with the evidence.
    written = tmp_path / "candidate.yaml"
    report = as_json(
        leadgate(
            db,
            "model",
            "suggest",
            "--horizon",
            f"{HORIZON}d",
            "--format",
            "json",
            "--output",
            str(written),
        )
    )
    assert written.read_text(encoding="utf-8") == suggested == report["suggested_document"]
    demo = next(rule for rule in report["rules"] if rule["id"] == "demo")
    assert demo["suggested_points"] > demo["points"] == 10
    assert demo["exposed_conversions"] > 0 and demo["lift_low"] > 1
    assert report["cohort"]["leads"] == 240


def test_bad_input_is_refused_with_exit_2(db: Path) -> None:
    assert "--from must be before --to" in one_line_error(
        leadgate(db, "model", "suggest", "--from", "2026-05-01", "--to", "2026-04-01"), 2
    )
    assert "--from: 'May 1st' is not an ISO 8601 date" in one_line_error(
        leadgate(db, "model", "suggest", "--from", "May 1st"), 2
    )
    assert leadgate(db, "model", "suggest", "--format", "xml").returncode == 2
    assert "suggest" in ok(leadgate(db, "model", "--help"))
