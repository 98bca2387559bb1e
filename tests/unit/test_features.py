"""Point-in-time features: what they count, and that nothing after ``at`` reaches them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadgate.domain.accounts import Account
from leadgate.domain.features import (
    AccountActivity,
    Excluder,
    FeatureOptions,
    Timeline,
    absent_value,
    account_features,
    features_at,
    first_seen,
    profile_features,
)
from leadgate.domain.leads import Lead
from leadgate.domain.predicates import Operator, Predicate
from leadgate.domain.scoring import score_lead
from leadgate.domain.scoring_model import (
    EngagementRule,
    FitRule,
    Gates,
    Grade,
    GradeBand,
    ScoringModel,
)
from leadgate.domain.touchpoints import Touchpoint

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

MODEL = ScoringModel(
    name="t",
    fit_rules=(FitRule("vp", Predicate("seniority", Operator.EQ, "vp"), 20),),
    engagement_rules=(
        EngagementRule(
            "pricing",
            "page_view",
            10,
            where=(Predicate("category", Operator.EQ, "pricing"),),
            cap=30,
            half_life_days=10,
        ),
        EngagementRule("demo", "demo_request", 30, within_days=14),
    ),
    grades=(GradeBand(Grade.A, min_fit=20), GradeBand(Grade.D, max_fit=20)),
    gates=Gates(mql=None, sales_ready=None),
)


def lead() -> Lead:
    return Lead(
        id=1,
        email="ann@acme.io",
        seniority="vp",
        source_channel="paid_search",
        account_id=7,
        account=Account("acme.io", id=7, industry="software", employees=250),
        traits={"plan": "pro", "seats": 12, "beta": True, "tools": ["Slack", "Jira"]},
    )


def tp(n: int, name: str, at: datetime, **props: object) -> Touchpoint:
    return Touchpoint(f"m{n}", name, at, dict(props), 1)


def test_counts_recency_and_rule_features_as_of_a_moment() -> None:
    at = T0 + timedelta(days=40)
    history = [
        tp(1, "page_view", at - timedelta(days=2), category="pricing"),
        tp(2, "page_view", at - timedelta(days=20), category="blog"),
        tp(3, "page_view", at - timedelta(days=60), category="pricing"),
        tp(4, "demo_request", at - timedelta(days=7)),  # exactly 7 days: inside the window
        tp(5, "page_view", at + timedelta(days=1), category="pricing"),  # after at
    ]
    timeline = Timeline(lead(), history, MODEL)
    row = features_at(
        timeline,
        profile_features(lead()),
        at,
        stage="mql",
        seen_at=T0,
        account=None,
        options=FeatureOptions(),
    )
    assert row["touch.page_view.7d"] == 1.0
    assert row["touch.page_view.30d"] == 2.0
    assert row["touch.page_view.90d"] == 3.0
    assert row["touch.page_view.days_since"] == pytest.approx(2.0)
    assert row["touch.demo_request.7d"] == 1.0
    assert row["touch.all.90d"] == 4.0
    assert (row["rule.pricing.30d"], row["rule.pricing.90d"]) == (1.0, 2.0)
    assert row["rule.pricing.days_since"] == pytest.approx(2.0)
    expected = score_lead(lead(), history, MODEL, at)
    assert row["score.fit"] == expected.fit == 20
    assert row["score.engagement"] == pytest.approx(expected.engagement)
    assert row["score.total"] == pytest.approx(expected.total)
    assert row["score.grade"] == "A"
    assert row["lead.stage"] == "mql"
    assert row["lead.age_days"] == pytest.approx(40.0)
    # Who the lead is: attributes, traits (flags for lists), the account's attributes.
    assert row["lead.seniority"] == "vp"
    assert row["trait.plan"] == "pro"
    assert row["trait.seats"] == 12.0
    assert row["trait.beta"] == "true"
    assert row["trait.tools.has.slack"] == 1.0
    assert row["account.industry"] == "software"
    assert row["account.employees"] == 250.0
    assert "lead.email" not in row and "lead.owner" not in row


def test_absent_counts_are_zero_and_other_absent_features_unknown() -> None:
    assert absent_value("touch.demo_request.30d") == 0.0
    assert absent_value("account.uses.salesforce") == 0.0
    assert absent_value("trait.tools.has.jira") == 0.0
    assert absent_value("touch.demo_request.days_since") is None
    assert absent_value("trait.plan") is None


def test_account_features_count_contacts_touches_and_intent_in_windows() -> None:
    at = T0 + timedelta(days=100)
    activity = AccountActivity.of(
        [
            (at - timedelta(days=1), 1, "page_view", None),
            (at - timedelta(days=3), 2, "page_view", None),
            (at - timedelta(days=50), 3, "intent_surge", 80),
            (at - timedelta(days=10), 2, "intent_surge", "65"),
            (at + timedelta(days=1), 4, "intent_surge", 99),  # after at
        ]
    )
    row = account_features(activity, at, (7, 30, 90))
    assert row["account.engaged_contacts.7d"] == 2.0
    assert row["account.engaged_contacts.90d"] == 3.0
    assert row["account.touches.30d"] == 3.0
    assert row["account.intent.30d"] == 1.0
    assert row["account.intent.90d"] == 2.0
    assert row["account.intent_max.90d"] == 80.0
    assert account_features(None, at, (7,)) == {}


def test_first_seen_is_creation_or_first_touchpoint_whichever_is_earlier() -> None:
    timeline = Timeline(lead(), [tp(1, "page_view", T0 - timedelta(days=5))], MODEL)
    assert first_seen(T0, timeline) == T0 - timedelta(days=5)
    assert first_seen(T0, Timeline(lead(), [], MODEL)) == T0


@pytest.mark.parametrize(
    ("pattern", "name", "excluded"),
    [
        ("tags", "trait.tags", True),
        ("Lead Quality", "trait.lead_quality", True),
        ("asymmetrique*", "trait.asymmetrique_activity_index", True),
        ("touch.sales_call", "touch.sales_call.30d", True),
        ("account.industry", "account.industry", True),
        ("tags", "trait.tags_count", False),
        ("plan", "trait.plan.has.pro", True),
        ("plan", "lead.seniority", False),
    ],
)
def test_exclusion_patterns(pattern: str, name: str, excluded: bool) -> None:
    assert Excluder([pattern])(name) is excluded


times = st.integers(min_value=-200 * 24, max_value=200 * 24).map(lambda h: T0 + timedelta(hours=h))
events = st.lists(
    st.tuples(
        st.sampled_from(["page_view", "demo_request", "form_submit", "intent_surge"]),
        st.sampled_from(["pricing", "blog"]),
        times,
    ),
    max_size=15,
)


@settings(max_examples=60, deadline=None)
@given(events, events, times)
def test_touchpoints_after_at_never_change_a_feature(
    before: list[tuple[str, str, datetime]],
    later: list[tuple[str, str, datetime]],
    at: datetime,
) -> None:
    """Leakage: adding touchpoints dated after ``at`` (to the lead and to its account)
    leaves every feature as of ``at`` exactly as it was."""
    known = [tp(i, n, w, category=c) for i, (n, c, w) in enumerate(before) if w <= at]
    extra = [
        tp(1000 + i, n, at + (w - T0) % timedelta(days=300) + timedelta(seconds=1), category=c)
        for i, (n, c, w) in enumerate(later)
    ]
    options = FeatureOptions()

    def row(history: list[Touchpoint]) -> dict[str, object]:
        activity = AccountActivity.of(
            [(t.occurred_at, 1, t.name, t.properties.get("category")) for t in history]
            + [(t.occurred_at, 2, t.name, 50) for t in history]
        )
        timeline = Timeline(lead(), history, MODEL)
        return features_at(
            timeline,
            profile_features(lead()),
            at,
            stage="lead",
            seen_at=T0 - timedelta(days=365),
            account=activity,
            options=options,
        )

    assert row(known + extra) == row(known)


@settings(max_examples=60, deadline=None)
@given(events, times, st.one_of(st.none(), times))
def test_rule_score_features_equal_the_scoring_engine(
    history: list[tuple[str, str, datetime]], at: datetime, reset: datetime | None
) -> None:
    """Rule scores as of ``at`` are exactly ``score_lead``'s, recycle resets included."""
    someone = lead()
    someone.engagement_reset_at = reset
    touchpoints = [tp(i, n, w, category=c) for i, (n, c, w) in enumerate(history)]
    row = Timeline(someone, touchpoints, MODEL).activity(at, (7, 30, 90))
    expected = score_lead(someone, touchpoints, MODEL, at, explain=False)
    assert (row["score.fit"], row["score.engagement"], row["score.total"]) == (
        expected.fit,
        expected.engagement,
        expected.total,
    )
