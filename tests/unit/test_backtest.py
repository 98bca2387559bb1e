"""Backtest replay: a replayed score is score_lead's, and the gate days it finds by walking
quiet runs as wholes are those a day-by-day recount finds."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadgate.adapters.model_yaml import load_model
from leadgate.domain.backtest import GateDays, LeadReplay, Window, day_end
from leadgate.domain.backtest_report import LeadFacts, Tally
from leadgate.domain.gates import holds
from leadgate.domain.leads import Lead
from leadgate.domain.scoring import effective_touchpoints, score_lead
from leadgate.domain.scoring_model import AnyOf, ScoringModel
from leadgate.domain.touchpoints import Touchpoint

WINDOW = Window(date(2026, 3, 1), date(2026, 4, 4))
START = datetime(2026, 1, 1, tzinfo=UTC)

# Every kind of rule whose value moves differently between touchpoints: decayed and
# capped, negative and decayed (rises), undecayed, within a look-back window, a count
# rule; a model-wide cap; gates on total, engagement ranges, touchpoint facts and grade.
MODEL_YAML = """
name: replay
half_life_days: 7
engagement_cap: 90
fit:
  - {{id: vp, field: seniority, eq: vp, points: 20}}
  - {{id: small, field: traits.size, lte: 10, points: -5}}
engagement:
  - id: pricing
    touchpoint: page_view
    where: [{{field: category, eq: pricing}}]
    points: 10
    cap: 30
  - id: burst
    touchpoint: page_view
    where: [{{field: category, eq: pricing}}]
    count: {{at_least: 3, within_days: 5}}
    points: 15
  - id: careers
    touchpoint: page_view
    where: [{{field: category, eq: careers}}]
    points: -15
    cap: 25
  - {{id: webinar, touchpoint: webinar_attended, points: 20, decay: false}}
  - {{id: demo, touchpoint: demo_request, points: 30, within_days: 4, half_life_days: 3}}
  - {{id: unsubscribe, touchpoint: email_unsubscribe, points: -20, decay: false}}
grades:
  A: {{min: 20}}
  B: {{min: 10, max: 20}}
  C: {{max: 10}}
gates:
  mql:
    any:
      - {{field: total, gte: {mql}}}
      - all:
          - {{field: engagement, between: [12, 18]}}
          - {{touchpoint: webinar_attended, within_days: 6, at_least: 2}}
  sales_ready:
    all:
      - {{field: total, gte: {ready}}}
      - {{field: engagement, lte: 80}}
      - {{field: grade, in: [A, B]}}
  skip_to_sql:
    all:
      - {{touchpoint: demo_request, within_days: 2}}
      - {{field: grade, eq: A}}
"""


def model(mql: float = 40, ready: float = 70) -> ScoringModel:
    return load_model(MODEL_YAML.format(mql=mql, ready=ready))


KINDS = [
    ("page_view", {"category": "pricing"}),
    ("page_view", {"category": "careers"}),
    ("page_view", {"category": "blog"}),
    ("webinar_attended", {}),
    ("demo_request", {}),
    ("email_unsubscribe", {}),
]

touchpoints = st.lists(
    st.tuples(
        st.integers(0, len(KINDS) - 1),
        # Minutes from 2026-01-01 to past the window's end, with midnights and exact
        # window edges more likely than chance would make them.
        st.one_of(
            st.integers(0, 100 * 24 * 60),
            st.integers(55, 99).map(lambda d: d * 24 * 60),
        ),
    ),
    max_size=25,
)


def build(
    raw: list[tuple[int, int]], seniority: str, size: int, reset: int | None
) -> tuple[Lead, list[Touchpoint]]:
    lead = Lead(
        id=1,
        email="ann@acme.io",
        seniority=seniority,
        traits={"size": size},
        engagement_reset_at=START + timedelta(minutes=reset) if reset is not None else None,
    )
    history = [
        Touchpoint(f"m{i}", KINDS[k][0], START + timedelta(minutes=m), dict(KINDS[k][1]), 1)
        for i, (k, m) in enumerate(raw)
    ]
    return lead, history


def brute_force(
    lead: Lead, history: list[Touchpoint], scoring: ScoringModel, seen: datetime | None
) -> GateDays:
    """The first day each gate holds, asking score_lead and the gates at every day's end."""
    gates = scoring.gates
    ready = AnyOf(tuple(c for c in (gates.sales_ready, gates.skip_to_sql) if c is not None))
    found: list[int | None] = [None, None]
    for index, at in enumerate(WINDOW.ends()):
        if seen is not None and at < seen:
            continue
        score = score_lead(lead, history, scoring, at, explain=False)
        counted = effective_touchpoints(history, at, lead.engagement_reset_at)
        for slot, condition in enumerate((gates.mql, ready)):
            if found[slot] is None and holds(condition, score, counted, at):
                found[slot] = index
    return GateDays(found[0], found[1])


@settings(max_examples=60, deadline=None)  # each example recounts ~100 days
@given(
    touchpoints,
    st.sampled_from(["vp", "manager", "director"]),
    st.sampled_from([5, 50]),
    st.one_of(st.none(), st.integers(0, 100 * 24 * 60)),
    st.sampled_from([(40, 70), (25, 45), (55, 95)]),
    st.one_of(st.none(), st.integers(0, 100 * 24 * 60)),
)
def test_gate_days_equal_a_day_by_day_recount(
    raw: list[tuple[int, int]],
    seniority: str,
    size: int,
    reset: int | None,
    thresholds: tuple[float, float],
    seen_minutes: int | None,
) -> None:
    lead, history = build(raw, seniority, size, reset)
    scoring = model(*thresholds)
    seen = START + timedelta(minutes=seen_minutes) if seen_minutes is not None else None
    replay = LeadReplay(lead, history, scoring, WINDOW)
    assert replay.gate_days(seen) == brute_force(lead, history, scoring, seen)


