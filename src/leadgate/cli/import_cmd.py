"""``leadgate import``: CSV imports (not yet written)."""

from __future__ import annotations

import typer


def register(root: typer.Typer) -> None:
    """Adds ``import`` to the command line (filled in by the CSV import work)."""
