"""Which column fills which field: a preset's names, the user's ``--map``, and traits.

Precedence: ``--map FIELD=COLUMN`` first, then the preset's names for the field, then a
column named like the field itself. Every other column (not ``--ignore``d, with a
header) is kept as a custom trait under its snake_case name.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from leadgate.adapters.importers.fields import REQUIRED, field_names
from leadgate.adapters.importers.outcomes import squash
from leadgate.adapters.importers.presets import PRESETS
from leadgate.services.errors import InvalidInput
from leadgate.services.imports import ImportKind

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def snake(header: str) -> str:
    """'TotalVisits' -> 'total_visits'; 'No. of Employees' -> 'no_of_employees'."""
    return re.sub(r"[^0-9a-z]+", "_", _CAMEL.sub("_", header.strip()).lower()).strip("_")


@dataclass(frozen=True, slots=True)
class ColumnPlan:
    """Field name -> column position, and column position -> trait name."""

    fields: dict[str, int]
    traits: dict[int, str]


def _preset(name: str | None) -> str | None:
    if name is None or not name.strip():
        return None
    key = name.strip().lower()
    if key not in PRESETS:
        raise InvalidInput(f"unknown preset {name!r} (known: {', '.join(sorted(PRESETS))})")
    return key


class _Header:
    """Finds columns by exact name, then ignoring case, spaces and punctuation."""

    def __init__(self, header: Sequence[str]) -> None:
        self.names = list(header)
        self._exact = {name: i for i, name in enumerate(header) if name}
        self._loose: dict[str, int] = {}
        for i, name in enumerate(header):
            if name:
                self._loose.setdefault(squash(name), i)

    def find(self, name: str) -> int | None:
        name = name.strip()
        if name in self._exact:
            return self._exact[name]
        return self._loose.get(squash(name)) if squash(name) else None

    def listing(self) -> str:
        shown = [repr(n) for n in self.names if n]
        more = f" and {len(shown) - 12} more" if len(shown) > 12 else ""
        return ", ".join(shown[:12]) + more


def plan_columns(
    kind: ImportKind,
    header: Sequence[str],
    *,
    file_name: str,
    preset: str | None = None,
    maps: Sequence[str] = (),
    ignore: Sequence[str] = (),
) -> ColumnPlan:
    """Given a file's header and the user's choices, return what each column fills.

    Raises InvalidInput naming the problem: an unknown preset, field or column, a
    ``--map`` without ``=``, or a file lacking a column a kind needs (e.g. no identity).
    """
    preset_name = _preset(preset)
    columns = _Header(header)
    known = field_names(kind)
    fields: dict[str, int] = {}
    for entry in maps:
        name, equals, column = entry.partition("=")
        name = name.strip()
        if not equals or not name or not column.strip():
            raise InvalidInput(f"--map {entry!r}: expected FIELD=COLUMN, e.g. email=Email")
        if name not in known:
            raise InvalidInput(
                f"--map {entry!r}: unknown field {name!r} for {kind.value} "
                f"(fields: {', '.join(known)})"
            )
        if name in fields:
            raise InvalidInput(f"--map: field {name!r} is mapped twice")
        position = columns.find(column)
        if position is None:
            raise InvalidInput(
                f"--map {entry!r}: {file_name} has no column {column.strip()!r} "
                f"(columns: {columns.listing()})"
            )
        fields[name] = position
    ignored: set[int] = set()
    for column in ignore:
        position = columns.find(column)
        if position is None:
            raise InvalidInput(
                f"--ignore {column!r}: {file_name} has no such column "
                f"(columns: {columns.listing()})"
            )
        ignored.add(position)
    candidates = PRESETS[preset_name][kind] if preset_name else {}
    for name in known:
        if name in fields:
            continue
        for candidate in (*candidates.get(name, ()), name):
            position = columns.find(candidate)
            if position is not None and position not in ignored:
                fields[name] = position
                break
    _check_required(kind, fields, file_name, preset_name)
    if kind is ImportKind.OUTCOMES:
        return ColumnPlan(fields, {})  # an outcome changes a stage, never a profile
    return ColumnPlan(fields, _traits(header, set(fields.values()) | ignored))


def _check_required(
    kind: ImportKind, fields: dict[str, int], file_name: str, preset: str | None
) -> None:
    for group in REQUIRED[kind]:
        if not any(name in fields for name in group):
            which = group[0] if len(group) == 1 else "one of " + ", ".join(group)
            hint = "" if preset else " or choose a --preset"
            raise InvalidInput(
                f"{file_name}: no column for {which} ({kind.value} need it): "
                f"name a column with --map {group[0]}=COLUMN{hint}"
            )


def _traits(header: Sequence[str], used: set[int]) -> dict[int, str]:
    """Every other column with a header, under a snake_case name unique in the file."""
    traits: dict[int, str] = {}
    taken: set[str] = set()
    for position, column in enumerate(header):
        if position in used or not column:
            continue
        base = snake(column) or f"column_{position + 1}"
        name, n = base, 2
        while name in taken:
            name, n = f"{base}_{n}", n + 1
        taken.add(name)
        traits[position] = name
    return traits
