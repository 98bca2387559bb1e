"""Incremental lead state: what each lead's score and gates need, rolled forward per event.

``lead_states`` is derived, like ``scores``: an existing database gets its rows as each
lead is next qualified, or all at once from ``leadgate rescore`` (a missing row is rebuilt
from the lead's touchpoint log, so nothing is wrong in between, only slower once).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08 01:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import leadgate.adapters.db.tables

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "lead_states",
        sa.Column("lead_id", _ID, nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("updated_at", leadgate.adapters.db.tables.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_lead_states_lead_id_leads")
        ),
        sa.PrimaryKeyConstraint("lead_id", name=op.f("pk_lead_states")),
    )


def downgrade() -> None:
    op.drop_table("lead_states")
