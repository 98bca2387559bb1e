"""Predictive scoring: the model registry and each lead's probability.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import leadgate.adapters.db.tables

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "predictive_models",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("created_at", leadgate.adapters.db.tables.UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("target", sa.String(length=20), nullable=False),
        sa.Column("horizon_days", sa.Float(), nullable=False),
        sa.Column("algorithm", sa.String(length=50), nullable=False),
        sa.Column("metrics", _DOCUMENT, nullable=False),
        sa.Column("features", _DOCUMENT, nullable=False),
        sa.Column("training_from", leadgate.adapters.db.tables.UTCDateTime(), nullable=True),
        sa.Column("training_to", leadgate.adapters.db.tables.UTCDateTime(), nullable=True),
        sa.Column("scoring_model_version", sa.Integer(), nullable=True),
        sa.Column("artefact", sa.LargeBinary(), nullable=False),
        sa.Column("artefact_sha256", sa.String(length=64), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("activated_at", leadgate.adapters.db.tables.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_predictive_models")),
    )
    op.create_table(
        "predictive_scores",
        sa.Column("lead_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("scored_at", leadgate.adapters.db.tables.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["leads.id"],
            name=op.f("fk_predictive_scores_lead_id_leads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("lead_id", name=op.f("pk_predictive_scores")),
    )


def downgrade() -> None:
    op.drop_table("predictive_scores")
    op.drop_table("predictive_models")
