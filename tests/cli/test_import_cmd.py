"""``leadgate import`` (``leadgate.cli.import_cmd``) on SQLite files made the documented
way: the real X Education file with the commands docs/imports.md gives, exit codes,
reports, standard input, nothing half-imported."""

from __future__ import annotations

import csv
import json
import re
import shlex
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from tests.cli.runner import REPO, as_json, count, leadgate, ok, one_line_error
from tests.shared_data import XEDUCATION, located

DOCS = REPO / "docs" / "imports.md"

SF_LEADS = (
    "Lead ID,First Name,Email,Website,No. of Employees,Lead Status\r\n"
    "00Q1,Ann,ann@acme.io,acme.io,120,Working\r\n"
    "00Q2,Bob,bob@globex.io,globex.io,300,Select\r\n"
)


def write(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode())
    return path


def documented_commands() -> list[list[str]]:
    """The X Education commands exactly as docs/imports.md gives them."""
    marker = "<!-- tests/cli/test_import_cmd.py runs exactly these two commands -->"
    block = DOCS.read_text().split(marker)[1]
    code = re.search(r"```sh\n(.*?)```", block, re.S)
    assert code is not None
    commands = [shlex.split(line) for line in code.group(1).splitlines() if line.strip()]
    assert [c[:3] for c in commands] == [
        ["leadgate", "import", "leads"],
        ["leadgate", "import", "outcomes"],
    ]
    return [c[1:] for c in commands]


def run_documented(db: Path, args: list[str]) -> tuple[dict[str, Any], float]:
    resolved = located(args)
    started = time.perf_counter()
    report = as_json(leadgate(db, *resolved, "--json"))
    return report, time.perf_counter() - started


def test_the_documented_commands_import_the_x_education_file(db: Path) -> None:
    leads_args, outcomes_args = documented_commands()
    with XEDUCATION.open(newline="", encoding="utf-8") as f:
        records = list(csv.DictReader(f))
    converted = sum(1 for r in records if r["Converted"] == "1")
    with_select = {column for column in records[0] if any(r[column] == "Select" for r in records)}

    leads, leads_seconds = run_documented(db, leads_args)
    assert (leads["rows"], leads["created"], leads["errors"], leads["stored"]) == (
        9240,
        9240,
        0,
        True,
    )
    assert set(leads["placeholders"]) == with_select
    assert all(set(counts) == {"Select"} for counts in leads["placeholders"].values())
    assert leads["columns"]["external_id"] == "Prospect ID"
    assert "Converted" not in leads["traits"]
    assert count(db, "leads") == 9240

    outcomes, outcomes_seconds = run_documented(db, outcomes_args)
    assert outcomes["stages"] == {"customer": converted}
    assert outcomes["skipped"] == 9240 - converted
    with closing(sqlite3.connect(db)) as connection:
        customers = connection.execute(
            "SELECT count(*) FROM transitions WHERE to_stage = 'customer'"
        ).fetchone()[0]
    assert customers == converted == 3561

    # Seconds, not minutes (generous bounds: the test machine is shared).
    assert leads_seconds < 90 and outcomes_seconds < 45, (leads_seconds, outcomes_seconds)

    again_leads, _ = run_documented(db, leads_args)
    again_outcomes, _ = run_documented(db, outcomes_args)
    assert (again_leads["created"], again_leads["updated"], again_leads["unchanged"]) == (
        0,
        0,
        9240,
    )
    assert (again_outcomes["transitions"], again_outcomes["unchanged"]) == (0, converted)
    assert count(db, "transitions") == customers


def test_a_salesforce_export_prints_a_report(db: Path, tmp_path: Path) -> None:
    file = write(tmp_path, "sf.csv", SF_LEADS)
    out = ok(leadgate(db, "import", "leads", str(file), "--preset", "salesforce"))
    assert "sf.csv → leads: stored" in out
    assert re.search(r"│ 2\s+│ 2\s+│ 0\s+│ 0\s+│ 0\s+│ 0\s+│", out), out
    assert "Lead Status" in out and "Select" in out, "the placeholder table"
    assert count(db, "leads") == 2


