"""The lifecycle state machine: the transition table, gates, overrides, requalification."""

from __future__ import annotations

import pytest

from leadgate.domain.errors import TransitionNotAllowed
from leadgate.domain.lifecycle import TRANSITIONS, GateResult, Stage, check_manual, gate_moves

NONE = GateResult(mql=False, sales_ready=False, skip_to_sql=False)
MQL = GateResult(mql=True, sales_ready=False, skip_to_sql=False)
BOTH = GateResult(mql=True, sales_ready=True, skip_to_sql=False)
SKIP = GateResult(mql=False, sales_ready=False, skip_to_sql=True)


def moves(
    stage: Stage, gates: GateResult, *, acceptance: bool = False, open_: bool = True
) -> list[tuple[str, str]]:
    return [
        (a.value, b.value)
        for a, b, _ in gate_moves(
            stage, gates, requires_acceptance=acceptance, requalify_open=open_
        )
    ]


def test_default_table_matches_design() -> None:
    expected = {
        "lead": {"mql", "sql"},
        "mql": {"sql", "recycled", "disqualified"},
        "sql": {"opportunity", "recycled", "disqualified"},
        "opportunity": {"customer", "lost"},
        "recycled": {"mql", "sql"},
        "lost": {"recycled"},
        "customer": set(),
        "disqualified": set(),
    }
    assert {s.value: {t.value for t in to} for s, to in TRANSITIONS.items()} == expected


def test_gates_move_forward_through_mql() -> None:
    assert moves(Stage.LEAD, NONE) == []
    assert moves(Stage.LEAD, MQL) == [("lead", "mql")]
    assert moves(Stage.LEAD, BOTH) == [("lead", "mql"), ("mql", "sql")]
    assert moves(Stage.MQL, BOTH) == [("mql", "sql")]


def test_hard_trigger_skips_to_sql() -> None:
    assert moves(Stage.LEAD, SKIP) == [("lead", "sql")]


def test_acceptance_required_stops_at_mql() -> None:
    assert moves(Stage.LEAD, BOTH, acceptance=True) == [("lead", "mql")]
    assert moves(Stage.MQL, BOTH, acceptance=True) == []
    assert moves(Stage.LEAD, SKIP, acceptance=True) == []


def test_stages_never_fall_and_late_stages_do_not_move_by_gates() -> None:
    for stage in (Stage.SQL, Stage.OPPORTUNITY, Stage.CUSTOMER, Stage.DISQUALIFIED, Stage.LOST):
        assert moves(stage, BOTH) == []
        assert moves(stage, NONE) == []


def test_requalification_waits_for_the_cooldown() -> None:
    assert moves(Stage.RECYCLED, MQL, open_=False) == []
    assert moves(Stage.RECYCLED, MQL) == [("recycled", "mql")]
    assert moves(Stage.RECYCLED, SKIP) == [("recycled", "sql")]


def test_manual_changes_follow_the_table_or_need_an_override_with_reason() -> None:
    assert check_manual(Stage.SQL, Stage.OPPORTUNITY, "", override=False) is False
    with pytest.raises(TransitionNotAllowed, match="allowed from lead: mql, sql"):
        check_manual(Stage.LEAD, Stage.CUSTOMER, "bought offline", override=False)
    with pytest.raises(TransitionNotAllowed, match="needs a reason"):
        check_manual(Stage.LEAD, Stage.CUSTOMER, "  ", override=True)
    assert check_manual(Stage.LEAD, Stage.CUSTOMER, "bought offline", override=True) is True
    with pytest.raises(TransitionNotAllowed, match="already"):
        check_manual(Stage.MQL, Stage.MQL, "x", override=True)
