"""Predicates: the small, closed condition language rules and gates are written in.

A predicate names a field and one operator. There is no expression evaluation: the
operators below are the whole language, so user text is never executed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Operator(StrEnum):
    """What a predicate checks. String comparisons ignore case."""

    EQ = "eq"
    IN = "in"
    NOT_IN = "not_in"
    BETWEEN = "between"
    GTE = "gte"
    LTE = "lte"
    CONTAINS = "contains"
    REGEX = "regex"
    EXISTS = "exists"


@dataclass(frozen=True, slots=True)
class Predicate:
    """``field`` compared by ``op`` with ``value``.

    Example: ``Predicate("account.employees", Operator.BETWEEN, (50, 1000))``.
    Every operator but ``exists`` is false when the field is missing, so a rule never
    awards points for what nobody knows.
    """

    field: str
    op: Operator
    value: Any

    def test(self, actual: Any) -> bool:
        """Given the field's value, return whether the predicate holds."""
        if self.op is Operator.EXISTS:
            return _present(actual) is bool(self.value)
        if not _present(actual):
            return False
        return _CHECKS[self.op](actual, self.value)


Test = Callable[[Any], bool]


def compile_test(predicate: Predicate) -> Test:
    """Given a predicate, return a function equal to its ``test``, faster on the common cases.

    Scoring runs every rule's predicates over every touchpoint of every touched lead, so
    the per-call work of ``test`` (operator dispatch, case-folding the expected value) adds
    up. The fast paths below cover string values compared with strings; anything else falls
    back to the same checks ``test`` uses, so the answer is always the same.
    """
    op, expected = predicate.op, predicate.value
    if op is Operator.EXISTS:
        wanted = bool(expected)
        return lambda actual: _present(actual) is wanted
    check = _CHECKS[op]
    if op is Operator.EQ and isinstance(expected, str):
        folded = expected.casefold()

        def eq(actual: Any) -> bool:
            if type(actual) is str:
                return actual != "" and actual.casefold() == folded
            return _present(actual) and check(actual, expected)

        return eq
    if op in (Operator.IN, Operator.NOT_IN) and all(isinstance(o, str) for o in expected):
        options = frozenset(o.casefold() for o in expected)
        inside = op is Operator.IN

        def member(actual: Any) -> bool:
            if type(actual) is str:
                return actual != "" and (actual.casefold() in options) is inside
            return _present(actual) and check(actual, expected)

        return member

    def generic(actual: Any) -> bool:
        return _present(actual) and check(actual, expected)

    return generic


def _present(value: Any) -> bool:
    return value is not None and value not in ("", [])


def _fold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def _eq(actual: Any, expected: Any) -> bool:
    if isinstance(actual, list):
        return any(_eq(item, expected) for item in actual)
    if isinstance(expected, int | float) and not isinstance(expected, bool):
        number = _number(actual)
        return number is not None and number == float(expected)
    return bool(_fold(actual) == _fold(expected))


def _in(actual: Any, options: Any) -> bool:
    return any(_eq(actual, option) for option in options)


def _between(actual: Any, bounds: Any) -> bool:
    number = _number(actual)
    low, high = bounds
    return number is not None and float(low) <= number <= float(high)


def _gte(actual: Any, bound: Any) -> bool:
    number = _number(actual)
    return number is not None and number >= float(bound)


def _lte(actual: Any, bound: Any) -> bool:
    number = _number(actual)
    return number is not None and number <= float(bound)


def _contains(actual: Any, part: Any) -> bool:
    if isinstance(actual, list | tuple | set | frozenset):
        return any(_eq(item, part) for item in actual)
    return str(part).casefold() in str(actual).casefold()


def _regex(actual: Any, pattern: Any) -> bool:
    return compiled_regex(str(pattern)).search(str(actual)) is not None


_REGEX_CACHE: dict[str, re.Pattern[str]] = {}


def compiled_regex(pattern: str) -> re.Pattern[str]:
    """Given a rule's pattern, return it compiled (case-insensitive), cached."""
    compiled = _REGEX_CACHE.get(pattern)
    if compiled is None:
        compiled = _REGEX_CACHE[pattern] = re.compile(pattern, re.IGNORECASE)
    return compiled


_CHECKS: dict[Operator, Callable[[Any, Any], bool]] = {
    Operator.EQ: _eq,
    Operator.IN: _in,
    Operator.NOT_IN: lambda actual, options: not _in(actual, options),
    Operator.BETWEEN: _between,
    Operator.GTE: _gte,
    Operator.LTE: _lte,
    Operator.CONTAINS: _contains,
    Operator.REGEX: _regex,
}
