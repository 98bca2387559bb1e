"""Touchpoints by lead in time order with the id as tie-break, for the signals report.

The precursors of a transition are the lead's last few touchpoints before it, ordered by
time and then id. ``touchpoints(lead_id, occurred_at)`` gave that order only up to ties,
so PostgreSQL read and sorted every touchpoint of the lead for each transition.
``touchpoints(lead_id, occurred_at, id)`` replaces it (it serves every query the old
index served, being its extension): each transition reads its last few index entries
and stops. On PostgreSQL the index also carries ``name`` (INCLUDE), so those reads do not
visit the table. SQLite keys every index by the rowid (the id) already; there the new
index is the old one with the id spelled out.

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
        op.f("ix_touchpoints_lead_id_occurred_at_id"),
        "touchpoints",
        ["lead_id", "occurred_at", "id"],
        unique=False,
        postgresql_include=["name"],
    )
    op.drop_index(op.f("ix_touchpoints_lead_id_occurred_at"), table_name="touchpoints")


def downgrade() -> None:
    op.create_index(
        op.f("ix_touchpoints_lead_id_occurred_at"),
        "touchpoints",
        ["lead_id", "occurred_at"],
        unique=False,
    )
    op.drop_index(op.f("ix_touchpoints_lead_id_occurred_at_id"), table_name="touchpoints")
