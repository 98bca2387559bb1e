"""The inbox: tracking calls captured but not yet qualified (LEADGATE_INGEST_MODE=inbox).

Empty until a server runs in inbox mode; inline mode never writes it.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-15 01:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import leadgate.adapters.db.tables

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_WAITING = "drained_at IS NULL AND parked_at IS NULL"
_DRAINED = "drained_at IS NOT NULL"
_PARKED = "parked_at IS NOT NULL"


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("id", _ID, nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=True),
        sa.Column("received_at", leadgate.adapters.db.tables.UTCDateTime(), nullable=False),
        sa.Column("call", sa.Text(), nullable=False),
        sa.Column("drained_at", leadgate.adapters.db.tables.UTCDateTime(), nullable=True),
        sa.Column("parked_at", leadgate.adapters.db.tables.UTCDateTime(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_inbox_event_id")),
    )
    op.create_index(
        "ix_inbox_waiting",
        "inbox",
        ["id"],
        sqlite_where=sa.text(_WAITING),
        postgresql_where=sa.text(_WAITING),
    )
    op.create_index(
        "ix_inbox_drained_at",
        "inbox",
        ["drained_at"],
        sqlite_where=sa.text(_DRAINED),
        postgresql_where=sa.text(_DRAINED),
    )
    op.create_index(
        "ix_inbox_parked",
        "inbox",
        ["id"],
        sqlite_where=sa.text(_PARKED),
        postgresql_where=sa.text(_PARKED),
    )


def downgrade() -> None:
    op.drop_index("ix_inbox_parked", table_name="inbox")
    op.drop_index("ix_inbox_drained_at", table_name="inbox")
    op.drop_index("ix_inbox_waiting", table_name="inbox")
    op.drop_table("inbox")
