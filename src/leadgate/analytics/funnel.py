"""Funnel figures computed from transitions (never from the leads' stage column)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, and_, case, exists, func, select
from sqlalchemy.orm import aliased

from leadgate.adapters.db import tables as t
from leadgate.domain.lifecycle import Stage


@dataclass(frozen=True, slots=True)
class Conversion:
    """Of ``entered`` leads that ever entered ``from_stage``, ``converted`` later entered ``to``."""

    from_stage: Stage
    to_stage: Stage
    entered: int
    converted: int

    @property
    def rate(self) -> float | None:
        return self.converted / self.entered if self.entered else None


@dataclass(frozen=True, slots=True)
class FunnelSnapshot:
    """Leads in each stage now (from each lead's latest transition) and two conversions."""

    leads: int
    by_stage: dict[Stage, int]
    mql_to_sql: Conversion
    sql_to_opportunity: Conversion


def current_stages(connection: Connection) -> dict[Stage, int]:
    """Leads per current stage, where a lead's stage is the target of its latest transition."""
    tr = t.transitions
    ranked = select(
        tr.c.lead_id,
        tr.c.to_stage,
        func.row_number()
        .over(partition_by=tr.c.lead_id, order_by=(tr.c.occurred_at.desc(), tr.c.id.desc()))
        .label("rank"),
    ).subquery()
    rows = connection.execute(
        select(ranked.c.to_stage, func.count())
        .where(ranked.c.rank == 1)
        .group_by(ranked.c.to_stage)
    )
    counts = dict.fromkeys(Stage, 0)
    for stage, count in rows:
        counts[Stage(stage)] = count
    total = connection.execute(select(func.count()).select_from(t.leads)).scalar_one()
    counts[Stage.LEAD] += total - sum(counts.values())
    return counts


def conversion(connection: Connection, from_stage: Stage, to_stage: Stage) -> Conversion:
    """Leads that entered ``from_stage`` at some point, and of those, how many entered
    ``to_stage`` at or after their first entry into ``from_stage``."""
    tr = t.transitions
    later = aliased(tr)
    first = (
        select(tr.c.lead_id, func.min(tr.c.occurred_at).label("entered_at"))
        .where(tr.c.to_stage == from_stage.value)
        .group_by(tr.c.lead_id)
        .subquery()
    )
    converted = exists().where(
        and_(
            later.c.lead_id == first.c.lead_id,
            later.c.to_stage == to_stage.value,
            later.c.occurred_at >= first.c.entered_at,
        )
    )
    row = connection.execute(
        select(func.count(), func.coalesce(func.sum(case((converted, 1), else_=0)), 0)).select_from(
            first
        )
    ).one()
    return Conversion(from_stage, to_stage, int(row[0]), int(row[1]))


def snapshot(connection: Connection) -> FunnelSnapshot:
    """The demo's funnel summary."""
    by_stage = current_stages(connection)
    return FunnelSnapshot(
        leads=sum(by_stage.values()),
        by_stage=by_stage,
        mql_to_sql=conversion(connection, Stage.MQL, Stage.SQL),
        sql_to_opportunity=conversion(connection, Stage.SQL, Stage.OPPORTUNITY),
    )
