"""``leadgate ingest`` (``leadgate.cli.ops_cmds``) on SQLite files made the documented way:
totals as JSON, idempotent re-runs, and bad lines named by file and line with nothing
stored."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.runner import as_json, count, leadgate, one_line_error
from tests.cli.test_lead_cmds import touchpoints, write_jsonl


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
