"""The ``leadgate`` command line."""

from __future__ import annotations

from typing import Annotated

import typer

from leadgate import __version__
from leadgate.cli import (
    _common,
    analytics_cmd,
    audiences_cmd,
    backtest_cmd,
    db_cmd,
    demo_cmd,
    endpoints_cmd,
    feedback_cmd,
    handoff_config_cmd,
    handoffs_cmd,
    import_cmd,
    inbox_cmd,
    keys_cmd,
    lead_cmds,
    model_cmd,
    ops_cmds,
    predict_cmd,
    serve_cmd,
    suggest_cmd,
    users_cmd,
    worker_cmd,
)

app = typer.Typer(
    name="leadgate",
    help="Lead qualification engine: explainable scoring, lifecycle gates, handoff to sales.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"leadgate {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            envvar="LEADGATE_DATABASE_URL",
            help="Database to use (default sqlite:///./leadgate.db).",
            show_default=False,
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show version.")
    ] = False,
) -> None:
    _common.state.database_url = database_url


app.add_typer(model_cmd.app, name="model")
app.add_typer(db_cmd.app, name="db")
app.add_typer(keys_cmd.app, name="keys")
app.add_typer(handoffs_cmd.app, name="handoffs")
app.add_typer(feedback_cmd.app, name="feedback")
app.add_typer(endpoints_cmd.app, name="endpoints")
app.add_typer(endpoints_cmd.outbox_app, name="outbox")
app.add_typer(handoff_config_cmd.app, name="handoff-config")
app.add_typer(audiences_cmd.app, name="audiences")
app.add_typer(users_cmd.app, name="users")
app.add_typer(inbox_cmd.app, name="inbox")
demo_cmd.register(app)
lead_cmds.register(app)
ops_cmds.register(app)
serve_cmd.register(app)
import_cmd.register(app)
worker_cmd.register(app)
predict_cmd.register(app)
backtest_cmd.register(app)
suggest_cmd.register(model_cmd.app)
analytics_cmd.register(app)


def main() -> None:
    app()
