"""Rule evidence without a database: when a rule first fires, the day-by-day counts on
hand-made leads, the Wilson interval, how points are suggested, and the YAML edit."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from leadgate.adapters.model_points import unified_diff, with_suggestions
from leadgate.adapters.model_yaml import load_model
from leadgate.analytics.stats import wilson as analytics_wilson
from leadgate.domain.rule_evidence import (
    Evidence,
    Exposure,
    Kind,
    Subject,
    Tally,
    Thresholds,
    Verdict,
    evidence,
    exposure_cells,
    first_fired,
    suggest,
    tally,
    wilson,
)
from leadgate.domain.scoring_model import CountThreshold, EngagementRule
from leadgate.domain.touchpoints import Touchpoint

T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
DEMO = Subject(Kind.ENGAGEMENT, "demo")


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def tp(at: datetime, n: int = 0) -> Touchpoint:
    return Touchpoint(message_id=f"m{n}-{at.isoformat()}", name="page_view", occurred_at=at)


def test_a_count_rule_fires_when_its_count_is_first_met_within_its_window() -> None:
    rule = EngagementRule("burst", "page_view", 5, count=CountThreshold(3, 7))
    spread = [tp(day(0)), tp(day(8)), tp(day(10)), tp(day(15))]  # 8, 10, 15: within 7 days
    assert first_fired(rule, spread) == day(15)
    edge = [tp(day(0)), tp(day(3)), tp(day(7))]  # exactly 7 days: counts, as scoring counts
    assert first_fired(rule, edge) == day(7)
    assert first_fired(rule, [tp(day(0)), tp(day(9))]) is None
    plain = EngagementRule("any", "page_view", 5)
    assert first_fired(plain, spread) == day(0) and first_fired(plain, []) is None


def test_days_at_risk_exposure_and_conversions_on_hand_made_leads() -> None:
    now = day(40)
    exposures = [
        # fired day 2, converted day 5: 2 days without, 4 with (days 2-5), conversion with
        Exposure(1, T0, day(5.5), {DEMO: day(2.2)}),
        # fired and converted the same day 0: 1 day with, the conversion with
        Exposure(2, T0, day(0.5), {DEMO: day(0.1)}),
        # converted day 3, fired after: 4 days without, conversion without
        Exposure(3, T0, day(3), {DEMO: day(4)}),
        # never fired, never converted, horizon 30 days: 30 days without
        Exposure(4, T0, None),
        # first seen 5 days before now: 6 days observed, 2 without and 4 with
        Exposure(5, day(35), None, {DEMO: day(37)}),
        # reached the target before it was first seen: left out
        Exposure(6, day(1), T0, {DEMO: day(2)}),
    ]
    cohort, counts = tally(exposures, [DEMO], horizon_days=30, now=now)
    assert (cohort.leads, cohort.conversions) == (5, 3)
    assert cohort.days == 6 + 1 + 4 + 30 + 6
    t = counts[DEMO]
    assert t == Tally(
        exposed_leads=3,
        exposed_days=4 + 1 + 4,
        exposed_conversions=2,
        unexposed_leads=4,
        unexposed_days=2 + 4 + 30 + 2,
        unexposed_conversions=1,
    )
    e = evidence(DEMO, t)
    assert e.rate_with == pytest.approx(2 / 9) and e.rate_without == pytest.approx(1 / 38)
    assert e.lift == pytest.approx((2 / 9) / (1 / 38))


@pytest.mark.parametrize(("successes", "trials"), [(0, 10), (3, 10), (10, 10), (57, 300)])
def test_the_wilson_interval_agrees_with_the_analytics_one(successes: int, trials: int) -> None:
    expected = analytics_wilson(successes, trials)
    assert expected is not None
    assert wilson(successes, trials) == pytest.approx(expected)
    assert wilson(0, 0) == (0.0, 1.0)


def test_the_lift_interval_is_the_wilson_share_as_a_rate_ratio() -> None:
    t = Tally(40, 1000, 30, 200, 9000, 60)
    e = evidence(DEMO, t)
    low, high = wilson(30, 90)
    assert e.low == pytest.approx(low / (1 - low) * 9000 / 1000)
    assert e.high == pytest.approx(high / (1 - high) * 9000 / 1000)
    assert e.low is not None and e.high is not None and e.low < (e.lift or 0) < e.high
    # Every conversion while exposed: no upper bound.
    assert evidence(DEMO, Tally(40, 1000, 5, 200, 9000, 0)).high is None


MODEL = """\
name: m
fit:
  - {id: vp, field: seniority, eq: vp, points: 10}  # keep me
engagement:
  - {id: demo, touchpoint: demo_request, points: 10}
  - id: news
    touchpoint: email_open
    points: 10
    cap: 30
  - {id: rare, touchpoint: webinar_attended, points: 5}
