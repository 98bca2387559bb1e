"""``leadgate users``: people who sign in to the dashboard, and their roles."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from leadgate.cli._common import EXIT_BAD_INPUT, console, fail, now, print_json
from leadgate.cli._common import app as wired_app
from leadgate.domain.users import User

app = typer.Typer(
    help="Dashboard users: admin, marketing and sales (create, list, disable, enable, password).",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin",
        help="Read the password from the first line of standard input (for scripts) "
        "instead of prompting.",
    ),
]


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            fail("password: standard input was empty", EXIT_BAD_INPUT)
        return line
    if not sys.stdin.isatty():
        fail(
            "password: no terminal to prompt on; pipe it in with --password-stdin",
            EXIT_BAD_INPUT,
        )
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@app.command()
def create(
    name: Annotated[str, typer.Option("--name", help="User name to sign in with.")],
    role: Annotated[str, typer.Option("--role", help="admin, marketing or sales.")],
    rep: Annotated[
        str | None,
        typer.Option(
            "--rep",
            help="Sales users: the owner name on their leads and handoffs "
            "(e.g. lena.schmidt@example.com).",
        ),
    ] = None,
    password_stdin: PasswordStdin = False,
    as_json: JsonOption = False,
) -> None:
    """Create a dashboard user. The password is prompted for (twice) or read with
    --password-stdin; only its scrypt hash is stored."""
    from leadgate.services.users import create_user

    password = _password(password_stdin)
    with wired_app() as wired:
        user = create_user(wired.uow(), name=name, role=role, password=password, rep=rep, now=now())
    if as_json:
        print_json(_user_dict(user))
        return
    console.print(
        f"created {user.role.value} user '{user.username}'"
        + (f" (rep {user.rep})" if user.rep else ""),
        highlight=False,
    )


@app.command("list")
def list_(as_json: JsonOption = False) -> None:
    """List users (never their passwords)."""
    from leadgate.services.users import list_users

    with wired_app() as wired:
        users = list_users(wired.uow())
    if as_json:
        print_json([_user_dict(u) for u in users])
        return
    table = Table("id", "name", "role", "rep", "created", "status")
    for user in users:
        table.add_row(
            str(user.id),
            user.username,
            user.role.value,
            user.rep or "",
            f"{user.created_at:%Y-%m-%d %H:%M}",
            "disabled" if user.disabled else "active",
        )
    console.print(table)


@app.command()
def disable(
    name: Annotated[str, typer.Argument(help="The user's name.")],
    as_json: JsonOption = False,
) -> None:
    """Disable a user: they cannot sign in, and an open session ends at its next request."""
    _set_disabled(name, True, as_json)


@app.command()
def enable(
    name: Annotated[str, typer.Argument(help="The user's name.")],
    as_json: JsonOption = False,
) -> None:
    """Let a disabled user sign in again."""
    _set_disabled(name, False, as_json)


@app.command()
def password(
    name: Annotated[str, typer.Argument(help="The user's name.")],
    password_stdin: PasswordStdin = False,
) -> None:
    """Set a user's password (prompted for, or read with --password-stdin)."""
    from leadgate.services.users import set_password

    new = _password(password_stdin)
    with wired_app() as wired:
        user = set_password(wired.uow(), name, new)
    console.print(f"password of '{user.username}' changed", highlight=False)


def _set_disabled(name: str, disabled: bool, as_json: bool) -> None:
    from leadgate.services.users import set_disabled

    with wired_app() as wired:
        user = set_disabled(wired.uow(), name, disabled=disabled)
    if as_json:
        print_json(_user_dict(user))
        return
    console.print(
        f"{'disabled' if disabled else 'enabled'} user '{user.username}'", highlight=False
    )


def _user_dict(user: User) -> dict[str, object]:
    return {
        "id": user.id,
        "name": user.username,
        "role": user.role.value,
        "rep": user.rep,
        "created_at": user.created_at.isoformat(),
        "disabled": user.disabled,
    }
