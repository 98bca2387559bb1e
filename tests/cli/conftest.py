"""Fixtures of the CLI tests: databases made the documented way, and the database URL of
the shared per-test database (SQLite and PostgreSQL)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.cli.runner import as_json, leadgate, ok


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database made the documented way: `db upgrade`, then `model activate --default`."""
    path = tmp_path_factory.mktemp("template") / "x.db"
    assert "database schema at revision" in ok(leadgate(path, "db", "upgrade"))
    activation = as_json(leadgate(path, "model", "activate", "--default", "--json"))
    assert activation["version"] == 1
    assert activation["already_active"] is False
    return path


@pytest.fixture
def db(migrated_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the migrated SQLite file with the default model active."""
    path = tmp_path / "x.db"
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{migrated_template}{suffix}")
        if source.exists():
            shutil.copy(source, f"{path}{suffix}")
    return path


@pytest.fixture
def url(engine: Engine, default_model: int) -> str:
    """A migrated database (SQLite file or PostgreSQL) with the default model active."""
    return engine.url.render_as_string(hide_password=False)