gates:
  mql: {all: [{field: total, gte: 25}]}"""  # no newline at the end, on purpose


def _evidence(subject: Subject, t: Tally) -> Evidence:
    return evidence(subject, t)


def test_points_keep_the_models_total_and_follow_the_effects() -> None:
    model = load_model(MODEL)
    found = [
        _evidence(Subject(Kind.FIT, "vp"), Tally(300, 20_000, 60, 700, 50_000, 100)),
        _evidence(DEMO, Tally(200, 5_000, 150, 800, 60_000, 100)),
        _evidence(Subject(Kind.ENGAGEMENT, "news"), Tally(500, 30_000, 60, 900, 40_000, 80)),
        _evidence(Subject(Kind.ENGAGEMENT, "rare"), Tally(5, 100, 1, 995, 70_000, 199)),
        _evidence(Subject(Kind.TOUCHPOINT, "ad_click"), Tally(400, 10_000, 120, 900, 60_000, 80)),
    ]
    suggestion = suggest(model, found, Thresholds(min_leads=30, min_conversions=10))
    by_id = {p.evidence.subject.id: p for p in suggestion.proposals}
    news = by_id["news"]  # 60/30000 vs 80/40000: a lift of exactly 1
    assert news.verdict is Verdict.CHANGED and news.suggested == 0 and news.suggested_cap is None
    demo, vp = by_id["demo"], by_id["vp"]
    assert demo.suggested is not None and vp.suggested is not None
    assert demo.suggested > vp.suggested > 0
    # The evidenced rules' points (10 + 10 + 10) are shared out again, up to rounding.
    assert abs(demo.suggested + vp.suggested + 0 - 30) <= 1
    assert by_id["rare"].verdict is Verdict.TOO_LITTLE and by_id["rare"].suggested is None
    ad = by_id["ad_click"]
    assert ad.verdict is Verdict.NEW and ad.suggested is not None and ad.suggested > 0
    assert ad.suggested_cap == 3 * ad.suggested


def test_the_yaml_edit_changes_numbers_in_place_adds_new_rules_and_patch_applies_it(
    tmp_path: Path,
) -> None:
    model = load_model(MODEL)
    found = [
        _evidence(DEMO, Tally(200, 5_000, 150, 800, 60_000, 100)),
        _evidence(Subject(Kind.ENGAGEMENT, "news"), Tally(500, 30_000, 60, 900, 40_000, 80)),
        _evidence(Subject(Kind.TOUCHPOINT, "Ad Click"), Tally(400, 10_000, 120, 900, 60_000, 80)),
    ]
    proposals = suggest(model, found).proposals
    suggested = with_suggestions(MODEL, proposals)
    lines = suggested.splitlines()
    assert lines[2] == "  - {id: vp, field: seniority, eq: vp, points: 10}  # keep me"
    assert lines[4].startswith("  - {id: demo, touchpoint: demo_request, points: ")
    assert lines[4] != "  - {id: demo, touchpoint: demo_request, points: 10}"
    assert lines[7:9] == ["    points: 0", "    cap: 30"]
    assert lines[9] == "  - {id: rare, touchpoint: webinar_attended, points: 5}"
    assert lines[10].startswith('  - {id: ad_click, description: "Suggested from evidence')
    assert '"Ad Click"' in lines[10] and lines[11] == "gates:"
    assert load_model(suggested).engagement_rules[-1].touchpoint == "Ad Click"

    (tmp_path / "m.yaml").write_text(MODEL)
    diff = unified_diff(MODEL, suggested, "m.yaml")
    done = subprocess.run(
        ["patch", "-p1"], input=diff, cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "m.yaml").read_text() == suggested
    assert with_suggestions(MODEL, []) == MODEL and unified_diff(MODEL, MODEL, "m.yaml") == ""


def test_exposure_cells_add_up_to_each_subjects_counts() -> None:
    other = Subject(Kind.FIT, "vp")
    subjects = [DEMO, other]
    exposures = [
        Exposure(1, T0, day(5.5), {DEMO: day(2.2), other: T0}),
        Exposure(2, T0, day(0.5), {DEMO: day(0.1)}),
        Exposure(3, T0, day(3), {DEMO: day(4), other: T0}),
        Exposure(4, T0, None, {DEMO: day(12)}),
        Exposure(5, day(35), None, {other: day(35)}),
    ]
    cells = exposure_cells(exposures, subjects, horizon_days=30, now=day(40))
    cohort, counts = tally(exposures, subjects, horizon_days=30, now=day(40))
    assert sum(c[0] for c in cells.values()) == cohort.days
    assert sum(c[1] for c in cells.values()) == cohort.conversions
    for i, subject in enumerate(subjects):
        on = [c for pattern, c in cells.items() if pattern[i]]
        off = [c for pattern, c in cells.items() if not pattern[i]]
        t = counts[subject]
        assert (sum(c[0] for c in on), sum(c[1] for c in on)) == (
            t.exposed_days,
            t.exposed_conversions,
        )
        assert (sum(c[0] for c in off), sum(c[1] for c in off)) == (
            t.unexposed_days,
            t.unexposed_conversions,
        )
    assert cells[(True, True)] == [4, 1]  # lead 1 from day 2 on; lead 3 converted first
