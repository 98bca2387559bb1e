"""The dashboard's model in words, its charts' geometry, and password hashing."""

from __future__ import annotations

from leadgate.adapters.model_yaml import load_model
from leadgate.domain.predicates import Operator, Predicate
from leadgate.domain.scoring_model import CountThreshold, EngagementRule, FitRule
from leadgate.domain.users import hash_password, verify_password
from leadgate.models import default_model_text
from leadgate.web.charts import bar_chart, stacked
from leadgate.web.model_words import engagement_rule, fit_rule, in_words


def test_engagement_rules_read_as_sentences() -> None:
    pricing = EngagementRule(
        "pricing",
        "page_view",
        10,
        where=(Predicate("category", Operator.EQ, "pricing"),),
        cap=30,
        half_life_days=14,
    )
    assert engagement_rule(pricing) == (
        "+10 each time the lead visits a pricing page, halved every 14 days, at most 30 in all"
    )
    burst = EngagementRule(
        "burst",
        "page_view",
        15,
        where=(Predicate("category", Operator.EQ, "pricing"),),
        count=CountThreshold(3, 30),
    )
    assert engagement_rule(burst) == (
        "+15 once while the lead visits a pricing page 3 or more times within 30 days"
    )
    unsubscribe = EngagementRule("unsub", "email_unsubscribe", -20, half_life_days=None)
    assert engagement_rule(unsubscribe) == (
        "−20 each time the lead unsubscribes from email, never fading"
    )
    custom = EngagementRule(
        "x",
        "quote_requested",
        5,
        where=(Predicate("plan", Operator.IN, ("pro", "team")),),
        half_life_days=7,
        within_days=30,
    )
    assert engagement_rule(custom) == (
        "+5 each time the lead has a quote requested event where plan is pro or team "
        "within 30 days, halved every 7 days"
    )


def test_fit_rules_read_as_sentences() -> None:
    size = FitRule("size", Predicate("account.employees", Operator.BETWEEN, (50, 5000)), 10)
    assert fit_rule(size) == "+10 when the company's head count is between 50 and 5,000"
    student = FitRule("student", Predicate("seniority", Operator.EQ, "student"), -25)
    assert fit_rule(student) == "−25 when seniority is student"


def test_every_rule_of_the_default_model_has_a_sentence() -> None:
    model = load_model(default_model_text())
    words = in_words(model)
    assert [r.id for r in words.fit] == [r.id for r in model.fit_rules]
    assert [r.id for r in words.engagement] == [r.id for r in model.engagement_rules]
    for line in (*words.fit, *words.engagement):
        assert line.sentence[0] in "+−" and "None" not in line.sentence
    assert dict(words.gates)["Lead → MQL"] == (
        "the total score is at least 60 and the fit grade is A, B or C"
    )
    assert dict(words.grades)["A"] == "fit of 40 or more"


def test_bars_scale_to_the_largest_value_or_the_given_maximum() -> None:
    chart = bar_chart("t", [("a", 10, "10"), ("b", 5, "5"), ("c", 0, "0")])
    widths = [b.width for b in chart.bars]
    assert widths[0] == 2 * widths[1] and widths[2] == 0
    rates = bar_chart("r", [("a", 0.5, "50%")], maximum=1.0)
    assert rates.bars[0].width == widths[0] / 2
    assert bar_chart("e", []).empty


def test_a_score_bar_puts_penalties_on_the_same_scale() -> None:
    bar = stacked([("fit", 30, "fit"), ("pricing", 10, "engagement"), ("careers", -20, "x")])
    assert [round(s.width, 6) for s in bar.positive] == [75.0, 25.0]
    assert [s.x for s in bar.positive] == [0.0, 75.0]
    assert [round(s.width, 6) for s in bar.negative] == [50.0]
    assert bar.total == 20


def test_passwords_hash_with_a_salt_and_verify() -> None:
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first != second  # salted
    assert verify_password("correct horse", first) and verify_password("correct horse", second)
    assert not verify_password("correct horsf", first)
    assert not verify_password("correct horse", "scrypt$garbage")
    assert not verify_password("correct horse", "md5$abc")
