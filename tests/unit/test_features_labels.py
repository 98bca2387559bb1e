"""Labels and landmarks (what the right answer was, and when it became final) and the
screening of attributes for leaks and identifiers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from leadgate.domain.leakage import Concern, roc_auc, screen
from leadgate.domain.predictive import Milestone, Target, reached_at, stage_before
from leadgate.domain.snapshots import LabelMode, choose_snapshots, lead_snapshots

T0 = datetime(2026, 1, 5, tzinfo=UTC)
H = timedelta(days=90)


def d(n: float) -> datetime:
    return T0 + timedelta(days=n)


def test_reaching_a_target_counts_later_stages_and_outcomes() -> None:
    events = [Milestone(d(1), stage="mql"), Milestone(d(5), outcome="opportunity")]
    assert reached_at(Target.SQL, events) == d(5)
    assert reached_at(Target.OPPORTUNITY, events) == d(5)
    assert reached_at(Target.CUSTOMER, events) is None
    assert reached_at(Target.SQL, [Milestone(d(9), stage="customer")]) == d(9)
    assert reached_at(Target.OPPORTUNITY, [Milestone(d(9), stage="lost")]) == d(9)
    assert reached_at(Target.SQL, [Milestone(d(9), stage="disqualified")]) is None


def test_stage_before_ignores_transitions_at_the_moment_itself() -> None:
    events = [Milestone(d(1), stage="mql"), Milestone(d(3), stage="sql")]
    assert stage_before(events, d(0)) == "lead"
    assert stage_before(events, d(3)) == "mql"
    assert stage_before(events, d(4)) == "sql"


def test_landmarks_stop_when_the_lead_reached_the_target_or_at_now() -> None:
    snaps = lead_snapshots(1, d(0), d(45), now=d(400), horizon=H, landmarks=(0, 30, 90))
    assert [(s.landmark, s.label, s.matured) for s in snaps] == [(0, True, True), (30, True, True)]
    never = lead_snapshots(2, d(0), None, now=d(100), horizon=H, landmarks=(0, 30, 90))
    assert [(s.landmark, s.label, s.matured) for s in never] == [
        (0, False, True),
        (30, False, False),
        (90, False, False),
    ]
    late = lead_snapshots(3, d(0), d(200), now=d(400), horizon=H, landmarks=(0, 30, 90))
    assert [s.label for s in late] == [False, False, False]  # outside every horizon
    assert lead_snapshots(4, d(10), d(5), now=d(400), horizon=H) == []  # reached before seen


def test_short_history_falls_back_to_censored_first_snapshots() -> None:
    snaps = [
        s
        for lead_id in range(40)
        for s in lead_snapshots(
            lead_id, d(0), d(1) if lead_id % 2 else None, now=d(2), horizon=H, landmarks=(0, 1)
        )
    ]
    chosen, mode = choose_snapshots(snaps, min_positives=10, min_negatives=10)
    assert mode is LabelMode.CENSORED
    assert len(chosen) == 40 and all(s.at == d(0) for s in chosen)
    assert sum(s.label for s in chosen) == 20

    matured, mode = choose_snapshots(
        [
            s
            for lead_id in range(40)
            for s in lead_snapshots(
                lead_id, d(0), d(1) if lead_id % 2 else None, now=d(200), horizon=H
            )
        ],
        min_positives=10,
        min_negatives=10,
    )
    assert mode is LabelMode.MATURED and all(s.matured for s in matured)


def test_roc_auc_by_hand() -> None:
    # Pairs (positive, negative): (0.8, 0.1) win, (0.8, 0.4) win, (0.35, 0.1) win,
    # (0.35, 0.4) loss → 3/4; a tie counts half.
    assert roc_auc([0.1, 0.4, 0.35, 0.8], [False, False, True, True]) == 0.75
    assert roc_auc([0.5, 0.5], [True, False]) == 0.5
    assert roc_auc([1.0, 2.0], [True, True]) == 0.5


def test_screening_flags_identifiers_late_filled_and_label_determining_attributes() -> None:
    n = 400
    labels = [i % 3 == 0 for i in range(n)]
    rows = []
    for i, won in enumerate(labels):
        rows.append(
            {
                "trait.crm_id": f"id-{i}",
                # Filled for 90 % of converted leads, 20 % of the others.
                "trait.lead_quality": "high"
                if (won and i % 10) or (not won and i % 5 == 0)
                else None,
                # A tag that is nearly the answer (one in 40 wrong).
                "trait.tag": ("will buy" if won else "ringing") if i % 40 else "ringing",
                "trait.plan": ["free", "pro"][i % 2],  # unrelated
                "touch.page_view.30d": float(i % 4),  # activity is never screened
            }
        )
    found = {s.feature: s for s in screen(rows, labels, [i % 2 for i in range(n)])}
    assert found["trait.crm_id"].concern is Concern.IDENTIFIER
    assert found["trait.lead_quality"].concern is Concern.FILLED_AFTER_CONTACT
    assert "90% of converted leads but 20% of the others" in found["trait.lead_quality"].detail
    assert found["trait.tag"].concern is Concern.DETERMINES_LABEL
    assert "trait.plan" not in found and "touch.page_view.30d" not in found


@pytest.mark.parametrize(
    "values", [[1.5 * i for i in range(200)], [float(i % 50) for i in range(200)]]
)
def test_measurements_are_not_identifiers(values: list[float]) -> None:
    rows = [{"trait.revenue": v} for v in values]
    labels = [i % 2 == 0 for i in range(200)]
    assert all(s.concern is not Concern.IDENTIFIER for s in screen(rows, labels, [0, 1] * 100))
