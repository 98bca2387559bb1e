"""CSV importers: a file of leads, accounts, touchpoints or outcomes, read into commands.

``read_import`` reads the bytes of a file (CLI or HTTP upload alike), maps its columns
(preset, ``--map``, traits), reads placeholders as missing, and returns an ``ImportFile``
for ``leadgate.services.imports.run_import``. File-level problems (unknown preset,
column or field, no identity column, not CSV) raise InvalidInput; row-level problems
become row errors in the file.
"""

from __future__ import annotations

from collections.abc import Sequence

from leadgate.adapters.importers.csvfile import read_csv
from leadgate.adapters.importers.mapping import plan_columns
from leadgate.adapters.importers.placeholders import DEFAULT_PLACEHOLDERS, Placeholders
from leadgate.adapters.importers.presets import PRESETS
from leadgate.adapters.importers.rows import RowReader
from leadgate.services.imports import ImportFile, ImportKind

__all__ = ["DEFAULT_PLACEHOLDERS", "PRESETS", "read_import"]


def read_import(
    data: bytes,
    kind: ImportKind,
    *,
    name: str,
    preset: str | None = None,
    maps: Sequence[str] = (),
    ignore: Sequence[str] = (),
    placeholders: Sequence[str] = (),
    default_placeholders: bool = True,
    encoding: str = "utf-8",
) -> ImportFile:
    """Given a CSV file's bytes and how to read it, return its rows as commands.

    ``maps`` are ``FIELD=COLUMN`` choices, ``ignore`` columns to leave out entirely,
    ``placeholders`` values read as missing besides (or, without
    ``default_placeholders``, instead of) DEFAULT_PLACEHOLDERS.
    """
    table = read_csv(data, name=name, encoding=encoding)
    plan = plan_columns(kind, table.header, file_name=name, preset=preset, maps=maps, ignore=ignore)
    missing = Placeholders(placeholders, defaults=default_placeholders)
    rows, errors = RowReader(kind, table, plan, missing).read()
    header = table.header
    return ImportFile(
        kind=kind,
        name=name,
        rows_read=len(table.records),
        rows=tuple(rows),
        errors=tuple(errors),
        columns={field: header[position] for field, position in plan.fields.items()},
        traits={header[position]: trait for position, trait in plan.traits.items()},
        placeholders=missing.report(),
        blanks=dict(missing.blanks.most_common()),
    )
