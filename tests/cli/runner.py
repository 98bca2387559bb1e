"""The ``leadgate`` command line run in this process, as a user would see it run.

Every command goes through the Typer app the console script calls (``leadgate.cli.app``),
with Typer's runner capturing stdout and stderr apart. What a user would see is kept:
the environment is the console script's (``LEADGATE_DATABASE_URL`` set, every other
``LEADGATE_*`` variable removed, ``COLUMNS=200``, ``NO_COLOR=1``), the working directory
is the database's folder (a ``.env`` in the repository must not change which database is
used), and output goes to consoles built for the run that write plain text to a pipe, as
the script's do. Nothing is left behind for the next command: the root callback sets the
database URL on every run and settings are read afresh by each command.

A command that raises (a traceback a user would see) fails the test with that traceback.
tests/e2e runs the real console script for what only a process shows.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import sys
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import typer
from rich.console import Console
from typer.testing import CliRunner

from leadgate.cli import _common, app

REPO = Path(__file__).resolve().parents[2]
WIDTH = 200
USER = "pat.tester"


class Finished(Protocol):
    """A finished command: the console script's (subprocess) or one run here."""

    @property
    def returncode(self) -> int: ...

    @property
    def stdout(self) -> str: ...

    @property
    def stderr(self) -> str: ...


@dataclass(frozen=True)
class Ran:
    """A command run in this process: exit code, stdout and stderr."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def code(self) -> int:
        return self.returncode

    def ok(self) -> str:
        assert self.code == 0, f"exit {self.code}\n{self.stderr}{self.stdout}"
        return self.stdout

    def json(self) -> Any:
        return json.loads(self.ok())

    def error(self, code: int) -> str:
        """The one-line message of a command that failed with ``code``."""
        assert self.code == code, f"exit {self.code}, wanted {code}\n{self.stderr}{self.stdout}"
        assert "Traceback" not in self.stderr + self.stdout
        lines = self.stderr.strip().splitlines()
        assert len(lines) == 1, self.stderr
        assert lines[0].startswith("error: "), lines[0]
        return lines[0]


@cache
def _command() -> Any:
    # Built once: turning the Typer app into a click command is most of an invocation.
    return typer.main.get_command(app)


@contextlib.contextmanager
def _plain_consoles() -> Iterator[None]:
    """Swap the CLI's two consoles (``leadgate.cli._common``'s, imported by name into
    every command module) for consoles that write plain text, 200 columns wide, to
    whatever sys.stdout and sys.stderr are when they write: what the console script's
    consoles do when its output is a pipe, whatever terminal runs the tests."""
    old = {"console": _common.console, "err_console": _common.err_console}
    new = {
        "console": Console(width=WIDTH, force_terminal=False, no_color=True),
        "err_console": Console(stderr=True, width=WIDTH, force_terminal=False, no_color=True),
    }
    swapped: list[tuple[object, str]] = []
    for name, module in list(sys.modules.items()):
        if name == "leadgate" or name.startswith("leadgate."):
            for attr, original in old.items():
                if getattr(module, attr, None) is original:
                    setattr(module, attr, new[attr])
                    swapped.append((module, attr))
    try:
        yield
    finally:
        for module, attr in swapped:
            setattr(module, attr, old[attr])


def invoke(
    args: Sequence[str],
    *,
    env: dict[str, str],
    cwd: Path,
    input: str | None = None,
) -> Ran:
    """Run ``leadgate ARGS`` here, in ``cwd``, with ``env`` over this process's
    environment less every ``LEADGATE_*`` variable and FORCE_COLOR."""
    overrides: dict[str, str | None] = {
        key: None for key in os.environ if key.startswith("LEADGATE_") or key == "FORCE_COLOR"
    }
    overrides.update({"COLUMNS": str(WIDTH), "NO_COLOR": "1", **env})
    runner = CliRunner()
    code = 0
    with (
        contextlib.chdir(cwd),
        _plain_consoles(),
        runner.isolation(input=input, env=overrides) as (stdout, stderr, _),
    ):
        try:
            _command().main(args=list(args), prog_name="leadgate")
        except SystemExit as exc:
            if exc.code is None or isinstance(exc.code, int):
                code = exc.code or 0
            else:  # as the interpreter does with a message for sys.exit
                sys.stderr.write(f"{exc.code}\n")
                code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
        out, err = stdout.getvalue(), stderr.getvalue()
    return Ran(code, out.decode(), err.decode())


def leadgate(
    database: Path | str, *args: str, cwd: Path | None = None, input: str | None = None
) -> Ran:
    """Run ``leadgate ARGS`` against ``database`` (a SQLite file or a whole URL), in the
    database's folder unless told otherwise."""
    url = database if isinstance(database, str) else f"sqlite:///{database}"
    where = cwd or (database.parent if isinstance(database, Path) else REPO / "tests")
    return invoke(args, env={"LEADGATE_DATABASE_URL": url}, cwd=where, input=input)


def cli(url: str, *args: str, user: str = USER, input: str | None = None) -> Ran:
    """Run ``leadgate ARGS`` against the database at ``url``, as user ``user`` (the actor
    commands record)."""
    env = {"LEADGATE_DATABASE_URL": url, "USER": user}
    return invoke(args, env=env, cwd=REPO / "tests", input=input)


def ok(result: Finished) -> str:
    """Given a finished command, return its stdout after checking it succeeded."""
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stderr}{result.stdout}"
    return result.stdout


def as_json(result: Finished) -> Any:
    return json.loads(ok(result))


def one_line_error(result: Finished, code: int | None = None) -> str:
    """Given a failed command, return its one-line message after checking how it failed."""
    if code is None:
        assert result.returncode != 0, result.stdout
    else:
        assert result.returncode == code, f"exit {result.returncode}\n{result.stderr}"
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def count(database: Path, table: str) -> int:
    with closing(sqlite3.connect(database)) as connection:
        return int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
