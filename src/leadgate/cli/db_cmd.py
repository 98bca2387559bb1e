"""``leadgate db``: schema migrations."""

from __future__ import annotations

import typer

from leadgate.cli._common import app as wired_app
from leadgate.cli._common import console

app = typer.Typer(help="Create or upgrade the database schema.", no_args_is_help=True)


@app.command()
def upgrade() -> None:
    """Create the schema or bring it up to date (safe to run again)."""
    from leadgate.adapters.db.migrate import head_revision
    from leadgate.adapters.db.migrate import upgrade as run_upgrade

    with wired_app(check_schema=False) as wired:
        run_upgrade(wired.engine)
        console.print(f"database schema at revision {head_revision()}")


@app.command()
def current() -> None:
    """Show the schema revision of the database and the one this leadgate needs."""
    from leadgate.adapters.db.migrate import current_revision, head_revision

    with wired_app(check_schema=False) as wired:
        console.print(f"database: {current_revision(wired.engine) or 'none'}")
        console.print(f"needed:   {head_revision()}")
