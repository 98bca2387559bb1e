"""Scoring semantics (DESIGN.md) checked against hand-computed values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from leadgate.domain.accounts import Account
from leadgate.domain.leads import Lead
from leadgate.domain.predicates import Operator, Predicate
from leadgate.domain.scoring import score_lead
from leadgate.domain.scoring_model import (
    CountThreshold,
    EngagementRule,
    FitRule,
    Gates,
    Grade,
    GradeBand,
    ScoringModel,
)
from leadgate.domain.touchpoints import Touchpoint

T = datetime(2026, 5, 1, 12, tzinfo=UTC)
PRICING = (Predicate("category", Operator.EQ, "pricing"),)


def model(
    *engagement: EngagementRule, fit: tuple[FitRule, ...] = (), engagement_cap: float | None = None
) -> ScoringModel:
    return ScoringModel(
        name="t",
        fit_rules=fit,
        engagement_rules=engagement,
        grades=(
            GradeBand(Grade.A, min_fit=20),
            GradeBand(Grade.B, 10, 20),
            GradeBand(Grade.D, max_fit=10),
        ),
        gates=Gates(mql=None, sales_ready=None),
        engagement_cap=engagement_cap,
    )


def tp(mid: str, name: str, days_ago: float, **props: object) -> Touchpoint:
    return Touchpoint(mid, name, T - timedelta(days=days_ago), dict(props))


def test_decay_halves_points_every_half_life() -> None:
    rule = EngagementRule("pricing", "page_view", 10, PRICING, half_life_days=30)
    events = [
        tp("a", "page_view", 0, category="pricing"),
        tp("b", "page_view", 30, category="pricing"),
        tp("c", "page_view", 60, category="Pricing"),
    ]
    score = score_lead(Lead(id=1), events, model(rule), T)
    assert score.engagement == pytest.approx(10 + 5 + 2.5)
    (contribution,) = score.contributions
    assert [m.decayed for m in contribution.matches] == pytest.approx([2.5, 5, 10])
    assert contribution.raw == 30


def test_cap_bounds_the_decayed_sum_of_a_rule() -> None:
    rule = EngagementRule("pricing", "page_view", 10, PRICING, cap=25, half_life_days=None)
    events = [tp(str(i), "page_view", i, category="pricing") for i in range(4)]
    score = score_lead(Lead(id=1), events, model(rule), T)
    assert score.engagement == 25
    assert score.contributions[0].capped
    assert score.contributions[0].decayed == 40


def test_negative_rule_cap_bounds_the_penalty() -> None:
    rule = EngagementRule(
        "careers", "page_view", -10, (Predicate("category", Operator.EQ, "careers"),), cap=15
    )
    events = [tp(str(i), "page_view", 0, category="careers") for i in range(3)]
    assert score_lead(Lead(id=1), events, model(rule), T).engagement == -15


def test_touchpoints_after_t_do_not_count_and_window_drops_old_ones() -> None:
    rule = EngagementRule("demo", "demo_request", 30, within_days=14)
    events = [
        tp("future", "demo_request", -1),
        tp("old", "demo_request", 15),
        tp("recent", "demo_request", 3),
    ]
    score = score_lead(Lead(id=1), events, model(rule), T)
    assert score.engagement == 30
    assert [m.message_id for m in score.contributions[0].matches] == ["recent"]


def test_count_rule_gives_points_once_while_the_count_holds() -> None:
    rule = EngagementRule(
        "burst", "page_view", 15, PRICING, count=CountThreshold(at_least=3, within_days=30)
    )
    three = [tp(str(i), "page_view", i * 5, category="pricing") for i in range(3)]
    assert score_lead(Lead(id=1), three, model(rule), T).engagement == 15
    four = [*three, tp("x", "page_view", 1, category="pricing")]
    assert score_lead(Lead(id=1), four, model(rule), T).engagement == 15
    # 31 days later none of them is inside the window any more.
    later = T + timedelta(days=31)
    assert score_lead(Lead(id=1), three, model(rule), later).engagement == 0


def test_fit_reads_lead_account_and_custom_traits() -> None:
    fit = (
        FitRule("vp", Predicate("seniority", Operator.IN, ("vp", "c_level")), 10),
        FitRule("size", Predicate("account.employees", Operator.BETWEEN, (50, 1000)), 8),
        FitRule("plan", Predicate("traits.plan", Operator.EQ, "enterprise"), 5),
        FitRule("gmail", Predicate("email_domain", Operator.EQ, "gmail.com"), -20),
    )
    lead = Lead(
        id=1,
        email="ann@acme.io",
        seniority="VP",
        traits={"plan": "Enterprise"},
        account=Account("acme.io", employees=250),
    )
    score = score_lead(lead, [], model(fit=fit), T)
    assert score.fit == 23
    assert score.grade is Grade.A
    assert {c.rule_id for c in score.contributions} == {"vp", "size", "plan"}


def test_contributions_sum_to_total_including_model_cap() -> None:
    rules = (EngagementRule("a", "webinar_attended", 40), EngagementRule("b", "demo_request", 40))
    fit = (FitRule("any", Predicate("email", Operator.EXISTS, True), 12),)
    events = [tp("1", "webinar_attended", 0), tp("2", "demo_request", 0)]
    score = score_lead(
        Lead(id=1, email="a@b.io"), events, model(*rules, fit=fit, engagement_cap=50), T
    )
    assert score.engagement == 50
    assert score.total == 62
    assert sum(c.points for c in score.contributions) == pytest.approx(score.total)


def test_engagement_reset_ignores_touchpoints_before_it_only_once_in_effect() -> None:
    rule = EngagementRule("demo", "demo_request", 30)
    events = [tp("old", "demo_request", 10)]
    lead = Lead(id=1, engagement_reset_at=T - timedelta(days=5))
    assert score_lead(lead, events, model(rule), T).engagement == 0
    # As of a moment before the reset, the old touchpoint still counts.
    assert score_lead(lead, events, model(rule), T - timedelta(days=6)).engagement == 30


def test_arrival_order_does_not_change_the_score() -> None:
    rule = EngagementRule("p", "page_view", 3.3, half_life_days=7.7)
    events = [tp(str(i), "page_view", i * 1.37) for i in range(40)]
    forward = score_lead(Lead(id=1), events, model(rule), T, explain=False)
    backward = score_lead(Lead(id=1), list(reversed(events)), model(rule), T, explain=False)
    assert forward.engagement == backward.engagement  # exactly, not approximately
