"""What every command shares: the console, the wired app, JSON output, clean failures."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

import typer
from rich.console import Console

from leadgate.bootstrap import App, bootstrap
from leadgate.config import Settings

if TYPE_CHECKING:
    from leadgate.adapters.model_yaml import Problem

console = Console()
err_console = Console(stderr=True)

# Exit codes: 0 success, 1 the operation failed (not found, database down), 2 bad input.
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2


class State:
    """Options given before the command (``leadgate --database-url URL explain 7``)."""

    database_url: str | None = None


state = State()


def fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    """Print one line to stderr and exit: the user sees what went wrong, not a traceback."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def now() -> datetime:
    return datetime.now(UTC)


def settings() -> Settings:
    if state.database_url:
        return Settings(database_url=state.database_url)
    return Settings()


@contextmanager
def app(*, check_schema: bool = True) -> Iterator[App]:
    """The wired app for one command, with every expected failure turned into one line."""
    from sqlalchemy.exc import OperationalError

    from leadgate.adapters.db.engine import BadDatabaseUrl
    from leadgate.adapters.db.migrate import NotMigrated
    from leadgate.services.errors import InvalidInput, ServiceError

    wired: App | None = None
    try:
        wired = bootstrap(settings(), check_schema=check_schema)
        yield wired
    except BadDatabaseUrl as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    except NotMigrated as exc:
        fail(str(exc))
    except InvalidInput as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    except ServiceError as exc:
        fail(str(exc))
    except OperationalError as exc:
        fail(f"cannot use the database: {str(exc.orig).strip().splitlines()[0]}")
    finally:
        if wired is not None:
            wired.engine.dispose()


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return _plain(asdict(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def print_json(value: Any) -> None:
    """Write ``value`` (dataclasses, enums and datetimes included) as JSON to stdout."""
    sys.stdout.write(json.dumps(_plain(value), indent=2, sort_keys=False) + "\n")


def parse_time(raw: str | None, option: str) -> datetime | None:
    """Given an ISO 8601 date or time from an option, return it in UTC (naive means UTC)."""
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        fail(
            f"{option}: {raw!r} is not an ISO 8601 date or time (e.g. 2026-03-01T09:00Z)",
            EXIT_BAD_INPUT,
        )
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def read_text(path: Path, what: str | None = None) -> str:
    """A UTF-8 file's text, or one line saying why it cannot be read (exit 2), after
    ``what:`` (the argument or option that named the file) when given."""
    where = f"{what}: " if what else ""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"{where}cannot read {path}: {exc.strerror}", EXIT_BAD_INPUT)
    except UnicodeDecodeError:
        fail(f"{where}{path} is not UTF-8 text", EXIT_BAD_INPUT)


class Report(Protocol):
    """What a YAML validator returns (scoring models, handoff configurations)."""

    @property
    def errors(self) -> Sequence[Problem]: ...

    @property
    def warnings(self) -> Sequence[Problem]: ...


def report_validation(file: Path, report: Report, as_json: bool) -> None:
    """Print a YAML document's problems (JSON, or one file:line:column line each and a
    verdict on stderr), and exit 2 when it has errors."""
    if as_json:
        print_json(
            {"valid": not report.errors, "errors": report.errors, "warnings": report.warnings}
        )
    else:
        print_problems([*report.errors, *report.warnings])
        verdict = "invalid" if report.errors else "valid"
        err_console.print(
            f"{file}: {verdict} ({len(report.errors)} errors, {len(report.warnings)} warnings)",
            highlight=False,
        )
    if report.errors:
        raise typer.Exit(EXIT_BAD_INPUT)


def print_problems(problems: Sequence[Problem]) -> None:
    """One line each on stderr, as file:line:column: message."""
    for problem in problems:
        err_console.print(str(problem), highlight=False, soft_wrap=True)
