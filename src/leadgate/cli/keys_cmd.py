"""``leadgate keys``: API keys for the tracking endpoints and the REST API."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from leadgate.cli._common import app as wired_app
from leadgate.cli._common import console, now, print_json
from leadgate.domain.keys import ApiKey, Scope

app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@app.command()
def create(
    name: Annotated[str, typer.Option(help="What the key is for, e.g. 'website'.")],
    scopes: Annotated[
        str,
        typer.Option(
            help="Comma-separated: track, read, write, admin. 'track' alone makes a "
            "tracking key (lg_pub_..., safe in a web page); anything else a secret key."
        ),
    ] = "track",
    as_json: JsonOption = False,
) -> None:
    """Create a key and print it. It is shown this once; only its hash is stored."""
    from leadgate.services.keys import create_key

    with wired_app() as wired:
        created = create_key(wired.uow(), name=name, scopes=scopes, now=now())
    if as_json:
        print_json({"key": created.secret, **_key_dict(created.key)})
        return
    console.print(created.secret, highlight=False, soft_wrap=True)
    console.print(
        f"[dim]{created.key.kind.value} key #{created.key.id} '{created.key.name}', scopes "
        f"{_scopes(created.key)}; store it now, it cannot be shown again[/]",
        highlight=False,
    )


@app.command("list")
def list_(as_json: JsonOption = False) -> None:
    """List keys (their prefixes, never the keys)."""
    from leadgate.services.keys import list_keys

    with wired_app() as wired:
        keys = list_keys(wired.uow())
    if as_json:
        print_json([_key_dict(k) for k in keys])
        return
    table = Table("id", "name", "kind", "prefix", "scopes", "created", "revoked")
    for key in keys:
        table.add_row(
            str(key.id),
            key.name,
            key.kind.value,
            key.prefix + "…",
            _scopes(key),
            f"{key.created_at:%Y-%m-%d %H:%M}",
            f"{key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "",
        )
    console.print(table)


@app.command()
def revoke(
    key_id: Annotated[int, typer.Argument(help="The key's id (see `leadgate keys list`).")],
    as_json: JsonOption = False,
) -> None:
    """Revoke a key. Running servers stop accepting it within 30 seconds."""
    from leadgate.services.keys import revoke_key

    with wired_app() as wired:
        key = revoke_key(wired.uow(), key_id, now=now())
    if as_json:
        print_json(_key_dict(key))
        return
    console.print(f"revoked key #{key.id} '{key.name}' ({key.prefix}…)", highlight=False)


def _scopes(key: ApiKey) -> str:
    return ",".join(s.value for s in Scope if s in key.scopes)


def _key_dict(key: ApiKey) -> dict[str, object]:
    return {
        "id": key.id,
        "name": key.name,
        "kind": key.kind.value,
        "prefix": key.prefix,
        "scopes": _scopes(key).split(","),
        "created_at": key.created_at.isoformat(),
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
    }
