"""The real ``leadgate`` console script, run as a user runs it, on SQLite files.

Every command here is a subprocess with ``LEADGATE_DATABASE_URL`` set, so these tests see
exactly what a user sees: exit codes, stdout (JSON or tables) and one-line errors on stderr.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

LEADGATE = Path(sys.executable).parent / "leadgate"
REPO = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = REPO / "src" / "leadgate" / "models" / "default.yaml"
TIMEOUT = 120

ANN = "ann@acme.io"
BOB = "bob@globex.io"


def leadgate(
    database: Path | str, *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``leadgate ARGS`` against ``database`` (a SQLite file or a whole URL)."""
    url = database if isinstance(database, str) else f"sqlite:///{database}"
    env = {key: value for key, value in os.environ.items() if not key.startswith("LEADGATE_")}
    env.pop("FORCE_COLOR", None)
    env.update({"LEADGATE_DATABASE_URL": url, "COLUMNS": "200", "NO_COLOR": "1"})
    return subprocess.run(
        [str(LEADGATE), *args],
        capture_output=True,
        text=True,
        env=env,
        # Not the repository: a `.env` there must not change which database is used.
        cwd=cwd or (database.parent if isinstance(database, Path) else REPO / "tests"),
        timeout=TIMEOUT,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    """Given a finished command, return its stdout after checking it succeeded."""
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stderr}{result.stdout}"
    return result.stdout


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(ok(result))


def one_line_error(result: subprocess.CompletedProcess[str], code: int | None = None) -> str:
    """Given a failed command, return its one-line message after checking how it failed."""
    if code is None:
        assert result.returncode != 0, result.stdout
    else:
        assert result.returncode == code, f"exit {result.returncode}\n{result.stderr}"
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def count(database: Path, table: str) -> int:
    with closing(sqlite3.connect(database)) as connection:
        return int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def write_jsonl(path: Path, items: Sequence[dict[str, Any] | str]) -> Path:
    path.write_text(
        "".join((item if isinstance(item, str) else json.dumps(item)) + "\n" for item in items),
        encoding="utf-8",
    )
    return path


def touchpoints() -> list[dict[str, Any]]:
    """Two leads: Ann asks for a demo (under its Segment-style name), Bob reads the blog.

    ``ann-pricing-1`` is sent twice, as a client's retry would.
    """
    now = datetime.now(UTC)

    def at(hours: float) -> str:
        return (now - timedelta(hours=hours)).isoformat()

    return [
        {
            "message_id": "ann-pricing-1",
            "name": "page_view",
            "occurred_at": at(30),
            "email": ANN,
            "properties": {"path": "/pricing", "category": "pricing"},
        },
        {
            "message_id": "ann-pricing-1",
            "name": "page_view",
            "occurred_at": at(30),
            "email": ANN,
            "properties": {"path": "/pricing", "category": "pricing"},
        },
        {
            "message_id": "ann-pricing-2",
            "name": "page_view",
            "occurred_at": at(20),
            "email": ANN,
            "properties": {"path": "/pricing", "category": "pricing"},
        },
        {
            "message_id": "ann-webinar",
            "name": "webinar_attended",
            "occurred_at": at(10),
            "email": ANN,
        },
        {
            "message_id": "ann-demo",
            "name": "Demo Requested",
            "occurred_at": at(2),
            "email": ANN,
        },
        {
            "message_id": "bob-blog",
            "name": "page_view",
            "occurred_at": at(5),
            "email": BOB,
            "properties": {"path": "/blog/why", "category": "blog"},
        },
    ]


@pytest.fixture(scope="module")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database made the documented way: `db upgrade`, then `model activate --default`."""
    path = tmp_path_factory.mktemp("template") / "x.db"
    assert "database schema at revision" in ok(leadgate(path, "db", "upgrade"))
    activation = as_json(leadgate(path, "model", "activate", "--default", "--json"))
    assert activation["version"] == 1
    assert activation["already_active"] is False
    return path


@pytest.fixture
def db(migrated_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the migrated database with the default model active."""
    path = tmp_path / "x.db"
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{migrated_template}{suffix}")
        if source.exists():
            shutil.copy(source, f"{path}{suffix}")
    return path


def test_help_lists_the_commands(tmp_path: Path) -> None:
    root = ok(leadgate(tmp_path / "x.db", "--help"))
    for command in (
        "db",
        "model",
        "ingest",
        "score",
        "explain",
        "transitions",
        "stage",
        "rescore",
        "refresh",
        "demo",
    ):
        assert f" {command} " in root, command
    model = ok(leadgate(tmp_path / "x.db", "model", "--help"))
    for command in ("validate", "activate", "show", "list"):
        assert f" {command} " in model, command
    assert not (tmp_path / "x.db").exists(), "--help must not touch the database"


