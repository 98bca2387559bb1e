"""``leadgate handoff-config``: the routing, SLA and reasons YAML, versioned like models."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from leadgate.cli._common import (
    EXIT_BAD_INPUT,
    console,
    err_console,
    fail,
    now,
    print_json,
    print_problems,
    read_text,
    report_validation,
)
from leadgate.cli._common import app as wired_app
from leadgate.cli.handoffs_cmd import (
    ActorOption,
    AfterOption,
    JsonOption,
    LimitOption,
    page_hint,
    stamp,
)

if TYPE_CHECKING:
    from leadgate.services.ports import ConfigVersion

app = typer.Typer(
    help="Validate, activate and inspect the handoff configuration (teams, routing, SLAs, "
    "reasons, nurture tracks; docs/handoff-config.md).",
    no_args_is_help=True,
)

FileArgument = Annotated[Path, typer.Argument(metavar="FILE", help="Handoff YAML file.")]


def _version_dict(found: ConfigVersion) -> dict[str, Any]:
    return {
        "version": found.version,
        "active": found.is_active,
        "created_at": found.created_at,
        "created_by": found.created_by,
    }


@app.command()
def validate(file: FileArgument, as_json: JsonOption = False) -> None:
    """Check a handoff file. Exit 0 when valid (warnings allowed), 2 listing every problem
    as file:line:column.

    Example: `leadgate handoff-config validate handoff.yaml`.
    """
    from leadgate.adapters.handoff_yaml import validate_handoff_config

    report_validation(file, validate_handoff_config(read_text(file), source=str(file)), as_json)


@app.command()
def activate(
    file: Annotated[
        Path | None,
        typer.Argument(metavar="[FILE]", help="Handoff YAML file.", show_default=False),
    ] = None,
    version: Annotated[
        int | None,
        typer.Option(
            help="Activate a stored version again instead (a rollback).", show_default=False
        ),
    ] = None,
    actor: ActorOption = "cli",
    as_json: JsonOption = False,
) -> None:
    """Store a handoff file as the next version and make it active: handoffs from now on
    are routed and timed by it (earlier ones keep their owner and deadline). An invalid
    file is refused with every problem listed, and nothing is stored.

    Examples: `leadgate handoff-config activate handoff.yaml`;
    `leadgate handoff-config activate --version 1`.
    """
    from leadgate.adapters.handoff_yaml import load_handoff_config, validate_handoff_config
    from leadgate.services.handoff_config import activate_handoff_config, store_handoff_config

    if (file is None) == (version is None):
        fail("give a FILE or --version N (one of them)", EXIT_BAD_INPUT)
    with wired_app() as wired:
        if file is not None:
            document = read_text(file)
            report = validate_handoff_config(document, source=str(file))
            print_problems([*report.errors, *report.warnings])
            if report.errors:
                fail(f"{file} is not a valid handoff configuration; nothing stored", EXIT_BAD_INPUT)
            stored, _ = store_handoff_config(
                wired.uow(),
                document,
                check=lambda text: load_handoff_config(text, str(file)),
                now=now(),
                actor=actor.strip() or "cli",
            )
            version = stored.version
        assert version is not None
        result = activate_handoff_config(
            wired.uow(),
            version,
            check=lambda text: load_handoff_config(text, f"handoff version {version}"),
            now=now(),
        )
    if as_json:
        print_json(result)
    elif result.already_active:
        console.print(f"handoff configuration version {result.version} is already active")
    else:
        was = (
            f"version {result.previous_version}"
            if result.previous_version is not None
            else "the shipped default"
        )
        console.print(
            f"activated handoff configuration version {result.version} (was {was})",
            highlight=False,
        )


@app.command()
def show(
    version: Annotated[
        int | None,
        typer.Option(help="A stored version (default: the active one).", show_default=False),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Print the handoff YAML in force (or a stored version): the active version, else the
    shipped default. The YAML goes to stdout, which version it is to stderr.

    Example: `leadgate handoff-config show > handoff.yaml` (edit, then activate it).
    """
    from leadgate.models.handoff import default_handoff_text
    from leadgate.services.handoff_config import active_handoff_config, handoff_config_version

    with wired_app() as wired:
        found = (
            handoff_config_version(wired.uow(), version)
            if version is not None
            else active_handoff_config(wired.uow())
        )
    if version is not None and found is None:
        fail(f"no handoff configuration version {version}")
    if as_json:
        print_json(
            {**_version_dict(found), "default": False, "document": found.document}
            if found
            else {
                "version": None,
                "active": True,
                "default": True,
                "document": default_handoff_text(),
            }
        )
        return
    if found is None:
        err_console.print("# the shipped default (no version has been activated)")
        typer.echo(default_handoff_text(), nl=False)
        return
    err_console.print(
        f"# version {found.version}{', active' if found.is_active else ''}, stored "
        f"{stamp(found.created_at)} UTC by {found.created_by}",
        highlight=False,
    )
    typer.echo(found.document, nl=not found.document.endswith("\n"))


@app.command()
def versions(
    limit: LimitOption = 50, after: AfterOption = None, as_json: JsonOption = False
) -> None:
    """List stored handoff configuration versions."""
    from leadgate.services.handoff_config import handoff_config_versions

    with wired_app() as wired:
        stored = [
            v for v in handoff_config_versions(wired.uow()) if after is None or v.version > after
        ]
    shown = stored[:limit]
    if as_json:
        print_json([_version_dict(v) for v in shown])
        return
    table = Table("version", "active", "stored (UTC)", "by")
    for v in shown:
        table.add_row(
            str(v.version), "yes" if v.is_active else "", stamp(v.created_at), v.created_by
        )
    console.print(table)
    if not stored:
        err_console.print("[dim]none stored: the shipped default is in force[/]")
    page_hint(len(stored) > limit, shown[-1].version if shown else None)
