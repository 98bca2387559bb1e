"""`leadgate feedback`: every decision sales reports, and every refusal, on SQLite and
PostgreSQL. Outcomes, transitions, handoffs and nurture tracks are read back from the
tables, not through the commands under test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from leadgate.adapters.db import tables as t
from leadgate.adapters.handoff_yaml import load_handoff_config
from leadgate.models.handoff import default_handoff_text
from tests.cli.runner import USER, cli
from tests.cli.test_handoffs_cmd import seed, stages


def outcomes(engine: Engine, lead_id: int) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(t.outcomes).where(t.outcomes.c.lead_id == lead_id).order_by(t.outcomes.c.id)
        )
        return [dict(row._mapping) for row in rows]


def transitions(engine: Engine, lead_id: int) -> list[tuple[str, str, str, str]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                t.transitions.c.from_stage,
                t.transitions.c.to_stage,
                t.transitions.c.actor,
                t.transitions.c.reason,
            )
            .where(t.transitions.c.lead_id == lead_id, t.transitions.c.actor_type == "user")
            .order_by(t.transitions.c.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


def handoff_statuses(engine: Engine, lead_id: int) -> list[str]:
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(t.handoffs.c.status)
                .where(t.handoffs.c.lead_id == lead_id)
                .order_by(t.handoffs.c.id)
            ).scalars()
        )


def test_every_feedback_path_writes_outcome_transition_and_answers_the_handoff(
    url: str, engine: Engine, tmp_path: Path
) -> None:
    ids = seed(url, tmp_path)
    ann, bob, eve, cat = (
        ids[e] for e in ("ann@acme.io", "bob@globex.com", "eve@globex.com", "cat@acme.io")
    )

    # Accept with BANT: Bob is an SQL already, so the stage stays; his handoff is accepted.
    accepted = cli(
        url, "feedback", "accept", str(bob), "--budget", "50k", "--timeline", "Q3", "--json"
    ).json()
    assert accepted["from_stage"] == "sql" and accepted["to_stage"] is None
    assert handoff_statuses(engine, bob) == ["accepted"]
    (outcome,) = outcomes(engine, bob)
    assert (outcome["kind"], outcome["actor"], outcome["handoff_id"]) == (
        "accepted",
        USER,
        accepted["handoff_id"],
    )
    assert outcome["details"] == {"budget": "50k", "timeline": "Q3"}

    text = cli(
        url,
        "feedback",
        "opportunity",
        str(bob),
        "--amount",
        "48000",
        "--expected-close",
        "2026-06-30",
    ).ok()
    assert f"lead {bob} opportunity: sql → opportunity" in text
    assert outcomes(engine, bob)[-1]["details"] == {
        "amount": 48000.0,
        "expected_close": "2026-06-30",
    }
    cli(url, "feedback", "won", str(bob), "--actor", "jane@seller.io").ok()
    assert stages(engine)[bob] == "customer"
    assert [(f, to, actor) for f, to, actor, _ in transitions(engine, bob)] == [
        ("sql", "opportunity", USER),
        ("opportunity", "customer", "jane@seller.io"),
    ]

    # Eve's deal is lost, with the reason.
    cli(url, "feedback", "opportunity", str(eve)).ok()
    cli(url, "feedback", "lost", str(eve), "--reason", "went with a competitor").ok()
    assert stages(engine)[eve] == "lost"
    assert outcomes(engine, eve)[-1]["reason"] == "went with a competitor"
    assert transitions(engine, eve)[-1][3] == "sales: lost — went with a competitor"

    # Ann is recycled onto a nurture track; her handoff is rejected.
    recycled = cli(
        url,
        "feedback",
        "recycle",
        str(ann),
        "--reason",
        "bad_timing",
        "--note",
        "budget in Q4",
        "--track",
        "long_term",
        "--json",
    ).json()
    assert (recycled["from_stage"], recycled["to_stage"]) == ("sql", "recycled")
    assert handoff_statuses(engine, ann) == ["rejected"]
    with engine.connect() as connection:
        track = connection.execute(
            select(t.leads.c.nurture_track).where(t.leads.c.id == ann)
        ).scalar_one()
    assert track == "long_term"
    last = outcomes(engine, ann)[-1]
    assert (last["kind"], last["reason"], last["note"]) == (
        "recycled",
        "bad_timing",
        "budget in Q4",
    )

    # Cat, moved to MQL by hand, is disqualified with 'other' and the note it needs.
    cli(url, "stage", str(cat), "--to", "mql", "--reason", "reviewed").ok()
    cli(url, "feedback", "disqualify", str(cat), "--reason", "other", "--note", "a reseller").ok()
    assert stages(engine)[cat] == "disqualified"
    assert transitions(engine, cat)[-1][:2] == ("mql", "disqualified")


def test_feedback_refusals_name_the_option_and_change_nothing(
    url: str, engine: Engine, tmp_path: Path
) -> None:
    ids = seed(url, tmp_path)
    ann, bob = ids["ann@acme.io"], ids["bob@globex.com"]
    config = load_handoff_config(default_handoff_text())
    before = stages(engine)

    unknown = cli(url, "feedback", "recycle", str(ann), "--reason", "bored").error(2)
    assert unknown.startswith("error: --reason: unknown recycle reason 'bored'")
    assert ", ".join(config.recycle_reasons) in unknown, "the allowed reasons are listed"
    unknown = cli(url, "feedback", "disqualify", str(ann), "--reason", "bad_timing").error(2)
    assert ", ".join(config.disqualify_reasons) in unknown
    other = cli(url, "feedback", "disqualify", str(ann), "--reason", "other").error(2)
    assert "--note: reason 'other' needs a note" in other
    blank_note = cli(
        url, "feedback", "disqualify", str(ann), "--reason", "other", "--note", "  "
    ).error(2)
    assert "needs a note" in blank_note
    track = cli(
        url, "feedback", "recycle", str(ann), "--reason", "bad_timing", "--track", "fishing"
    ).error(2)
    assert track.startswith("error: --track: unknown track 'fishing'")
    assert "long_term" in track
    assert "--amount" in cli(url, "feedback", "opportunity", str(bob), "--amount", "-1").error(2)
    assert "--expected-close" in cli(
        url, "feedback", "opportunity", str(bob), "--expected-close", "2026-02-30"
    ).error(2)
    assert "not in the transition table" in cli(url, "feedback", "won", str(bob)).error(2)
    assert "no lead with id 999" in cli(url, "feedback", "accept", "999").error(1)
    missing = cli(url, "feedback", "lost", str(bob))
    assert missing.code == 2 and "--reason" in missing.stderr

    # Nothing above stored an outcome, moved a stage or closed a handoff: the recycle with
    # a bad track failed after its stage change, inside the same transaction.
    assert stages(engine) == before
    assert outcomes(engine, ann) == [] and outcomes(engine, bob) == []
    assert handoff_statuses(engine, ann) == ["pending"]

    cli(url, "feedback", "recycle", str(ann), "--reason", "no_budget").ok()
    twice = cli(url, "feedback", "recycle", str(ann), "--reason", "no_budget").error(2)
    assert "already recycled" in twice
    assert len(outcomes(engine, ann)) == 1