def test_ingest_then_score_explain_transitions_and_stage(db: Path, tmp_path: Path) -> None:
    sent = touchpoints()
    file = write_jsonl(tmp_path / "touchpoints.jsonl", sent)
    totals = as_json(leadgate(db, "ingest", str(file), "--json"))
    assert totals["received"] == 6
    assert totals["stored"] == 5
    assert totals["duplicates"] == 1
    assert totals["leads_created"] == 2

    rows = as_json(leadgate(db, "score", "--json"))
    assert {row["email"] for row in rows} == {ANN, BOB}
    assert [row["total"] for row in rows] == sorted((row["total"] for row in rows), reverse=True)
    ann = next(row for row in rows if row["email"] == ANN)
    bob = next(row for row in rows if row["email"] == BOB)
    assert ann["total"] > bob["total"], "a demo request outranks one blog visit"
    assert rows[0]["email"] == ANN

    explained = as_json(leadgate(db, "explain", str(ann["lead_id"]), "--json"))
    assert explained["email"] == ANN
    assert explained["model_version"] == 1
    assert explained["total"] == pytest.approx(ann["total"], abs=1e-9)
    contributions = explained["contributions"]
    assert abs(sum(c["points"] for c in contributions) - explained["total"]) < 1e-9
    assert explained["fit"] + explained["engagement"] == pytest.approx(explained["total"])
    engagement = [c for c in contributions if c["kind"] == "engagement"]
    assert engagement, "Ann's touchpoints earn engagement points"
    ann_ids = {item["message_id"] for item in sent if item["email"] == ANN}
    matched: dict[str, str] = {}
    for contribution in engagement:
        if contribution["rule_id"] == "engagement_cap":
            continue  # the model-wide cap is not fed by touchpoints of its own
        assert contribution["matches"], contribution["rule_id"]
        for match in contribution["matches"]:
            matched[match["message_id"]] = match["name"]
    assert set(matched) <= ann_ids
    assert matched.get("ann-demo") == "demo_request", "the alias maps 'Demo Requested'"

    # The default model's gates want grade C or better: Ann, with nothing known about who
    # she is (fit 0, grade D), stays a lead however engaged.
    assert (explained["stage"], explained["grade"], explained["fit"]) == ("lead", "D", 0)
    assert explained["gates"]["mql"] is False
    lead_id = str(ann["lead_id"])
    assert as_json(leadgate(db, "transitions", lead_id, "--json")) == []

    # Recycling is for MQLs and SQLs: refused for a lead, with the allowed moves named.
    refused = leadgate(db, "stage", lead_id, "--to", "recycled", "--reason", "timing")
    assert "not in the transition table" in one_line_error(refused, 2)
    promoted = as_json(leadgate(db, "stage", lead_id, "--to", "mql", "--reason", "x", "--json"))
    assert (promoted["from_stage"], promoted["to_stage"]) == ("lead", "mql")
    recycled = as_json(
        leadgate(db, "stage", lead_id, "--to", "recycled", "--reason", "timing", "--json")
    )
    assert (recycled["from_stage"], recycled["to_stage"]) == ("mql", "recycled")

    history = as_json(leadgate(db, "transitions", lead_id, "--json"))
    assert [(h["from_stage"], h["to_stage"]) for h in history] == [
        ("lead", "mql"),
        ("mql", "recycled"),
    ]
    last = history[-1]
    assert (last["reason"], last["actor_type"], last["actor"]) == ("timing", "user", "cli")
    assert last["override"] is False
    assert last["model_version"] == 1
    # The snapshot is the score the decision was made on (a little decay since `score`).
    assert 0 < last["total"] <= ann["total"] + 1e-9
    (ann_now,) = as_json(leadgate(db, "score", "--lead", lead_id, "--json"))
    assert ann_now["stage"] == "recycled"


def test_ingesting_the_same_file_twice_stores_nothing_new(db: Path, tmp_path: Path) -> None:
    file = write_jsonl(tmp_path / "touchpoints.jsonl", touchpoints())
    first = as_json(leadgate(db, "ingest", str(file), "--json"))
    again = as_json(leadgate(db, "ingest", str(file), "--json"))
    assert (first["stored"], first["leads_created"]) == (5, 2)
    assert again == {
        "received": 6,
        "stored": 0,
        "duplicates": 6,
        "leads_created": 0,
        "transitions": 0,
    }
    assert count(db, "touchpoints") == 5
    assert count(db, "leads") == 2


