"""The funnel over a period: stage entries and cohort conversions, optionally by dimension.

Definitions (docs/analytics.md, "Funnel"):

* **entries** of a stage: transitions into it inside the period (and, for ``lead``, leads
  created in it); **leads**: distinct leads among them; **first entries**: entries that
  were the lead's first ever into that stage (new to the stage).
* **cohort conversion** A → B: the cohort is the leads whose first entry into A falls in
  the period; **converted** are those that entered B at or after that first entry (at any
  time up to now, or within ``within_days`` of it). A lead that skipped A (lead → sql) is
  in no A cohort. Recent cohorts keep converting: the rate of a period still open grows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select

from leadgate.analytics.dimensions import Dimension, group_order, grouped
from leadgate.analytics.entries import (
    CONVERSIONS,
    FUNNEL_STAGES,
    entered_after,
    first_entries,
    flag,
    stage_entries,
)
from leadgate.analytics.output import Table, rounded
from leadgate.analytics.periods import Period
from leadgate.analytics.sql import tuned_for_reads
from leadgate.analytics.stats import ratio
from leadgate.domain.lifecycle import Stage


@dataclass(frozen=True, slots=True)
class StageEntries:
    """Entries into one stage in the period, for one group (None without a breakdown)."""

    group: str | None
    stage: Stage
    entries: int
    leads: int
    first_entries: int


@dataclass(frozen=True, slots=True)
class CohortConversion:
    """Of ``cohort`` leads first entering ``from_stage`` in the period, ``converted``
    entered ``to_stage`` afterwards (within the report's ``within_days`` when set)."""

    group: str | None
    from_stage: Stage
    to_stage: Stage
    cohort: int
    converted: int

    @property
    def rate(self) -> float | None:
        return ratio(self.converted, self.cohort)


@dataclass(frozen=True, slots=True)
class FunnelReport:
    """Stage entries and cohort conversions; one row per group × stage (or pair), with
    zeros where a group had none, groups in ``group_order``."""

    period: Period
    by: Dimension | None
    within_days: float | None
    stages: tuple[StageEntries, ...]
    conversions: tuple[CohortConversion, ...]

    def stage(self, stage: Stage, group: str | None = None) -> StageEntries:
        """The row of one stage (and group)."""
        return next(r for r in self.stages if r.stage is stage and r.group == group)

    def conversion(
        self, from_stage: Stage, to_stage: Stage, group: str | None = None
    ) -> CohortConversion:
        """The row of one conversion (and group)."""
        return next(
            r
            for r in self.conversions
            if r.from_stage is from_stage and r.to_stage is to_stage and r.group == group
        )

    def tables(self) -> tuple[Table, ...]:
        group = str(self.by) if self.by else "group"
        return (
            Table.of(
                "stages",
                (group, "stage", "entries", "leads", "first_entries"),
                ((r.group, r.stage, r.entries, r.leads, r.first_entries) for r in self.stages),
            ),
            Table.of(
                "conversions",
                (group, "from_stage", "to_stage", "cohort", "converted", "rate"),
                (
                    (r.group, r.from_stage, r.to_stage, r.cohort, r.converted, rounded(r.rate))
                    for r in self.conversions
                ),
            ),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "period": self.period.to_json(),
            "by": self.by.value if self.by else None,
            "within_days": self.within_days,
            **{table.name: table.to_json() for table in self.tables()},
        }


def funnel_report(
    connection: Connection,
    period: Period,
    *,
    by: Dimension | None = None,
    within_days: float | None = None,
) -> FunnelReport:
    """Stage entries and the MQL → SQL, SQL → opportunity and opportunity → customer (won)
    cohort conversions of the period, optionally broken down ``by`` a dimension.

    ``within_days`` counts a conversion only if it came at most that many days after the
    cohort entry. Example::

        report = funnel_report(c, Period(march_1, april_1), by=Dimension.SOURCE_CHANNEL)
        report.conversion(Stage.MQL, Stage.SQL, "paid_search").rate  # e.g. 0.42
    """
    if within_days is not None and within_days < 0:
        raise ValueError(f"within_days must not be negative (got {within_days})")
    with tuned_for_reads(connection):
        entries = stage_entries(period, FUNNEL_STAGES)
        source, key = grouped(connection, entries, by)
        columns = [entries.c.stage, func.count(), func.count(func.distinct(entries.c.lead_id))]
        columns.append(func.coalesce(func.sum(entries.c.first), 0))
        keys = [key] if key is not None else []
        query = select(*keys, *columns).select_from(source).group_by(*keys, entries.c.stage)
        counted: dict[tuple[str | None, str], tuple[int, int, int]] = {}
        for row in connection.execute(query):
            group = row[0] if key is not None else None
            stage, entered, leads, first = row[-4:]
            counted[(group, stage)] = (int(entered), int(leads), int(first))

        converted: dict[tuple[str | None, Stage, Stage], tuple[int, int]] = {}
        for from_stage, to_stage in CONVERSIONS:
            cohort = first_entries(period, from_stage).subquery("cohort")
            source, key = grouped(connection, cohort, by)
            keys = [key] if key is not None else []
            done = entered_after(connection, cohort.c.lead_id, cohort.c.at, to_stage, within_days)
            query = (
                select(*keys, func.count(), func.coalesce(func.sum(flag(done)), 0))
                .select_from(source)
                .group_by(*keys)
            )
            for row in connection.execute(query):
                group = row[0] if key is not None else None
                converted[(group, from_stage, to_stage)] = (int(row[-2]), int(row[-1]))

    groups: set[str | None] = {g for g, _ in counted} | {g for g, _, _ in converted}
    if by is None:
        groups = {None}
    ordered = sorted(groups, key=group_order)
    stages = tuple(
        StageEntries(group, stage, *counted.get((group, stage.value), (0, 0, 0)))
        for group in ordered
        for stage in FUNNEL_STAGES
    )
    conversions = tuple(
        CohortConversion(group, a, b, *converted.get((group, a, b), (0, 0)))
        for group in ordered
        for a, b in CONVERSIONS
    )
    return FunnelReport(period, by, within_days, stages, conversions)
