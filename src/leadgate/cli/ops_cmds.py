"""Operational commands: ingest, rescore, refresh."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from leadgate.cli._common import EXIT_BAD_INPUT, console, err_console, fail, now, print_json
from leadgate.cli._common import app as wired_app
from leadgate.cli.progress import progress_bar

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def rescore(as_json: JsonOption = False) -> None:
    """Rebuild every lead's score from the touchpoint log and apply the gates."""
    from leadgate.services.rescore import rescore_all

    started = time.perf_counter()
    with wired_app() as wired, progress_bar("rescoring", disable=as_json) as advance:
        result = rescore_all(wired.uow(), now=now(), progress=advance)
    if as_json:
        print_json(result)
    else:
        console.print(
            f"rescored {result.rescored} leads under model v{result.model_version} "
            f"in {time.perf_counter() - started:.1f}s; "
            f"{result.transitions} transitions"
        )


def refresh(
    every: Annotated[
        float | None,
        typer.Option(
            help="Keep running, refreshing every this many minutes (otherwise run once, "
            "e.g. from cron).",
            min=0.1,
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Refresh decayed scores, expired windows and ended cool-downs as of now, from each
    lead's stored state (the touchpoint log is not read)."""
    from leadgate.services.refresh import refresh_all

    while True:
        with wired_app() as wired:
            result = refresh_all(wired.uow(), now=now())
        if as_json:
            print_json(result)
        else:
            console.print(
                f"{now():%Y-%m-%d %H:%M:%S} refreshed {result.rescored} leads; "
                f"{result.transitions} transitions"
            )
        if every is None:
            return
        time.sleep(every * 60)


def ingest(
    file: Annotated[
        Path, typer.Argument(help="JSON lines: one touchpoint per line, or - for standard input.")
    ],
    batch_size: Annotated[int, typer.Option(min=1, max=10_000)] = 1000,
    as_json: JsonOption = False,
) -> None:
    """Ingest touchpoints from JSON lines (idempotent: re-running skips known message ids).

    Each line: {"message_id", "name", "occurred_at" (ISO 8601 with offset), "properties",
    and one or more of "email", "user_id", "external_id", "anonymous_id"}. Every line is
    checked before anything is stored; a bad line stops the run with its line number.
    """
    from leadgate.services.ingest import ingest_touchpoints
    from leadgate.services.retry import retry_on_conflict

    items = _read_touchpoints(file)
    totals: dict[str, int] = {
        "received": 0,
        "stored": 0,
        "duplicates": 0,
        "leads_created": 0,
        "transitions": 0,
    }
    with wired_app() as wired, progress_bar("ingesting", disable=as_json) as advance:
        for start in range(0, len(items), batch_size):
            batch = items[start : start + batch_size]
            result = retry_on_conflict(
                lambda batch=batch: ingest_touchpoints(wired.uow(), batch, now=now())  # type: ignore[misc]
            )
            for key in totals:
                totals[key] += getattr(result, key)
            advance(start + len(batch), len(items))
    if as_json:
        print_json(totals)
    else:
        console.print(", ".join(f"{v} {k.replace('_', ' ')}" for k, v in totals.items()))


def _read_touchpoints(file: Path) -> list[Any]:
    import sys
    from datetime import datetime

    from leadgate.services.commands import TouchpointIn
    from leadgate.services.errors import InvalidInput
    from leadgate.services.ingest import touchpoint_keys

    try:
        lines = sys.stdin.readlines() if str(file) == "-" else file.read_text("utf-8").splitlines()
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}", EXIT_BAD_INPUT)
    items = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{file}:{number}"
        try:
            data = json.loads(line)
            if not isinstance(data, dict):
                fail(
                    f"{where}: expected a JSON object, found {type(data).__name__}", EXIT_BAD_INPUT
                )
            if not isinstance(data.get("properties") or {}, dict):
                fail(f"{where}: properties: expected a JSON object", EXIT_BAD_INPUT)
            occurred = datetime.fromisoformat(str(data["occurred_at"]).replace("Z", "+00:00"))
            item = TouchpointIn(
                message_id=str(data["message_id"]),
                name=str(data["name"]),
                occurred_at=occurred,
                properties=dict(data.get("properties") or {}),
                email=data.get("email"),
                user_id=data.get("user_id"),
                external_id=data.get("external_id"),
                anonymous_id=data.get("anonymous_id"),
            )
            touchpoint_keys(item)
            items.append(item)
        except InvalidInput as exc:
            fail(f"{where}: {exc}", EXIT_BAD_INPUT)
        except json.JSONDecodeError as exc:
            fail(f"{where}: not JSON: {exc.msg} at column {exc.colno}", EXIT_BAD_INPUT)
        except KeyError as exc:
            fail(f"{where}: missing field {exc.args[0]!r}", EXIT_BAD_INPUT)
        except (TypeError, ValueError) as exc:
            fail(f"{where}: {exc}", EXIT_BAD_INPUT)
    if not items:
        err_console.print(f"{file}: no touchpoints")
    return items


def register(app: typer.Typer) -> None:
    for command in (ingest, rescore, refresh):
        app.command()(command)
