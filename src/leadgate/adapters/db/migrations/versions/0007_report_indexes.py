"""Touchpoints by lead in time order with the id as tie-break and the name, for signals.

The precursors of a transition are the names of the lead's last few touchpoints before
it, ordered by time and then id. ``touchpoints(lead_id, occurred_at)`` gave that order
only up to ties, so PostgreSQL read and sorted every touchpoint of the lead for each
transition, and both back ends read the table rows for the names.
``touchpoints(lead_id, occurred_at, id, name)`` replaces it (it serves every query the
old index served, being its extension): each transition reads its last few index
entries and stops, without visiting the table.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 12:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_touchpoints_lead_id_occurred_at_id_name"),
        "touchpoints",
        ["lead_id", "occurred_at", "id", "name"],
        unique=False,
    )
    op.drop_index(op.f("ix_touchpoints_lead_id_occurred_at"), table_name="touchpoints")


def downgrade() -> None:
    op.create_index(
        op.f("ix_touchpoints_lead_id_occurred_at"),
        "touchpoints",
        ["lead_id", "occurred_at"],
        unique=False,
    )
    op.drop_index(op.f("ix_touchpoints_lead_id_occurred_at_id_name"), table_name="touchpoints")
