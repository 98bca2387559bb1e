"""``leadgate serve``: the HTTP service (tracking endpoints, REST API, health checks)."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from leadgate.cli._common import EXIT_BAD_INPUT, app, err_console, fail, settings


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[
        int, typer.Option(help="Server processes (each has its own connection pool).")
    ] = 1,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Serve the API (OpenAPI at /docs) until interrupted; logs are JSON lines on stderr."""
    run_server(host=host, port=port, workers=workers, log_level=log_level)


def run_server(*, host: str, port: int, workers: int = 1, log_level: str = "info") -> None:
    """Check the database, then hand over to uvicorn (blocks until interrupted)."""
    import uvicorn

    from leadgate.api.logs import log_config

    if workers < 1:
        fail("--workers: must be at least 1", EXIT_BAD_INPUT)
    if log_level.lower() not in {"debug", "info", "warning", "error"}:
        fail(f"--log-level: {log_level!r} is not debug, info, warning or error", EXIT_BAD_INPUT)
    # Fail here, in one line, rather than in every worker's start-up.
    with app():
        pass
    # Workers are new processes: they read the database URL from the environment.
    os.environ["LEADGATE_DATABASE_URL"] = settings().database_url
    err_console.print(
        f"leadgate serving on http://{host}:{port} (API docs at /docs); Ctrl+C stops",
        highlight=False,
    )
    uvicorn.run(
        "leadgate.api.main:create",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=log_config(log_level),
        log_level=log_level.lower(),
        access_log=False,
        server_header=False,
    )


def register(root: typer.Typer) -> None:
    root.command()(serve)
