"""Report tables: the one shape the CLI prints (table, CSV) and the API returns (JSON).

Every report exposes ``tables()``: named tables of plain cells (text, numbers, None), so
a front end needs no knowledge of the report to print it, and ``to_json()`` for the API.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

Cell = str | int | float | None


def cell(value: Any) -> Cell:
    """A value as a table cell: enums by value, times as ISO 8601 UTC, floats as they are.

    >>> cell(None), cell(3), cell(0.5)
    (None, 3, 0.5)
    >>> cell(datetime(2026, 3, 2, 9, 30, tzinfo=UTC))
    '2026-03-02T09:30:00Z'
    """
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    enum_value = getattr(value, "value", None)
    if isinstance(enum_value, str | int):
        return enum_value
    return str(value)


def rounded(value: float | None, digits: int = 4) -> float | None:
    """Round for display and JSON (shares to 4 places, durations to the hundredth)."""
    return None if value is None else round(value, digits)


@dataclass(frozen=True, slots=True)
class Table:
    """A named table: column names and rows of cells, in the order to show them.

    >>> table = Table("stages", ("stage", "leads"), (("mql", 12), ("sql", 5)))
    >>> table.to_json()
    [{'stage': 'mql', 'leads': 12}, {'stage': 'sql', 'leads': 5}]
    >>> print(table.to_csv(), end="")
    stage,leads
    mql,12
    sql,5
    """

    name: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]

    @classmethod
    def of(cls, name: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
        """Build a table, turning each value into a cell (see ``cell``)."""
        built = tuple(tuple(cell(v) for v in row) for row in rows)
        for row in built:
            if len(row) != len(columns):
                raise ValueError(f"table {name}: row {row!r} does not have {len(columns)} cells")
        return cls(name, tuple(columns), built)

    def to_json(self) -> list[dict[str, Cell]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.columns)
        writer.writerows(["" if value is None else value for value in row] for row in self.rows)
        return out.getvalue()
