"""`leadgate audiences` on SQLite and PostgreSQL: create, refresh, export (checked against
a query of its own over leads and scores), and membership pushes to a real receiver."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from leadgate.adapters.db import tables as t
from tests.cli.runner import cli
from tests.cli.test_handoffs_cmd import seed
from tests.integration.test_notify_channels import SECRET, Receiver

COLUMNS = [
    "lead_id",
    "email",
    "first_name",
    "last_name",
    "account_domain",
    "stage",
    "grade",
    "score",
]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(SECRET)
    server.start()
    yield server
    server.stop()


def read_csv(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text))
    assert reader.fieldnames == COLUMNS
    return list(reader)


def expected_hot(engine: Engine) -> dict[int, tuple[str, str, str, float]]:
    """Leads graded A or B with a score of 50 or more, straight from the tables."""
    query = (
        select(t.leads.c.id, t.leads.c.email, t.leads.c.stage, t.scores.c.grade, t.scores.c.total)
        .join(t.scores, t.scores.c.lead_id == t.leads.c.id)
        .where(t.scores.c.grade.in_(["A", "B"]), t.scores.c.total >= 50)
    )
    with engine.connect() as connection:
        return {row[0]: tuple(row[1:]) for row in connection.execute(query)}  # type: ignore[misc]


def test_audiences_create_refresh_export_and_push(
    url: str, engine: Engine, tmp_path: Path, receiver: Receiver
) -> None:
    ids = seed(url, tmp_path)
    hook = cli(
        url,
        "endpoints",
        "add",
        "ads",
        "--kind",
        "webhook",
        "--events",
        "audience.changed",
        "--set",
        f"url={receiver.url('/hook')}",
        "--set",
        f"secret={SECRET}",
        "--json",
    ).json()

    bad = cli(url, "audiences", "create", "x", "--where", "score>=lots").error(2)
    assert "--where 'score>=lots': 'lots' is not a number" in bad
    assert "FIELD=VALUE" in cli(url, "audiences", "create", "x", "--where", "grade").error(2)
    empty = cli(url, "audiences", "create", "x", "--where", "grade=A", "--where", "grade!=,")
    assert empty.error(2).startswith("error: --where 'grade!=,': `not_in` takes a non-empty list")
    assert "--endpoint: no endpoint 99" in cli(
        url, "audiences", "create", "x", "--where", "grade=A", "--endpoint", "99"
    ).error(2)
    assert cli(url, "audiences", "list", "--json").json() == []

    hot = cli(
        url,
        "audiences",
        "create",
        "hot",
        "--where",
        "grade=A,B",
        "--where",
        "score>=50",
        "--endpoint",
        str(hook["id"]),
        "--json",
    ).json()
    assert hot["conditions"] == [
        {"field": "grade", "op": "in", "value": ["A", "B"]},
        {"field": "score", "op": "gte", "value": 50.0},
    ]
    assert "exists" in cli(url, "audiences", "create", "hot", "--where", "grade=A").error(2)
    recycled = cli(
        url, "audiences", "create", "recycled", "--where", "stage=recycled", "--json"
    ).json()

    want = expected_hot(engine)
    assert len(want) >= 3, "the seed makes several grade-A leads"
    refreshed = cli(url, "audiences", "refresh", "hot", "--json").json()
    assert (refreshed["members"], refreshed["added"], refreshed["removed"]) == (
        len(want),
        len(want),
        0,
    )
    again = cli(url, "audiences", "refresh", str(hot["id"])).ok()
    assert f"{len(want)} members (0 joined, 0 left)" in again

    # The export, to stdout and to a file, against the query above.
    rows = read_csv(cli(url, "audiences", "export", "hot").ok())
    assert {int(r["lead_id"]) for r in rows} == set(want)
    for row in rows:
        email, stage, grade, total = want[int(row["lead_id"])]
        assert (row["email"], row["stage"], row["grade"]) == (email, stage, grade)
        assert float(row["score"]) == pytest.approx(total, abs=0.005)
    ann = next(r for r in rows if r["email"] == "ann@acme.io")
    assert (ann["first_name"], ann["last_name"], ann["account_domain"]) == ("Ann", "Lee", "acme.io")
    out = tmp_path / "hot.csv"
    written = cli(url, "audiences", "export", str(hot["id"]), "-o", str(out))
    assert written.ok() == "" and f"wrote {len(want)} leads" in written.stderr
    assert read_csv(out.read_text(encoding="utf-8")) == rows
    assert "no audience named or numbered 'cold'" in cli(url, "audiences", "export", "cold").error(
        1
    )

    # Membership changes reach the webhook: who joined, by the worker, signed.
    assert cli(url, "worker", "--once", "--json").json()["delivered"] == 1
    (push,) = receiver.requests
    assert push.signature_ok is True
    body = push.json()
    assert body["type"] == "audience.changed"
    assert {m["lead_id"] for m in body["data"]["added"]} == set(want)
    assert body["data"]["removed"] == []

    # A recycled lead joins the nurture audience; no endpoint, so nothing is pushed.
    assert read_csv(cli(url, "audiences", "export", "recycled").ok()) == [], "only the header"
    cli(url, "feedback", "recycle", str(ids["ann@acme.io"]), "--reason", "bad_timing").ok()
    joined = cli(url, "audiences", "refresh", "recycled", "--json").json()
    assert (joined["members"], joined["added"]) == (1, 1)
    (member,) = read_csv(cli(url, "audiences", "export", str(recycled["id"])).ok())
    assert member["email"] == "ann@acme.io" and member["stage"] == "recycled"

    listed = {a["name"]: a for a in cli(url, "audiences", "list", "--json").json()}
    assert (listed["hot"]["members"], listed["recycled"]["members"]) == (len(want), 1)
    assert listed["hot"]["endpoint_id"] == hook["id"]
    table = cli(url, "audiences", "list").ok()
    assert "grade=A,B and score>=50" in table and "stage=recycled" in table
    page = cli(url, "audiences", "list", "--limit", "1", "--json").json()
    assert [a["name"] for a in page] == ["hot"]
    assert [
        a["name"] for a in cli(url, "audiences", "list", "--after", str(hot["id"]), "--json").json()
    ] == ["recycled"]
