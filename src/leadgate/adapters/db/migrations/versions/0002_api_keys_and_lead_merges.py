"""API keys and lead merges.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 09:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import leadgate.adapters.db.tables

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", Id, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("prefix", sa.String(length=32), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.String(length=100), nullable=False),
        sa.Column("created_at", leadgate.adapters.db.tables.UTCDateTime(), nullable=False),
        sa.Column("revoked_at", leadgate.adapters.db.tables.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_table(
        "lead_merges",
        sa.Column("merged_id", Id, autoincrement=False, nullable=False),
        sa.Column("into_id", Id, nullable=False),
        sa.Column("merged_at", leadgate.adapters.db.tables.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["into_id"], ["leads.id"], name=op.f("fk_lead_merges_into_id_leads")
        ),
        sa.PrimaryKeyConstraint("merged_id", name=op.f("pk_lead_merges")),
    )
    op.create_index(op.f("ix_lead_merges_into_id"), "lead_merges", ["into_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_lead_merges_into_id"), table_name="lead_merges")
    op.drop_table("lead_merges")
    op.drop_table("api_keys")