GOOD = '"message_id": "m3", "name": "page_view"'
WHEN = '"occurred_at": "2026-03-01T09:00:00Z"'


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        (f"{{{GOOD}, oops}}", "not JSON"),
        (f'{{{GOOD}, "email": "c@acme.io"}}', "occurred_at"),
        (f'{{{GOOD}, "occurred_at": "2026-03-01T09:00:00", "email": "c@acme.io"}}', "time zone"),
        (f"{{{GOOD}, {WHEN}}}", "identity"),
        (f'{{{GOOD}, {WHEN}, "email": "not-an-email"}}', "email"),
        ("[1, 2]", "expected a JSON object"),
        (f'{{{GOOD}, {WHEN}, "email": "c@acme.io", "properties": [1]}}', "properties"),
    ],
    ids=[
        "not-json",
        "missing-field",
        "no-time-zone",
        "no-identity",
        "bad-email",
        "not-object",
        "bad-properties",
    ],
)
def test_a_bad_line_names_file_and_line_and_stores_nothing(
    db: Path, tmp_path: Path, bad_line: str, message: str
) -> None:
    good = touchpoints()[:2]
    file = write_jsonl(tmp_path / "bad.jsonl", [good[0], "", good[1], bad_line])
    # Batches of one: the good lines would already be stored if lines were checked late.
    error = one_line_error(leadgate(db, "ingest", str(file), "--batch-size", "1"), 2)
    assert f"{file}:4:" in error
    assert message in error
    assert count(db, "touchpoints") == 0
    assert count(db, "leads") == 0


@pytest.mark.parametrize(
    "args",
    [("explain", "999"), ("transitions", "999"), ("score", "--lead", "999")],
    ids=["explain", "transitions", "score"],
)
def test_an_unknown_lead_is_one_line_and_exit_1(db: Path, args: tuple[str, ...]) -> None:
    assert "no lead with id 999" in one_line_error(leadgate(db, *args), 1)


def test_a_bad_database_url_is_one_line(tmp_path: Path) -> None:
    error = one_line_error(leadgate("mysql://x", "score", cwd=tmp_path))
    assert "mysql" in error
    assert "sqlite:///" in error, "the message says which URLs work"


def test_an_unmigrated_database_says_to_run_db_upgrade(tmp_path: Path) -> None:
    error = one_line_error(leadgate(tmp_path / "fresh.db", "score"))
    assert "leadgate db upgrade" in error


def test_model_validate_accepts_the_shipped_model(tmp_path: Path) -> None:
    result = leadgate(tmp_path / "x.db", "model", "validate", str(DEFAULT_MODEL))
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().endswith(f"{DEFAULT_MODEL}: valid (0 errors, 0 warnings)")


BROKEN_MODEL = """\
name: broken
half_life_days: 10
colour: blue
fit:
  - {id: vp, field: seniority, in: [vp, c_level], points: 20}
engagement:
  - id: pricing
    touchpoint: page_view
    where:
      - field: category
        like: pricing
    points: 10
grades:
  A: {min: 20}
  D: {max: 20}
gates:
  mql: {field: total, gte: 10}
  sales_ready: {field: total, gte: 20}
"""


def test_model_validate_points_at_every_problem(tmp_path: Path) -> None:
    file = tmp_path / "broken.yaml"
    file.write_text(BROKEN_MODEL, encoding="utf-8")
    result = leadgate(tmp_path / "x.db", "model", "validate", str(file))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    *problems, verdict = result.stderr.strip().splitlines()
    assert verdict.startswith(f"{file}: invalid (")
    # Every problem says where it is, as file:line:column.
    where = re.compile(rf"^{re.escape(str(file))}:(\d+):(\d+): error: ")
    located: dict[tuple[int, int], str] = {}
    for problem in problems:
        match = where.match(problem)
        assert match, problem
        located[(int(match[1]), int(match[2]))] = problem
    # The unknown key at line 3 and the unknown operator `like` at line 11, column 9.
    assert "colour" in located.get((3, 1), ""), problems
    assert "like" in located.get((11, 9), ""), problems
    assert not (tmp_path / "x.db").exists(), "validating needs no database"


def demo(database: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return leadgate(database, "demo", "--leads", "200", "--days", "30", "--no-serve", *args)


def test_demo_is_reproducible_and_refuses_to_overwrite(tmp_path: Path) -> None:
    runs = [("one.db", "3"), ("two.db", "3"), ("three.db", "4")]
    with ThreadPoolExecutor(len(runs)) as pool:
        first, second, other = pool.map(
            lambda run: ok(demo(tmp_path / run[0], "--seed", run[1], "--reset")), runs
        )
    assert first == second, "same seed, same output"
    assert other != first, "another seed, another world"
    assert "Funnel: 200 leads" in first
    for stage in ("lead", "mql", "sql", "opportunity", "customer"):
        assert f" {stage} " in first, stage
    assert "Top 10 leads" in first
    assert count(tmp_path / "one.db", "leads") == 200

    refused = demo(tmp_path / "one.db", "--seed", "3")
    assert "--reset" in one_line_error(refused, 2)
    assert count(tmp_path / "one.db", "leads") == 200
