"""Merging two leads that turned out to be one person."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, delete, insert, select, update

from leadgate.adapters.db import tables as t

# What a survivor takes from the merged lead when it has no value of its own: where the
# person first came from is usually known only on the anonymous side.
_FILL = ("source_channel", "source_campaign", "country", "first_name", "last_name", "title")


class SqlLeadMergeRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def merge(self, pairs: Sequence[tuple[int, int]], now: datetime) -> None:
        """For each (merged, into): move identities, touchpoints, transitions, handoffs,
        outcomes, audience memberships and queued notifications to the survivor, fill its
        empty profile fields and traits, drop the merged lead, and keep a redirect from the
        old id."""
        for merged, into in pairs:
            self._move_handoff_records(merged, into, now)
            for table in (
                t.identities,
                t.touchpoints,
                t.transitions,
                t.handoffs,
                t.outcomes,
                t.audience_members,
                t.outbox,
            ):
                self._c.execute(update(table).where(table.c.lead_id == merged).values(lead_id=into))
            rows = {
                row.id: row
                for row in self._c.execute(
                    select(t.leads.c.id, t.leads.c.traits, *(t.leads.c[f] for f in _FILL)).where(
                        t.leads.c.id.in_([merged, into])
                    )
                )
            }
            old, new = rows.get(merged), rows.get(into)
            if old is not None and new is not None:
                values: dict[str, object] = {
                    f: getattr(old, f)
                    for f in _FILL
                    if getattr(new, f) is None and getattr(old, f) is not None
                }
                if old.traits:
                    values["traits"] = {**old.traits, **(new.traits or {})}
                if values:
                    values["updated_at"] = now
                    self._c.execute(update(t.leads).where(t.leads.c.id == into).values(**values))
            self._c.execute(delete(t.scores).where(t.scores.c.lead_id == merged))
            # Both states are rebuilt from the joined log when the survivor is next scored.
            self._c.execute(
                delete(t.lead_states).where(t.lead_states.c.lead_id.in_([merged, into]))
            )
            # Earlier redirects to the merged lead now point at the survivor.
            self._c.execute(
                update(t.lead_merges).where(t.lead_merges.c.into_id == merged).values(into_id=into)
            )
            self._c.execute(delete(t.leads).where(t.leads.c.id == merged))
            self._c.execute(
                insert(t.lead_merges).values(merged_id=merged, into_id=into, merged_at=now)
            )

    def _move_handoff_records(self, merged: int, into: int, now: datetime) -> None:
        """Make room for the merged lead's handoffs and memberships on the survivor."""
        # A lead has one pending handoff at most: the survivor's stays, the merged one's
        # closes (it was for the same person).
        survivor_pending = self._c.execute(
            select(t.handoffs.c.id).where(
                t.handoffs.c.lead_id == into, t.handoffs.c.status == "pending"
            )
        ).first()
        if survivor_pending is not None:
            self._c.execute(
                update(t.handoffs)
                .where(t.handoffs.c.lead_id == merged, t.handoffs.c.status == "pending")
                .values(status="rejected", closed_at=now)
            )
        # An audience both were in keeps the survivor's membership only.
        self._c.execute(
            delete(t.audience_members).where(
                t.audience_members.c.lead_id == merged,
                t.audience_members.c.audience_id.in_(
                    select(t.audience_members.c.audience_id).where(
                        t.audience_members.c.lead_id == into
                    )
                ),
            )
        )

    def merged_into(self, lead_id: int) -> int | None:
        """The lead a merged id now lives on, or None when it was never merged."""
        return self._c.execute(
            select(t.lead_merges.c.into_id).where(t.lead_merges.c.merged_id == lead_id)
        ).scalar_one_or_none()
