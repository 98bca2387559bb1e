"""Placeholder values: what forms and CRMs write in a cell that was never filled in.

A web form's untouched drop-down sends its first option ("Select"); spreadsheets write
"N/A" or "#N/A"; exports write "-" or "null". Reading them as values would make
"Select" look like a country or a job title, so they read as missing, as an empty cell
does, and the import report counts them per column so nothing is hidden.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

# Compared ignoring case and surrounding spaces. Deliberately short: "NA" (North
# America) and "Unknown" can be real answers, so they are not placeholders by default.
DEFAULT_PLACEHOLDERS: tuple[str, ...] = (
    "Select",
    "N/A",
    "#N/A",
    "-",
    "--",
    "null",
    "None",
    "(blank)",
    "(none)",
)


class Placeholders:
    """Decides whether a cell is missing and counts what it found, per column."""

    def __init__(self, extra: Iterable[str] = (), *, defaults: bool = True) -> None:
        values = [*(DEFAULT_PLACEHOLDERS if defaults else ()), *extra]
        self.values: tuple[str, ...] = tuple(dict.fromkeys(v.strip() for v in values if v.strip()))
        self._folded = frozenset(v.casefold() for v in self.values)
        self.found: dict[str, Counter[str]] = {}
        self.blanks: Counter[str] = Counter()

    def read(self, column: str, raw: str) -> str | None:
        """Given a cell, return its stripped value, or None when it is blank or a
        placeholder (counting which, for ``column``)."""
        value = raw.strip()
        if not value:
            self.blanks[column] += 1
            return None
        if value.casefold() in self._folded:
            self.found.setdefault(column, Counter())[value] += 1
            return None
        return value

    def report(self) -> dict[str, dict[str, int]]:
        """Per column, each placeholder as written and how many cells held it."""
        return {column: dict(counts.most_common()) for column, counts in self.found.items()}
