"""``leadgate import KIND FILE``: CSV imports of leads, accounts, touchpoints and outcomes."""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from leadgate.cli._common import EXIT_BAD_INPUT, console, err_console, fail, now, print_json
from leadgate.cli._common import app as wired_app

if TYPE_CHECKING:
    from leadgate.services.imports import ImportKind, ImportReport

KINDS = ("leads", "accounts", "touchpoints", "outcomes")
# Row errors shown in the table; --json always lists every one.
SHOWN_ERRORS = 50
# Files shorter than this import too fast for a progress bar to help.
PROGRESS_FROM_ROWS = 2000


def _kind(raw: str) -> ImportKind:
    from leadgate.services.imports import ImportKind

    try:
        return ImportKind(raw.strip().lower())
    except ValueError:
        fail(f"unknown kind {raw!r} (known: {', '.join(KINDS)})", EXIT_BAD_INPUT)


def _read(file: Path) -> tuple[bytes, str]:
    if str(file) == "-":
        return sys.stdin.buffer.read(), "stdin"
    try:
        return file.read_bytes(), file.name
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}", EXIT_BAD_INPUT)


def import_(
    kind: Annotated[
        str, typer.Argument(metavar="KIND", help="leads, accounts, touchpoints or outcomes.")
    ],
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="A CSV file, or - for standard input.")
    ],
    preset: Annotated[
        str | None,
        typer.Option(
            help="Column names of a CRM export: salesforce or hubspot.", show_default=False
        ),
    ] = None,
    maps: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            metavar="FIELD=COLUMN",
            help="Read FIELD from COLUMN (repeatable), e.g. --map external_id='Prospect ID'.",
            show_default=False,
        ),
    ] = None,
    ignore: Annotated[
        list[str] | None,
        typer.Option(
            metavar="COLUMN",
            help="Leave COLUMN out (repeatable); other unmapped columns become custom traits.",
            show_default=False,
        ),
    ] = None,
    placeholders: Annotated[
        list[str] | None,
        typer.Option(
            "--placeholder",
            metavar="VALUE",
            help="Also read VALUE as missing (repeatable). Defaults: Select, N/A, #N/A, -, "
            "--, null, None, (blank), (none), and empty cells.",
            show_default=False,
        ),
    ] = None,
    no_default_placeholders: Annotated[
        bool,
        typer.Option(
            "--no-default-placeholders",
            help="Read only empty cells and --placeholder values as missing.",
        ),
    ] = False,
    encoding: Annotated[str, typer.Option(help="The file's text encoding.")] = "utf-8",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and count everything; store nothing.")
    ] = False,
    partial: Annotated[
        bool,
        typer.Option("--partial", help="Store the good rows even when some rows have errors."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Import a CSV file: every row is checked first, then all are stored in one
    transaction, or none (exit 2) when any row has an error, unless --partial.

    Idempotent: importing the same file again changes nothing. See docs/imports.md for
    fields, presets, placeholders and the outcome vocabulary.
    """
    from leadgate.adapters.importers import read_import
    from leadgate.cli.progress import progress_bar
    from leadgate.services.errors import InvalidInput
    from leadgate.services.imports import run_import
    from leadgate.services.retry import retry_on_conflict

    started = time.perf_counter()
    what = _kind(kind)
    data, name = _read(file)
    try:
        parsed = read_import(
            data,
            what,
            name=name,
            preset=preset,
            maps=maps or (),
            ignore=ignore or (),
            placeholders=placeholders or (),
            default_placeholders=not no_default_placeholders,
            encoding=encoding,
        )
    except InvalidInput as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    quiet = as_json or not err_console.is_terminal or parsed.rows_read < PROGRESS_FROM_ROWS
    with wired_app() as wired, progress_bar(f"importing {what.value}", disable=quiet) as advance:
        report = retry_on_conflict(
            lambda: run_import(
                wired.uow(),
                parsed,
                now=now(),
                partial=partial,
                dry_run=dry_run,
                actor="cli",
                progress=advance,
            )
        )
    report = replace(report, seconds=round(time.perf_counter() - started, 2))
    if as_json:
        print_json(report)
    else:
        _render(report)
    if report.refused:
        fail(
            f"{report.errors} of {report.rows} rows have errors; nothing was stored "
            "(fix them, or use --partial to store the good rows)",
            EXIT_BAD_INPUT,
        )


def _render(report: ImportReport) -> None:
    if report.refused:
        outcome = "refused: nothing stored"
    elif report.dry_run:
        outcome = "dry run: nothing stored"
    else:
        outcome = "stored"
    console.print(
        f"[bold]{report.file}[/] → {report.kind.value}: {outcome} ({report.seconds:.1f}s)",
        highlight=False,
    )
    totals = Table("rows", "created", "updated", "unchanged", "skipped", "errors", "transitions")
    totals.add_row(
        *(
            str(n)
            for n in (
                report.rows,
                report.created,
                report.updated,
                report.unchanged,
                report.skipped,
                report.errors,
                report.transitions,
            )
        )
    )
    console.print(totals)
    if report.stages:
        console.print(
            "stages: " + ", ".join(f"{s} {n}" for s, n in sorted(report.stages.items())),
            highlight=False,
        )
    columns = ", ".join(f"{f} ← {c!r}" for f, c in report.columns.items())
    console.print(f"columns: {columns}", highlight=False, soft_wrap=True)
    if report.traits:
        what = "properties" if report.kind.value == "touchpoints" else "custom traits"
        console.print(
            f"{len(report.traits)} other columns kept as {what} (names in --json)",
            highlight=False,
        )
    if report.placeholders:
        table = Table("column", "placeholder", "cells", title="placeholders read as missing")
        for column, counts in report.placeholders.items():
            for value, n in counts.items():
                table.add_row(column, value, str(n))
        console.print(table)
    if report.row_errors:
        _render_errors(report)


def _render_errors(report: ImportReport) -> None:
    table = Table("row", "column", "value", "reason", title="row errors")
    for error in report.row_errors[:SHOWN_ERRORS]:
        table.add_row(str(error.row), error.column or "", error.value or "", error.reason)
    console.print(table)
    hidden = len(report.row_errors) - SHOWN_ERRORS
    if hidden <= 0:
        return
    console.print(f"… and {hidden} more row errors (--json lists every one)")
    # A wrong mapping fails every row the same way: the summary says so in a few lines.
    counts = Counter((e.column or "", e.reason) for e in report.row_errors)
    summary = Table("column", "reason", "rows", title="row errors by column and reason")
    for (column, reason), n in counts.most_common():
        summary.add_row(column, reason, str(n))
    console.print(summary)


def register(root: typer.Typer) -> None:
    """Adds ``import`` to the command line."""
    root.command("import")(import_)
