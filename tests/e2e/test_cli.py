"""The real ``leadgate`` console script, run as a user runs it, on SQLite files.

Every command here is a subprocess with ``LEADGATE_DATABASE_URL`` set, so these tests see
what only a process shows: the installed entry point starting, exit codes reaching the
shell, stdout (JSON or tables) and one-line errors on stderr kept apart, a file piped to
standard input. What each command does is tested in tests/cli, in this process.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from leadgate.adapters.db.engine import build_engine
from leadgate.analytics.dimensions import Dimension
from leadgate.analytics.funnel_report import funnel_report
from leadgate.analytics.periods import Period
from leadgate.analytics.report_params import REPORT_TABLES
from tests.cli.runner import REPO, as_json, count, ok, one_line_error
from tests.cli.runner import leadgate as prepare
from tests.e2e.servers import LEADGATE

TIMEOUT = 120

ANN = "ann@acme.io"
BOB = "bob@globex.io"


def leadgate(
    database: Path | str, *args: str, cwd: Path | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``leadgate ARGS`` against ``database`` (a SQLite file or a whole URL)."""
    url = database if isinstance(database, str) else f"sqlite:///{database}"
    env = {key: value for key, value in os.environ.items() if not key.startswith("LEADGATE_")}
    env.pop("FORCE_COLOR", None)
    env.update({"LEADGATE_DATABASE_URL": url, "COLUMNS": "200", "NO_COLOR": "1"})
    return subprocess.run(
        [str(LEADGATE), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        # Not the repository: a `.env` there must not change which database is used.
        cwd=cwd or (database.parent if isinstance(database, Path) else REPO / "tests"),
        timeout=TIMEOUT,
        check=False,
    )


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
        "import",
        "serve",
        "worker",
        "train",
        "backtest",
        *("handoffs", "feedback", "endpoints", "outbox", "handoff-config", "audiences"),
        *REPORT_TABLES,
    ):
        assert f" {command} " in root, command
    assert not (tmp_path / "x.db").exists(), "--help must not touch the database"


def test_an_unmigrated_database_says_to_run_db_upgrade(tmp_path: Path) -> None:
    error = one_line_error(leadgate(tmp_path / "fresh.db", "score"), 1)
    assert "leadgate db upgrade" in error


def test_a_bad_database_url_is_one_line_and_exit_2(tmp_path: Path) -> None:
    error = one_line_error(leadgate("mysql://x", "score", cwd=tmp_path), 2)
    assert "mysql" in error
    assert "sqlite:///" in error, "the message says which URLs work"


def test_a_workspace_set_up_ingested_and_reported_from_the_shell(tmp_path: Path) -> None:
    database = tmp_path / "x.db"
    # Set up in this process (tests/cli checks these commands); the rest is the script's.
    ok(prepare(database, "db", "upgrade"))
    ok(prepare(database, "model", "activate", "--default"))

    now = datetime.now(UTC)
    lines = [
        {
            "message_id": "ann-demo",
            "name": "Demo Requested",
            "occurred_at": (now - timedelta(hours=2)).isoformat(),
            "email": ANN,
        },
        {
            "message_id": "bob-blog",
            "name": "page_view",
            "occurred_at": (now - timedelta(hours=5)).isoformat(),
            "email": BOB,
            "properties": {"path": "/blog/why", "category": "blog"},
        },
    ]
    file = tmp_path / "touchpoints.jsonl"
    file.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    totals = as_json(leadgate(database, "ingest", str(file), "--json"))
    assert (totals["stored"], totals["leads_created"]) == (2, 2)
    rows = as_json(leadgate(database, "score", "--json"))
    assert [row["email"] for row in rows] == [ANN, BOB], "a demo request outranks a blog visit"

    # Bad input: exit 2, one line naming file and line on stderr, nothing on stdout.
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(lines[0]) + "\n{oops}\n", encoding="utf-8")
    refused = leadgate(database, "ingest", str(bad))
    assert f"{bad}:2:" in one_line_error(refused, 2)
    assert refused.stdout == ""
    assert "no lead with id 999" in one_line_error(leadgate(database, "explain", "999"), 1)

    # A CSV piped to standard input, with no more of an environment than PATH.
    piped = subprocess.run(
        [str(LEADGATE), "import", "leads", "-", "--json"],
        input="email,Plan\ncat@acme.io,team\n",
        capture_output=True,
        text=True,
        env={"LEADGATE_DATABASE_URL": f"sqlite:///{database}", "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        timeout=TIMEOUT,
        check=False,
    )
    assert piped.returncode == 0, piped.stderr
    report = json.loads(piped.stdout)
    assert (report["file"], report["created"], report["traits"]) == ("stdin", 1, {"Plan": "plan"})
    assert count(database, "leads") == 3

    # A report: the library's, as JSON on stdout.
    start, end = now - timedelta(days=7), now
    args = ["--from", start.isoformat(), "--to", end.isoformat(), "--format", "json"]
    got = as_json(leadgate(database, "funnel", *args, "--by", "source_channel"))
    engine = build_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as connection:
            want = funnel_report(connection, Period(start, end), by=Dimension.SOURCE_CHANNEL)
    finally:
        engine.dispose()
    assert got == json.loads(json.dumps(want.to_json()))