def test_row_errors_exit_2_with_the_report_and_store_nothing(db: Path, tmp_path: Path) -> None:
    file = write(tmp_path, "sf.csv", SF_LEADS + "00Q3,Cy,cy@initech.com,initech.com,lots,\r\n")
    result = leadgate(db, "import", "leads", str(file), "--preset", "salesforce")
    message = one_line_error(result, 2)
    assert message == (
        "error: 1 of 3 rows have errors; nothing was stored (fix them, or use --partial to "
        "store the good rows)"
    )
    assert "refused: nothing stored" in result.stdout
    assert re.search(r"│ 4\s+│ No\. of Employees\s+│ lots\s+│ not a number", result.stdout)
    assert count(db, "leads") == 0

    as_report = leadgate(db, "import", "leads", str(file), "--preset", "salesforce", "--json")
    assert as_report.returncode == 2
    report = json.loads(as_report.stdout)
    assert report["row_errors"] == [
        {"row": 4, "column": "No. of Employees", "value": "lots", "reason": "not a number"}
    ]
    assert report["stored"] is False
    assert count(db, "leads") == 0

    partial = as_json(
        leadgate(db, "import", "leads", str(file), "--preset", "salesforce", "--partial", "--json")
    )
    assert (partial["created"], partial["errors"], partial["stored"]) == (2, 1, True)
    assert count(db, "leads") == 2


def test_a_dry_run_stores_nothing(db: Path, tmp_path: Path) -> None:
    file = write(tmp_path, "sf.csv", SF_LEADS)
    report = as_json(
        leadgate(db, "import", "leads", str(file), "--preset", "salesforce", "--dry-run", "--json")
    )
    assert (report["created"], report["dry_run"], report["stored"]) == (2, True, False)
    assert count(db, "leads") == 0


def test_standard_input(db: Path) -> None:
    result = leadgate(db, "import", "leads", "-", "--json", input="email,Plan\nann@acme.io,team\n")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["file"], report["created"], report["traits"]) == ("stdin", 1, {"Plan": "plan"})


@pytest.mark.parametrize(
    ("kind", "content", "options", "message"),
    [
        (
            "leads",
            SF_LEADS,
            ["--map", "external_id=Prospect ID"],
            "error: --map 'external_id=Prospect ID': in.csv has no column 'Prospect ID' "
            "(columns: 'Lead ID', 'First Name', 'Email', 'Website', 'No. of Employees', "
            "'Lead Status')",
        ),
        ("leads", SF_LEADS, ["--map", "lead_score=Lead ID"], "error: --map 'lead_score=Lead ID'"),
        (
            "leads",
            SF_LEADS,
            ["--preset", "pipedrive"],
            "error: unknown preset 'pipedrive' (known: hubspot, salesforce)",
        ),
        (
            "leads",
            "First Name,City\nAnn,Pune\n",
            [],
            "error: in.csv: no column for one of email, external_id, user_id (leads need it): "
            "name a column with --map email=COLUMN or choose a --preset",
        ),
        ("prospects", SF_LEADS, [], "error: unknown kind 'prospects'"),
        ("leads", "", [], "error: in.csv: the file is empty"),
        (
            "leads",
            "email,name\nann@acme.io,x\nbob@globex,y\n",
            [],
            "error: 1 of 2 rows have errors; nothing was stored",
        ),
        (
            "touchpoints",
            "email,name,occurred_at\nann@acme.io,page_view,2026-03-01\nann@acme.io,x,soon\n",
            [],
            "error: 1 of 2 rows have errors; nothing was stored",
        ),
        (
            "outcomes",
            "email,outcome\nann@acme.io,Closed Won\nbob@globex.io,Maybe\n",
            [],
            "error: 2 of 2 rows have errors; nothing was stored",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line_and_stores_nothing(
    db: Path, tmp_path: Path, kind: str, content: str, options: list[str], message: str
) -> None:
    file = write(tmp_path, "in.csv", content)
    result = leadgate(db, "import", kind, str(file), *options)
    assert one_line_error(result, 2).startswith(message)
    for table in ("leads", "accounts", "touchpoints", "transitions"):
        assert count(db, table) == 0, table


def test_a_missing_file_exits_2(db: Path, tmp_path: Path) -> None:
    result = leadgate(db, "import", "leads", str(tmp_path / "nope.csv"))
    assert one_line_error(result, 2).startswith("error: cannot read")


def test_help_lists_import(tmp_path: Path) -> None:
    assert " import " in ok(leadgate(tmp_path / "x.db", "--help"))
    usage = ok(leadgate(tmp_path / "x.db", "import", "--help"))
    for option in ("--preset", "--map", "--ignore", "--placeholder", "--dry-run", "--partial"):
        assert option in usage
