"""``leadgate model``: validate, activate, show and list scoring model versions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from leadgate.cli._common import (
    EXIT_BAD_INPUT,
    console,
    fail,
    now,
    print_json,
    print_problems,
    read_text,
    report_validation,
)
from leadgate.cli._common import app as wired_app
from leadgate.cli.predict_cmd import predictive_app
from leadgate.cli.progress import progress_bar

app = typer.Typer(help="Validate, activate and inspect scoring models.", no_args_is_help=True)
app.add_typer(predictive_app, name="predictive")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="Scoring model YAML file.")],
    as_json: JsonOption = False,
) -> None:
    """Check a model file. Exit 0 when valid (warnings allowed), 2 listing every problem."""
    from leadgate.adapters.model_yaml import validate_model

    report_validation(file, validate_model(read_text(file), source=str(file)), as_json)


@app.command()
def activate(
    file: Annotated[
        Path | None, typer.Argument(help="Scoring model YAML file.", show_default=False)
    ] = None,
    default: Annotated[bool, typer.Option("--default", help="Activate the shipped model.")] = False,
    actor: Annotated[str, typer.Option(help="Who activates it (kept with the version).")] = "cli",
    as_json: JsonOption = False,
) -> None:
    """Store a model as a new version, make it active and rescore every lead.

    Earlier transitions keep the version they were made under; new ones carry this one.
    """
    from leadgate.adapters.model_yaml import ModelInvalid
    from leadgate.models import default_model_text
    from leadgate.services.models import activate_model

    if (file is None) == (not default):
        fail("give a model FILE or --default (one of them)", EXIT_BAD_INPUT)
    document = default_model_text() if default else read_text(file)  # type: ignore[arg-type]
    with wired_app() as wired, progress_bar("rescoring", disable=as_json) as advance:
        try:
            result = activate_model(wired.uow(), document, now=now(), actor=actor, progress=advance)
        except ModelInvalid as exc:
            print_problems(exc.problems)
            fail(f"{file or 'default model'} is not a valid scoring model", EXIT_BAD_INPUT)
    if as_json:
        print_json(result)
    elif result.already_active:
        console.print(f"model version {result.version} ({result.name}) is already active")
    else:
        console.print(
            f"activated model version {result.version} ({result.name}); "
            f"rescored {result.rescored} leads, {result.transitions} transitions"
        )


@app.command()
def show(
    version: Annotated[
        int | None, typer.Argument(help="Version (default: the active one).", show_default=False)
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Print a stored model version's YAML document."""
    with wired_app() as wired, wired.uow() as uow:
        found = uow.models.get(version) if version is not None else uow.models.active()
        if found is None:
            fail(f"no model version {version}" if version else "no model is active")
    if as_json:
        print_json(
            {
                "version": found.version,
                "name": found.name,
                "checksum": found.checksum,
                "is_active": found.is_active,
                "created_at": found.created_at,
                "created_by": found.created_by,
                "activated_at": found.activated_at,
                "document": found.document,
            }
        )
    else:
        console.print(
            f"# version {found.version} ({found.name}){' active' if found.is_active else ''}",
            highlight=False,
        )
        typer.echo(found.document)


@app.command("list")
def list_versions(as_json: JsonOption = False) -> None:
    """List stored model versions."""
    with wired_app() as wired, wired.uow() as uow:
        versions = uow.models.all()
    rows = [
        {
            "version": v.version,
            "name": v.name,
            "active": v.is_active,
            "created_at": v.created_at,
            "created_by": v.created_by,
            "activated_at": v.activated_at,
        }
        for v in versions
    ]
    if as_json:
        print_json(rows)
        return
    table = Table("version", "name", "active", "created", "by", "activated")
    for row in rows:
        table.add_row(
            str(row["version"]),
            str(row["name"]),
            "yes" if row["active"] else "",
            f"{row['created_at']:%Y-%m-%d %H:%M}",
            str(row["created_by"]),
            f"{row['activated_at']:%Y-%m-%d %H:%M}" if row["activated_at"] else "",
        )
    console.print(table)
