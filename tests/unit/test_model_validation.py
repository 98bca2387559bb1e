"""`leadgate model validate`'s checks: every problem, with line, column and what is allowed."""

from __future__ import annotations

import textwrap

import pytest

from leadgate.adapters.model_yaml import ModelInvalid, load_model, validate_model
from leadgate.domain.predicates import Operator
from leadgate.domain.scoring_model import AllOf, ScoreCondition, TouchpointCondition
from leadgate.models import default_model_text

BASE = """\
name: t
fit:
  - {id: vp, field: seniority, in: [vp], points: 10}
engagement:
  - {id: demo, touchpoint: demo_request, points: 30, cap: 60}
grades:
  A: {min: 10}
  D: {max: 10}
gates:
  mql: {field: total, gte: 40}
"""


def problems(text: str) -> list[tuple[int, int, str]]:
    report = validate_model(textwrap.dedent(text), "m.yaml")
    return [(p.line, p.column, p.message) for p in report.errors]


def test_the_default_model_is_valid_without_warnings() -> None:
    report = validate_model(default_model_text())
    assert report.errors == [] and report.warnings == []
    model = report.model
    assert model is not None and model.name == "b2b-saas-default"
    pricing = next(r for r in model.engagement_rules if r.id == "pricing_page")
    assert (pricing.points, pricing.cap, pricing.half_life_days) == (10, 30, 30)
    webinar = next(r for r in model.engagement_rules if r.id == "webinar_attended")
    assert webinar.half_life_days == 45
    unsubscribe = next(r for r in model.engagement_rules if r.id == "unsubscribe")
    assert unsubscribe.half_life_days is None
    burst = next(r for r in model.engagement_rules if r.id == "pricing_burst")
    assert burst.count is not None and (burst.count.at_least, burst.count.within_days) == (3, 30)
    assert model.aliases["demo requested"] == "demo_request"
    assert isinstance(model.gates.mql, AllOf)


def test_a_valid_document_loads_into_the_domain_model() -> None:
    model = load_model(BASE)
    (rule,) = model.fit_rules
    assert (rule.predicate.field, rule.predicate.op, rule.predicate.value) == (
        "seniority",
        Operator.IN,
        ("vp",),
    )
    assert isinstance(model.gates.mql, ScoreCondition)


def test_unknown_key_names_the_allowed_keys_at_its_position() -> None:
    found = problems(BASE.replace("in: [vp]", "equals: vp"))
    assert any(
        line == 3
        and column == 32
        and "unknown key 'equals'" in message
        and "eq, in, not_in, between" in message
        for line, column, message in found
    )


def test_wrong_type_and_bad_operator_values() -> None:
    found = problems(
        BASE.replace("points: 10}", "points: ten}").replace("in: [vp]", "between: [9]")
    )
    messages = [m for _, _, m in found]
    assert "`points` must be a number, found the text 'ten'" in messages
    assert any("`between` in a fit rule takes [low, high]" in m for m in messages)


def test_overlapping_grade_bands() -> None:
    found = problems(BASE.replace("D: {max: 10}", "D: {max: 15}"))
    assert [(line, "overlap" in m) for line, _, m in found] == [(8, True)]


@pytest.mark.parametrize(
    ("gate", "expected"),
    [
        ("{field: fit, gte: 11}", "fit ≥ 11 but the most a lead can reach is 10"),
        ("{field: total, gte: 71}", "total ≥ 71 but the most a lead can reach is 70"),
        ("{field: grade, in: [B]}", "no grade band gives B"),
        (
            "{all: [{field: total, gte: 50}, {field: total, lte: 40}]}",
            "total ≥ 50 and total ≤ 40 cannot both hold",
        ),
        ("{any: [{field: fit, gte: 99}, {field: grade, eq: C}]}", "fit ≥ 99"),
    ],
)
def test_a_gate_that_can_never_be_met(gate: str, expected: str) -> None:
    found = problems(BASE.replace("{field: total, gte: 40}", gate))
    assert len(found) >= 1
    line, _, message = found[0]
    assert line == 10 and "gate `mql` can never be met" in message and expected in message


def test_every_problem_is_reported_with_line_and_column() -> None:
    text = BASE.replace("points: 10}", "points: x}").replace("cap: 60", "cap: -1") + (
        "recycle: {engagement: forget}\n"
    )
    found = problems(text)
    assert [(line, column) for line, column, _ in found] == [(3, 50), (5, 59), (11, 23)]


def test_duplicate_ids_duplicate_keys_bad_regex_and_syntax() -> None:
    dup = BASE.replace("id: demo", "id: vp")
    assert any("duplicate rule id 'vp' (first used at line 3)" in m for _, _, m in problems(dup))
    dup_key = BASE + "name: again\n"
    assert [(line, m) for line, _, m in problems(dup_key)] == [(11, "duplicate key 'name'")]
    regex = BASE.replace("in: [vp]", "regex: '(unclosed'")
    assert any("not a valid pattern" in m for _, _, m in problems(regex))
    (syntax,) = problems("name: [unclosed\n")
    assert syntax[0] == 2 and syntax[2].startswith("YAML syntax")


def test_unknown_touchpoint_names_are_warnings_not_errors() -> None:
    report = validate_model(BASE.replace("touchpoint: demo_request", "touchpoint: demo_reqest"))
    assert report.errors == [] and report.model is not None
    assert ["unknown touchpoint name 'demo_reqest'" in w.message for w in report.warnings] == [True]


def test_load_refuses_an_invalid_document_listing_all_problems() -> None:
    with pytest.raises(ModelInvalid) as caught:
        load_model(BASE.replace("points: 10}", "points: x}").replace("cap: 60", "cap: 0"))
    assert len(caught.value.problems) == 2


def test_touchpoint_gate_condition() -> None:
    model = load_model(
        BASE.replace(
            "{field: total, gte: 40}", "{touchpoint: demo_request, within_days: 14, at_least: 2}"
        )
    )
    assert model.gates.mql == TouchpointCondition("demo_request", 14, 2, ())
