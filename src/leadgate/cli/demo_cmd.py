"""``leadgate demo``: a synthetic B2B world, ingested through the real use cases."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from leadgate.cli._common import EXIT_BAD_INPUT, console, err_console, fail, now
from leadgate.cli._common import app as wired_app
from leadgate.cli.progress import progress_bar
from leadgate.cli.render import fmt


def demo(
    leads: Annotated[int, typer.Option(min=10, max=1_000_000, help="Leads to generate.")] = 2000,
    days: Annotated[int, typer.Option(min=7, max=730, help="Days of history.")] = 90,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same world.")] = 7,
    reset: Annotated[
        bool,
        typer.Option(
            help="Empty the database first (refused otherwise when it already holds leads)."
        ),
    ] = False,
    serve: Annotated[
        bool,
        typer.Option(help="Serve the workspace over HTTP afterwards (Ctrl+C stops)."),
    ] = True,
    host: Annotated[str, typer.Option(help="Address to serve on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8000,
) -> None:
    """Generate a realistic B2B world, qualify it, and print the funnel and the top leads.

    History ends at midnight UTC today; the printed figures depend only on the options,
    so the same seed prints the same output.
    """
    from leadgate.adapters.db.migrate import upgrade
    from leadgate.adapters.db.tables import metadata
    from leadgate.analytics.funnel import snapshot
    from leadgate.demo.runner import run_demo
    from leadgate.models import default_model_text
    from leadgate.services.models import activate_model

    today = now().replace(hour=0, minute=0, second=0, microsecond=0)
    started = time.perf_counter()
    with wired_app(check_schema=False) as wired:
        if reset:
            with wired.engine.begin() as connection:
                metadata.drop_all(connection)
                connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        upgrade(wired.engine)
        with wired.uow() as uow:
            existing = uow.leads.count()
        if existing:
            fail(
                f"the database already holds {existing} leads; run `leadgate demo --reset` "
                "to replace them with the demo world",
                EXIT_BAD_INPUT,
            )
        start = datetime.fromtimestamp(today.timestamp() - days * 86_400, UTC)
        activate_model(wired.uow(), default_model_text(), now=start, actor="demo")

        with progress_bar("building the demo world") as advance:

            def report(phase: str, done: int, total: int) -> None:
                advance(done, total, f"demo: {phase}")

            summary = run_demo(
                wired.uow_factory, leads=leads, days=days, seed=seed, end=today, progress=report
            )
        with wired.engine.connect() as connection:
            funnel = snapshot(connection)
        _print_funnel(funnel)
        _print_top(wired, 10)
    err_console.print(
        f"ingested {summary.touchpoints} touchpoints for {summary.leads} leads in "
        f"{time.perf_counter() - started:.1f}s; try `leadgate explain LEAD`",
        highlight=False,
    )
    if serve:
        _serve(host, port)


def _serve(host: str, port: int) -> None:
    """Make keys and a dashboard user for the demo workspace, show how to use them, and
    serve it."""
    from leadgate.cli.serve_cmd import run_server
    from leadgate.services.keys import create_key
    from leadgate.services.users import create_user

    # A fresh password each run: the demo may be served on a shared network.
    password = secrets.token_urlsafe(12)
    with wired_app() as wired:
        track = create_key(wired.uow(), name="demo tracking", scopes="track", now=now())
        secret = create_key(wired.uow(), name="demo admin", scopes="admin", now=now())
        create_user(wired.uow(), name="demo", role="admin", password=password, rep=None, now=now())
    base = f"http://{host}:{port}"
    console.print(
        f"\n[bold]Serving the demo workspace[/] at {base} (API docs: {base}/docs)\n"
        f"  dashboard:    {base}/ (sign in as demo, password {password})\n"
        f"  tracking key: {track.secret}\n"
        f"  secret key:   {secret.secret}\n"
        f"  try: curl -s -H 'Authorization: Bearer {secret.secret}' {base}/v1/leads?limit=5\n"
        f"       curl -s -u '{track.secret}:' {base}/v1/track -H 'Content-Type: application/json' "
        """-d '{"userId": "u-1", "event": "Demo Requested"}'""",
        highlight=False,
        soft_wrap=True,
    )
    run_server(host=host, port=port)


def _print_funnel(funnel: object) -> None:
    from leadgate.analytics.funnel import FunnelSnapshot
    from leadgate.domain.lifecycle import Stage

    assert isinstance(funnel, FunnelSnapshot)
    table = Table("stage", "leads", title=f"Funnel: {funnel.leads} leads")
    for stage in Stage:
        table.add_row(stage.value, str(funnel.by_stage[stage]))
    console.print(table)
    for conversion in (funnel.mql_to_sql, funnel.sql_to_opportunity):
        rate = f"{conversion.rate:.1%}" if conversion.rate is not None else "n/a"
        console.print(
            f"{conversion.from_stage.value.upper()} → "
            f"{conversion.to_stage.value.upper()}: {rate} "
            f"({conversion.converted} of {conversion.entered})"
        )


def _print_top(wired: object, count: int) -> None:
    from leadgate.analytics.scores import ranked_scores
    from leadgate.bootstrap import App
    from leadgate.services.queries import explain_lead

    assert isinstance(wired, App)
    with wired.engine.connect() as connection:
        rows = ranked_scores(connection, limit=count)
    table = Table(
        "lead",
        "email",
        "stage",
        "grade",
        "fit",
        "eng.",
        "total",
        "top reasons",
        title=f"Top {count} leads",
    )
    for row in rows:
        contributions = explain_lead(wired.uow(), row.lead_id).qualification.score.contributions
        top = sorted(contributions, key=lambda c: -abs(c.points))[:4]
        reasons = ", ".join(f"{c.rule_id} {c.points:+.0f}" for c in top)
        table.add_row(
            str(row.lead_id),
            row.email or "",
            row.stage,
            row.grade or "-",
            fmt(row.fit),
            fmt(row.engagement),
            fmt(row.total),
            reasons,
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command()(demo)
