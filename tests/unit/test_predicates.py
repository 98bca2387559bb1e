"""The predicate language: every operator, case-insensitivity and missing values."""

from __future__ import annotations

import pytest

from leadgate.domain.predicates import Operator, Predicate


@pytest.mark.parametrize(
    ("op", "value", "actual", "expected"),
    [
        (Operator.EQ, "Software", "software", True),
        (Operator.EQ, 250, "250", True),
        (Operator.EQ, "x", ["a", "X"], True),
        (Operator.IN, ("vp", "c_level"), "VP", True),
        (Operator.IN, ("vp",), "director", False),
        (Operator.NOT_IN, ("student",), "vp", True),
        (Operator.NOT_IN, ("student",), "Student", False),
        (Operator.BETWEEN, (50, 1000), 50, True),
        (Operator.BETWEEN, (50, 1000), 1001, False),
        (Operator.BETWEEN, (50, 1000), "abc", False),
        (Operator.GTE, 10, 10.0, True),
        (Operator.LTE, 10, 11, False),
        (Operator.CONTAINS, "price", "/Pricing-page", False),
        (Operator.CONTAINS, "pric", "/Pricing-page", True),
        (Operator.CONTAINS, "hubspot", ["Salesforce", "HubSpot"], True),
        (Operator.REGEX, r"^/pricing", "/PRICING/teams", True),
        (Operator.REGEX, r"^/pricing", "/docs/pricing", False),
        (Operator.EXISTS, True, "x", True),
        (Operator.EXISTS, False, None, True),
        (Operator.EXISTS, True, "", False),
    ],
)
def test_operator(op: Operator, value: object, actual: object, expected: bool) -> None:
    assert Predicate("f", op, value).test(actual) is expected


@pytest.mark.parametrize("op", [o for o in Operator if o is not Operator.EXISTS])
def test_every_operator_but_exists_is_false_on_a_missing_value(op: Operator) -> None:
    value = {Operator.BETWEEN: (0, 1), Operator.IN: ("a",), Operator.NOT_IN: ("a",)}.get(op, "a")
    assert Predicate("f", op, value).test(None) is False
