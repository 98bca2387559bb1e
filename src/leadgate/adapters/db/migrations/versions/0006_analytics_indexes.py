"""Indexes for the analytics read side at a million leads.

* ``transitions(lead_id, to_stage, occurred_at, id)``: every "first entry" check (is there
  an earlier entry of this lead into this stage?), every "entered later" check and the
  latest MQL entry before a conversion are answered from this index alone, without
  reading the transition rows.
* ``leads(created_at)``: the leads created in a period (their entry into ``lead``) are a
  range of this index instead of a scan of every lead.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 10:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_transitions_lead_id_to_stage_occurred_at_id"),
        "transitions",
        ["lead_id", "to_stage", "occurred_at", "id"],
        unique=False,
    )
    op.create_index(op.f("ix_leads_created_at"), "leads", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_leads_created_at"), table_name="leads")
    op.drop_index(op.f("ix_transitions_lead_id_to_stage_occurred_at_id"), table_name="transitions")