@settings(max_examples=40, deadline=None)
@given(
    touchpoints,
    st.sampled_from(["vp", "manager"]),
    st.one_of(st.none(), st.integers(0, 100 * 24 * 60)),
    st.lists(st.integers(0, WINDOW.days), min_size=1, max_size=6),
)
def test_a_replayed_score_is_score_lead_at_the_end_of_that_day(
    raw: list[tuple[int, int]], seniority: str, reset: int | None, days: list[int]
) -> None:
    lead, history = build(raw, seniority, 50, reset)
    scoring = model()
    replay = LeadReplay(lead, history, scoring, WINDOW)
    for index in days:
        at = WINDOW.ends()[index]
        expected = score_lead(lead, history, scoring, at, explain=False)
        got = replay.score_at(index)
        # Equal, not approximately equal: the same sums in the same order.
        assert (got.fit, got.engagement, got.total, got.grade, got.at) == (
            expected.fit,
            expected.engagement,
            expected.total,
            expected.grade,
            expected.at,
        )


def test_a_day_ends_at_its_last_microsecond_in_utc() -> None:
    end = day_end(date(2026, 3, 1))
    assert end == datetime(2026, 3, 1, 23, 59, 59, 999_999, tzinfo=UTC)
    assert WINDOW.ends()[0] == day_end(date(2026, 2, 28))
    assert WINDOW.day(1) == date(2026, 3, 1)
    assert len(WINDOW.ends()) == WINDOW.days + 1


def test_a_window_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="before it starts"):
        Window(date(2026, 3, 2), date(2026, 3, 1))


def test_a_touchpoint_at_midnight_counts_for_the_day_it_starts() -> None:
    lead = Lead(id=1, seniority="vp")
    at_midnight = datetime(2026, 3, 10, tzinfo=UTC)
    history = [Touchpoint("d", "demo_request", at_midnight, {}, 1)]
    days = LeadReplay(lead, history, model(), WINDOW).gate_days()
    # Skip-to-SQL (demo within 2 days, grade A) holds from 10 March, not 9 March.
    assert days.sales_ready is not None
    assert WINDOW.day(days.sales_ready) == date(2026, 3, 10)


def test_weekly_tally_against_hand_counted_leads() -> None:
    window = Window(date(2026, 3, 4), date(2026, 3, 17))  # Wed..Tue: three weeks
    tally = Tally(window)
    assert [(w.start, w.end) for w in tally.weeks] == [
        (date(2026, 3, 4), date(2026, 3, 8)),
        (date(2026, 3, 9), date(2026, 3, 15)),
        (date(2026, 3, 16), date(2026, 3, 17)),
    ]
    i = window.index_of
    # Lead 1: both flag it, the candidate two days earlier; it converts on 12 March.
    tally.add(
        LeadFacts(1, converted=(date(2026, 3, 12),), opportunity=date(2026, 3, 12)),
        GateDays(i(date(2026, 3, 10)), None),
        GateDays(i(date(2026, 3, 8)), None),
    )
    # Lead 2: already MQL before the window for the baseline; the candidate never flags it.
    tally.add(LeadFacts(2), GateDays(0, None), GateDays(None, None))
    # Lead 3: sales-ready for the candidate only, converted before it was flagged.
    tally.add(
        LeadFacts(3, converted=(date(2026, 3, 5),)),
        GateDays(None, None),
        GateDays(i(date(2026, 3, 6)), i(date(2026, 3, 16))),
    )
    figures = tally.figures()
    assert figures.leads == 3
    first, second, third = figures.weeks
    assert (first.candidate.mql, first.candidate.mql_converted) == (2, 1)
    assert (second.baseline.mql, second.baseline.mql_converted) == (1, 1)
    assert second.opportunities == 1
    assert second.baseline.opportunities_caught == second.candidate.opportunities_caught == 1
    assert (third.candidate.sales_ready, third.candidate.sales_ready_converted) == (1, 0)
    assert figures.baseline.already_mql == 1
    assert figures.baseline.opportunity_recall == figures.candidate.opportunity_recall == 1.0
    assert figures.candidate.mql_precision == 0.5
    # Converting in the window: leads 1 and 3; only lead 1 is caught by both, 2 days early.
    assert figures.timing.converting == 2
    assert (figures.timing.compared, figures.timing.median_days) == (1, -2.0)
    assert figures.timing.only_candidate == 0  # lead 3 converted before either flag
    assert [(c.lead_id, c.baseline, c.candidate) for c in figures.changes] == [
        (2, "mql", "none"),
        (3, "none", "sales_ready"),
    ]


def test_a_penalty_wearing_off_between_touchpoints_lets_a_gate_hold_mid_run() -> None:
    # Fit 20 + webinar 20 (undecayed) - careers 15 (half-life 7 days): 25 on 2 March, rising
    # towards 40 with no touchpoint arriving; the MQL gate (total >= 38) holds 20.6
    # days later, in the middle of a quiet run.
    lead = Lead(id=1, seniority="vp", traits={"size": 50})
    history = [
        Touchpoint("w", "webinar_attended", datetime(2026, 3, 2, 11, tzinfo=UTC), {}, 1),
        Touchpoint(
            "c", "page_view", datetime(2026, 3, 2, 10, tzinfo=UTC), {"category": "careers"}, 1
        ),
    ]
    scoring = model(mql=38, ready=95)
    days = LeadReplay(lead, history, scoring, WINDOW).gate_days()
    assert days == brute_force(lead, history, scoring, None)
    assert days.mql is not None and WINDOW.day(days.mql) == date(2026, 3, 22)
