"""The Alembic migrations build exactly the schema the table definitions describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

from leadgate.adapters.db.migrate import current_revision, head_revision
from leadgate.adapters.db.tables import metadata


def test_migrated_schema_matches_the_tables(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []
