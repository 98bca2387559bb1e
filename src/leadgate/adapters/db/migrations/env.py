"""Alembic environment: runs on the connection ``leadgate.adapters.db.migrate`` passes in."""

from __future__ import annotations

from alembic import context

from leadgate.adapters.db.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - leadgate always passes its own connection
    raise RuntimeError("run migrations through `leadgate db upgrade`")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
