"""Stage entries from the transition log: the building blocks of funnel, velocity,
signals and attribution.

* A lead **enters** a stage by a transition into it. It enters ``lead`` when it is
  created (``leads.created_at``) and on a (rare, manual) transition back to ``lead``.
* Its **first entry** into a stage is the earliest of those entries, ordered by time and
  then by transition id (a gate can move a lead through two stages in one instant).
* A **cohort** of a stage and a period is the leads whose first entry into the stage
  falls in the period: one row per lead, however often it entered before or after.

Queries start from the transitions inside the period (index ``to_stage, occurred_at``)
and look back per lead (index ``lead_id, occurred_at``), so their cost follows the
period's activity, not the size of the whole log.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    and_,
    case,
    exists,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Select, Subquery

from leadgate.adapters.db import tables as t
from leadgate.analytics.periods import Period
from leadgate.analytics.sql import DAY_SECONDS, seconds_between
from leadgate.domain.lifecycle import Stage

# The main line, and the conversions the funnel reports (the three, in order).
MAIN_STAGES = (Stage.LEAD, Stage.MQL, Stage.SQL, Stage.OPPORTUNITY, Stage.CUSTOMER)
SIDE_STAGES = (Stage.RECYCLED, Stage.DISQUALIFIED, Stage.LOST)
FUNNEL_STAGES = MAIN_STAGES + SIDE_STAGES
CONVERSIONS: tuple[tuple[Stage, Stage], ...] = (
    (Stage.MQL, Stage.SQL),
    (Stage.SQL, Stage.OPPORTUNITY),
    (Stage.OPPORTUNITY, Stage.CUSTOMER),
)


def _earlier_entry(
    stage: ColumnElement[Any], lead_id: ColumnElement[Any], at: ColumnElement[Any], id_: Any
) -> ColumnElement[bool]:
    """An entry into ``stage`` by the same lead before (``at``, ``id_``)."""
    p = aliased(t.transitions)
    return exists().where(
        p.c.lead_id == lead_id,
        p.c.to_stage == stage,
        or_(p.c.occurred_at < at, and_(p.c.occurred_at == at, p.c.id < id_)),
    )


def stage_entries(period: Period, stages: tuple[Stage, ...]) -> Subquery:
    """Every entry into ``stages`` inside the period: ``lead_id``, ``stage``, ``at``,
    ``model_version`` and ``first`` (1 when it is the lead's first entry into that stage).

    Creation counts as the first entry into ``lead`` (with no model version).
    """
    tr = t.transitions
    moved = select(
        tr.c.lead_id,
        tr.c.to_stage.label("stage"),
        tr.c.occurred_at.label("at"),
        tr.c.model_version,
        # Into ``lead`` is never a first entry: creation came before it.
        flag(
            ~_earlier_entry(tr.c.to_stage, tr.c.lead_id, tr.c.occurred_at, tr.c.id)
            & (tr.c.to_stage != Stage.LEAD.value)
        ).label("first"),
    ).where(
        tr.c.to_stage.in_([s.value for s in stages]),
        tr.c.occurred_at >= period.start,
        tr.c.occurred_at < period.end,
    )
    if Stage.LEAD not in stages:
        return moved.subquery("entries")
    lead = t.leads
    created = select(
        lead.c.id.label("lead_id"),
        literal(Stage.LEAD.value).label("stage"),
        lead.c.created_at.label("at"),
        null().cast(Integer).label("model_version"),
        literal(1).label("first"),
    ).where(lead.c.created_at >= period.start, lead.c.created_at < period.end)
    return union_all(moved, created).subquery("entries")


def first_entries(period: Period, stage: Stage) -> Select[Any]:
    """The cohort of ``stage`` in the period: one row per lead whose first entry into it
    falls in the period, with ``lead_id``, ``at`` (that entry), ``entry_id`` (its
    transition id, None for creation) and ``model_version``."""
    if stage is Stage.LEAD:
        lead = t.leads
        return select(
            lead.c.id.label("lead_id"),
            lead.c.created_at.label("at"),
            null().cast(Integer).label("entry_id"),
            null().cast(Integer).label("model_version"),
        ).where(lead.c.created_at >= period.start, lead.c.created_at < period.end)
    tr = t.transitions
    return select(
        tr.c.lead_id,
        tr.c.occurred_at.label("at"),
        tr.c.id.label("entry_id"),
        tr.c.model_version,
    ).where(
        tr.c.to_stage == stage.value,
        tr.c.occurred_at >= period.start,
        tr.c.occurred_at < period.end,
        ~_earlier_entry(literal(stage.value), tr.c.lead_id, tr.c.occurred_at, tr.c.id),
    )


def entered_after(
    connection: Connection,
    lead_id: ColumnElement[Any],
    since: ColumnElement[Any],
    stage: Stage,
    within_days: float | None = None,
) -> ColumnElement[bool]:
    """The lead entered ``stage`` at or after ``since`` (and, with ``within_days``, at most
    that many days after it)."""
    later = aliased(t.transitions)
    conditions = [
        later.c.lead_id == lead_id,
        later.c.to_stage == stage.value,
        later.c.occurred_at >= since,
    ]
    if within_days is not None:
        conditions.append(
            seconds_between(connection, since, later.c.occurred_at) <= within_days * DAY_SECONDS
        )
    return exists().where(*conditions)


def flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """A condition as 1/0, to sum (booleans do not sum on PostgreSQL)."""
    return case((condition, 1), else_=0)
