"""``leadgate score``, ``explain``, ``transitions`` and ``stage`` (``leadgate.cli.lead_cmds``)
on SQLite files made the documented way, after ``ingest``: exit codes, JSON, tables and
one-line errors on stderr."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.cli.runner import as_json, leadgate, one_line_error

ANN = "ann@acme.io"
BOB = "bob@globex.io"


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


@pytest.mark.parametrize(
    "args",
    [("explain", "999"), ("transitions", "999"), ("score", "--lead", "999")],
    ids=["explain", "transitions", "score"],
)
def test_an_unknown_lead_is_one_line_and_exit_1(db: Path, args: tuple[str, ...]) -> None:
    assert "no lead with id 999" in one_line_error(leadgate(db, *args), 1)
