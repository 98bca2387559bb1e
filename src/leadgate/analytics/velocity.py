"""Velocity: how long leads take from one stage to the next, and how long they stay.

Definitions (docs/analytics.md, "Velocity"):

* **step A → B**: over the leads whose first entry into B falls in the period and who
  entered A at or before it, the time from their first entry into A (for ``lead``: the
  lead's creation) to that first entry into B. A lead that skipped A is not counted.
* **time in stage**: over the stays that ended in the period (a transition out of the
  stage), the time from entering the stage (the lead's previous transition, or its
  creation) to leaving it. Stays still open are not counted.

Median, 75th and 90th percentile and mean are in days. A breakdown reads the dimension at
the moment the step completed (B's entry, the exit).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, null, or_, select
from sqlalchemy.orm import aliased

from leadgate.adapters.db import tables as t
from leadgate.analytics.dimensions import Dimension, group_order, grouped
from leadgate.analytics.entries import FUNNEL_STAGES, first_entries
from leadgate.analytics.output import Table
from leadgate.analytics.periods import Period
from leadgate.analytics.sql import DAY_SECONDS, seconds_between, tuned_for_reads
from leadgate.analytics.stats import Durations
from leadgate.domain.lifecycle import Stage

STEPS: tuple[tuple[Stage, Stage], ...] = (
    (Stage.LEAD, Stage.MQL),
    (Stage.MQL, Stage.SQL),
    (Stage.SQL, Stage.OPPORTUNITY),
    (Stage.OPPORTUNITY, Stage.CUSTOMER),
)


@dataclass(frozen=True, slots=True)
class StepVelocity:
    """Days from first entering ``from_stage`` to first entering ``to_stage``."""

    group: str | None
    from_stage: Stage
    to_stage: Stage
    days: Durations


@dataclass(frozen=True, slots=True)
class StageTime:
    """Days spent in ``stage`` by the stays that ended in the period."""

    group: str | None
    stage: Stage
    days: Durations


@dataclass(frozen=True, slots=True)
class VelocityReport:
    period: Period
    by: Dimension | None
    steps: tuple[StepVelocity, ...]
    stages: tuple[StageTime, ...]

    def step(self, from_stage: Stage, to_stage: Stage, group: str | None = None) -> StepVelocity:
        return next(
            s
            for s in self.steps
            if s.from_stage is from_stage and s.to_stage is to_stage and s.group == group
        )

    def stage(self, stage: Stage, group: str | None = None) -> StageTime:
        return next(s for s in self.stages if s.stage is stage and s.group == group)

    def tables(self) -> tuple[Table, ...]:
        group = str(self.by) if self.by else "group"
        figures = ("median_days", "p75_days", "p90_days", "mean_days")

        def numbers(d: Durations) -> tuple[Any, ...]:
            return (d.count, d.median, d.p75, d.p90, d.mean)

        return (
            Table.of(
                "steps",
                (group, "from_stage", "to_stage", "leads", *figures),
                ((s.group, s.from_stage, s.to_stage, *numbers(s.days)) for s in self.steps),
            ),
            Table.of(
                "time_in_stage",
                (group, "stage", "stays", *figures),
                ((s.group, s.stage, *numbers(s.days)) for s in self.stages),
            ),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "period": self.period.to_json(),
            "by": self.by.value if self.by else None,
            **{table.name: table.to_json() for table in self.tables()},
        }


def velocity_report(
    connection: Connection, period: Period, *, by: Dimension | None = None
) -> VelocityReport:
    """Step times lead → MQL → SQL → opportunity → customer and time in each stage.

    Percentiles are computed in Python over one duration per lead (SQLite has no
    percentile function); the SQL returns one number per row, the duration in seconds
    (rounded to the millisecond on SQLite). Example::

        report = velocity_report(c, Period(march_1, april_1))
        report.step(Stage.MQL, Stage.SQL).days.median  # e.g. 3.5 (days)
    """
    with tuned_for_reads(connection):
        steps = _steps(connection, period, by)
        stays = _stays(connection, period, by)
    groups: set[str | None] = {g for g, _, _ in steps} | {g for g, _ in stays}
    if by is None:
        groups = {None}
    ordered = sorted(groups, key=group_order)
    return VelocityReport(
        period,
        by,
        tuple(
            StepVelocity(g, a, b, Durations.of(steps.get((g, a, b), [])))
            for g in ordered
            for a, b in STEPS
        ),
        tuple(
            StageTime(g, s, Durations.of(stays.get((g, s.value), [])))
            for g in ordered
            for s in FUNNEL_STAGES
        ),
    )


def _steps(
    connection: Connection, period: Period, by: Dimension | None
) -> dict[tuple[str | None, Stage, Stage], list[float]]:
    """Days each step took, per (group, from, to)."""
    steps: dict[tuple[str | None, Stage, Stage], list[float]] = defaultdict(list)
    for from_stage, to_stage in STEPS:
        ends = first_entries(period, to_stage).subquery("ends")
        if from_stage is Stage.LEAD:
            started = (
                select(t.leads.c.created_at)
                .where(t.leads.c.id == ends.c.lead_id)
                .correlate(ends)  # not the leads a breakdown joins in
                .scalar_subquery()
            )
        else:
            a = aliased(t.transitions)
            started = (
                select(func.min(a.c.occurred_at))
                .where(
                    a.c.lead_id == ends.c.lead_id,
                    a.c.to_stage == from_stage.value,
                    a.c.occurred_at <= ends.c.at,
                )
                .scalar_subquery()
            )
        source, key = grouped(connection, ends, by)
        # One float per lead (NULL: it skipped the earlier stage), not two timestamps:
        # decoding the times cost more than the query.
        took = seconds_between(connection, started, ends.c.at)
        group = key if key is not None else null()
        inner = select(group, took).select_from(source)
        for name, seconds in connection.execute(inner):
            if seconds is not None:  # None: never in the earlier stage, it skipped it
                steps[(name, from_stage, to_stage)].append(seconds / DAY_SECONDS)
    return steps


def _stays(
    connection: Connection, period: Period, by: Dimension | None
) -> dict[tuple[str | None, str], list[float]]:
    """Days of each stay that ended in the period, per (group, stage left)."""
    stays: dict[tuple[str | None, str], list[float]] = defaultdict(list)
    tr = t.transitions
    exits = (
        select(
            tr.c.id,
            tr.c.lead_id,
            tr.c.from_stage,
            tr.c.occurred_at.label("at"),
            tr.c.model_version,
        )
        .where(
            # Every stage named so the (to_stage, occurred_at) index serves the period.
            tr.c.to_stage.in_([s.value for s in FUNNEL_STAGES]),
            tr.c.occurred_at >= period.start,
            tr.c.occurred_at < period.end,
        )
        .subquery("exits")
    )
    p = aliased(t.transitions)
    previous = (
        select(func.max(p.c.occurred_at))
        .where(
            p.c.lead_id == exits.c.lead_id,
            # The bound alone makes an index range; the OR breaks ties on the instant.
            p.c.occurred_at <= exits.c.at,
            or_(p.c.occurred_at < exits.c.at, p.c.id < exits.c.id),
        )
        .scalar_subquery()
    )
    created = (
        select(t.leads.c.created_at)
        .where(t.leads.c.id == exits.c.lead_id)
        .correlate(exits)  # not the leads a breakdown joins in
        .scalar_subquery()
    )
    stayed = seconds_between(connection, func.coalesce(previous, created), exits.c.at)
    source, key = grouped(connection, exits, by)
    group = key if key is not None else null()
    query = select(group, exits.c.from_stage, stayed).select_from(source)
    for name, stage, seconds in connection.execute(query):
        if seconds is not None:  # None: a transition of a lead that no longer exists
            stays[(name, stage)].append(seconds / DAY_SECONDS)
    return stays
