"""The naive Bayes baseline (Odoo CRM's frequency model) against a hand-computed example."""

from __future__ import annotations

import pytest

from leadgate.domain.naive_bayes import fit_naive_bayes

# Five leads, two won. With alpha = 0.1 the smoothed (won, lost) counts are:
#   source: web (1.1, 2.1), ads (1.1, 1.1)       totals (2.2, 3.2)
#   plan:   pro (2.1, 0.1), free (0.1, 3.1)      totals (2.2, 3.2)
ROWS = [
    {"source": "web", "plan": "pro"},
    {"source": "web", "plan": "free"},
    {"source": "ads", "plan": "pro"},
    {"source": "ads", "plan": "free"},
    {"source": "web", "plan": "free"},
]
WON = [True, False, True, False, False]


def test_counts_are_smoothed_per_value_and_totalled_per_field() -> None:
    model = fit_naive_bayes(ROWS, WON)
    assert (model.won, model.lost) == (2, 3)
    assert model.counts["plan"]["pro"] == pytest.approx((2.1, 0.1))
    assert model.counts["source"]["web"] == pytest.approx((1.1, 2.1))
    assert model.totals["plan"] == pytest.approx((2.2, 3.2))


def test_probability_of_a_known_lead_matches_the_hand_computation() -> None:
    # s_won  = 2/5 · (1.1/2.2) · (2.1/2.2) = 0.4 · 0.5 · 0.954545 = 0.190909
    # s_lost = 3/5 · (2.1/3.2) · (0.1/3.2) = 0.6 · 0.65625 · 0.03125 = 0.012305
    # p = 0.190909 / (0.190909 + 0.012305) = 0.939450
    model = fit_naive_bayes(ROWS, WON)
    assert model.probability({"source": "web", "plan": "pro"}) == pytest.approx(0.939450, abs=1e-6)
    # s_won = 0.4 · 0.5 · (0.1/2.2) = 0.009091; s_lost = 0.6 · 0.65625 · (3.1/3.2) = 0.381445;
    # p = 0.009091 / (0.009091 + 0.381445) = 0.023278
    assert model.probability({"source": "web", "plan": "free"}) == pytest.approx(0.023278, abs=1e-6)


def test_unseen_and_missing_values_are_neutral() -> None:
    model = fit_naive_bayes(ROWS, WON)
    # source 'tv' was never seen: only plan counts. s_won = 0.4 · 0.954545 = 0.381818,
    # s_lost = 0.6 · 0.03125 = 0.01875, p = 0.953191
    assert model.probability({"source": "tv", "plan": "pro"}) == pytest.approx(0.953191, abs=1e-6)
    assert model.probability({"source": None}) == pytest.approx(0.4)  # the prior
    assert model.probability({"colour": "red"}) == pytest.approx(0.4)  # unknown field


def test_values_compare_ignoring_case() -> None:
    model = fit_naive_bayes(ROWS, WON)
    assert model.probability({"source": "WEB", "plan": "Pro"}) == model.probability(
        {"source": "web", "plan": "pro"}
    )


def test_probability_stays_within_odoo_bounds() -> None:
    model = fit_naive_bayes([{"x": "a"}] * 50 + [{"x": "b"}] * 50, [True] * 50 + [False] * 50)
    assert model.probability({"x": "a"}) <= 0.9999
    assert model.probability({"x": "b"}) >= 0.0001
    only_won = fit_naive_bayes([{"x": "a"}], [True])
    assert only_won.probability({"x": "a"}) == 0.9999
