"""Handoff and SLA figures, and why sales sends leads back.

Definitions (docs/analytics.md, "Handoff and SLA" and "Reasons"):

* The handoffs of a period are those **created** in it (a reassignment after a breach is
  a new handoff, created when it happened).
* **Speed to lead**: ``first_touch_at − created_at`` of the handoffs that were touched, in
  wall-clock hours (the SLA itself counts business hours of the team's calendar). The first
  touch is the owner's first sales touchpoint, an explicitly recorded touch, or the answer
  (accept / recycle / disqualify) when nothing came before.
* **SLA met rate**: met ÷ (met + breached) among handoffs with an SLA deadline; handoffs
  still open are left out, not counted as met.
* **Acceptance rate**: accepted ÷ (accepted + rejected); pending and reassigned handoffs
  are left out.
* **Exits** of a stage in the period: transitions out of it; the **recycle rate** of MQL
  is the share of MQL exits that went to ``recycled``, and so on.
* A **reason** is what sales gave in the outcome recorded with the move (``bad_timing``),
  else the transition's own reason text.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, case, func, select
from sqlalchemy.orm import aliased

from leadgate.adapters.db import tables as t
from leadgate.analytics.dimensions import group_order
from leadgate.analytics.output import Table, rounded
from leadgate.analytics.periods import Period
from leadgate.analytics.sql import seconds_between
from leadgate.analytics.stats import Durations, ratio
from leadgate.domain.lifecycle import Stage

_HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class SlaGroup:
    """SLA figures of the handoffs of one rep (``kind`` rep; None: the team queue) or team."""

    kind: str
    name: str | None
    handoffs: int
    met: int
    breached: int
    open: int
    speed_hours: Durations

    @property
    def met_rate(self) -> float | None:
        return ratio(self.met, self.met + self.breached)


@dataclass(frozen=True, slots=True)
class SlaReport:
    """Handoffs created in the period: speed to lead, SLA outcome, acceptance."""

    period: Period
    handoffs: int
    touched: int
    speed_hours: Durations
    met: int
    breached: int
    open: int
    without_sla: int
    accepted: int
    rejected: int
    pending: int
    reassigned: int
    by_rep: tuple[SlaGroup, ...]
    by_team: tuple[SlaGroup, ...]

    @property
    def met_rate(self) -> float | None:
        return ratio(self.met, self.met + self.breached)

    @property
    def acceptance_rate(self) -> float | None:
        return ratio(self.accepted, self.accepted + self.rejected)

    def tables(self) -> tuple[Table, ...]:
        s = self.speed_hours
        summary = (
            ("handoffs", self.handoffs),
            ("touched", self.touched),
            ("speed_to_lead_median_hours", s.median),
            ("speed_to_lead_p90_hours", s.p90),
            ("sla_met", self.met),
            ("sla_breached", self.breached),
            ("sla_open", self.open),
            ("without_sla", self.without_sla),
            ("sla_met_rate", rounded(self.met_rate)),
            ("accepted", self.accepted),
            ("rejected", self.rejected),
            ("pending", self.pending),
            ("reassigned", self.reassigned),
            ("acceptance_rate", rounded(self.acceptance_rate)),
        )
        columns = (
            "handoffs",
            "met",
            "breached",
            "open",
            "met_rate",
            "median_hours",
            "p90_hours",
        )

        def numbers(g: SlaGroup) -> tuple[Any, ...]:
            return (
                g.handoffs,
                g.met,
                g.breached,
                g.open,
                rounded(g.met_rate),
                g.speed_hours.median,
                g.speed_hours.p90,
            )

        return (
            Table.of("summary", ("figure", "value"), summary),
            Table.of("by_rep", ("rep", *columns), ((g.name, *numbers(g)) for g in self.by_rep)),
            Table.of("by_team", ("team", *columns), ((g.name, *numbers(g)) for g in self.by_team)),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "period": self.period.to_json(),
            **{table.name: table.to_json() for table in self.tables()},
        }


def sla_report(connection: Connection, period: Period) -> SlaReport:
    """Speed to lead, SLA met rate, breaches by rep and team, acceptance of the handoffs
    created in the period. Example::

        report = sla_report(c, Period(march_1, april_1))
        report.speed_hours.median, report.met_rate, report.by_rep[0].breached
    """
    h = t.handoffs
    in_period = (h.c.created_at >= period.start, h.c.created_at < period.end)
    has_sla = h.c.due_at.is_not(None)
    sla = case((has_sla, h.c.sla_status), else_=None)
    counts = (
        select(h.c.team, h.c.owner, h.c.status, sla.label("sla"), func.count())
        .where(*in_period)
        .group_by(h.c.team, h.c.owner, h.c.status, sla)
    )
    statuses: dict[str, int] = defaultdict(int)
    slas: dict[str | None, int] = defaultdict(int)
    groups: dict[tuple[str, str | None], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for team, owner, status, outcome, count in connection.execute(counts):
        statuses[status] += count
        slas[outcome] += count
        for key in (("rep", owner), ("team", team)):
            groups[key]["handoffs"] += count
            if outcome is not None:
                groups[key][outcome] += count

    # Speeds: one narrow row per touched handoff, for the percentiles.
    speed = seconds_between(connection, h.c.created_at, h.c.first_touch_at)
    speeds: dict[tuple[str, str | None], list[float]] = defaultdict(list)
    everyone: list[float] = []
    for team, owner, seconds in connection.execute(
        select(h.c.team, h.c.owner, speed).where(*in_period, h.c.first_touch_at.is_not(None))
    ):
        hours = float(seconds) / _HOUR
        everyone.append(hours)
        speeds[("rep", owner)].append(hours)
        speeds[("team", team)].append(hours)

    def group_rows(kind: str) -> tuple[SlaGroup, ...]:
        names = sorted((name for k, name in groups if k == kind), key=group_order)
        return tuple(
            SlaGroup(
                kind,
                name,
                groups[(kind, name)]["handoffs"],
                groups[(kind, name)]["met"],
                groups[(kind, name)]["breached"],
                groups[(kind, name)]["open"],
                Durations.of(speeds.get((kind, name), [])),
            )
            for name in names
        )

    return SlaReport(
        period=period,
        handoffs=sum(statuses.values()),
        touched=len(everyone),
        speed_hours=Durations.of(everyone),
        met=slas["met"],
        breached=slas["breached"],
        open=slas["open"],
        without_sla=slas[None],
        accepted=statuses["accepted"],
        rejected=statuses["rejected"],
        pending=statuses["pending"],
        reassigned=statuses["reassigned"],
        by_rep=group_rows("rep"),
        by_team=group_rows("team"),
    )


# The stages whose exits the reasons report counts, and the step forward out of each.
EXIT_STAGES: dict[Stage, Stage] = {
    Stage.MQL: Stage.SQL,
    Stage.SQL: Stage.OPPORTUNITY,
    Stage.OPPORTUNITY: Stage.CUSTOMER,
}
# The stages sales sends a lead to with a reason, and the outcome kind that records it.
REASONED: dict[Stage, str] = {
    Stage.RECYCLED: "recycled",
    Stage.DISQUALIFIED: "disqualified",
    Stage.LOST: "lost",
}


@dataclass(frozen=True, slots=True)
class StageExits:
    """Transitions out of ``stage`` in the period, by where they went."""

    stage: Stage
    exits: int
    advanced: int
    recycled: int
    disqualified: int
    lost: int

    @property
    def other(self) -> int:
        """Exits elsewhere (manual overrides)."""
        return self.exits - self.advanced - self.recycled - self.disqualified - self.lost

    @property
    def advance_rate(self) -> float | None:
        return ratio(self.advanced, self.exits)

    @property
    def recycle_rate(self) -> float | None:
        return ratio(self.recycled, self.exits)

    @property
    def disqualify_rate(self) -> float | None:
        return ratio(self.disqualified, self.exits)

    @property
    def lost_rate(self) -> float | None:
        return ratio(self.lost, self.exits)


@dataclass(frozen=True, slots=True)
class ReasonCount:
    """How often ``reason`` was given for moving leads from ``from_stage`` to ``to_stage``;
    ``share`` of all such moves in the period."""

    from_stage: Stage
    to_stage: Stage
    reason: str
    count: int
    share: float


@dataclass(frozen=True, slots=True)
class ReasonsReport:
    period: Period
    exits: tuple[StageExits, ...]
    reasons: tuple[ReasonCount, ...]

    def stage(self, stage: Stage) -> StageExits:
        return next(e for e in self.exits if e.stage is stage)

    def tables(self) -> tuple[Table, ...]:
        return (
            Table.of(
                "exits",
                (
                    "stage",
                    "exits",
                    "advanced",
                    "recycled",
                    "disqualified",
                    "lost",
                    "other",
                    "advance_rate",
                    "recycle_rate",
                    "disqualify_rate",
                    "lost_rate",
                ),
                (
                    (
                        e.stage,
                        e.exits,
                        e.advanced,
                        e.recycled,
                        e.disqualified,
                        e.lost,
                        e.other,
                        rounded(e.advance_rate),
                        rounded(e.recycle_rate),
                        rounded(e.disqualify_rate),
                        rounded(e.lost_rate),
                    )
                    for e in self.exits
                ),
            ),
            Table.of(
                "reasons",
                ("from_stage", "to_stage", "reason", "count", "share"),
                (
                    (r.from_stage, r.to_stage, r.reason, r.count, rounded(r.share))
                    for r in self.reasons
                ),
            ),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "period": self.period.to_json(),
            **{table.name: table.to_json() for table in self.tables()},
        }


def reasons_report(connection: Connection, period: Period) -> ReasonsReport:
    """Where MQLs, SQLs and opportunities went in the period (advance, recycle, disqualify,
    lost rates) and the reasons given for recycling, disqualifying and losing. Example::

        report = reasons_report(c, Period(march_1, april_1))
        report.stage(Stage.MQL).recycle_rate, report.reasons[0].reason
    """
    tr = t.transitions
    in_period = (tr.c.occurred_at >= period.start, tr.c.occurred_at < period.end)
    exits_query = (
        select(tr.c.from_stage, tr.c.to_stage, func.count())
        .where(*in_period, tr.c.from_stage.in_([s.value for s in EXIT_STAGES]))
        # Naming every target lets the (to_stage, occurred_at) index serve the period.
        .where(tr.c.to_stage.in_([s.value for s in Stage]))
        .group_by(tr.c.from_stage, tr.c.to_stage)
    )
    moved: dict[Stage, dict[str, int]] = {s: defaultdict(int) for s in EXIT_STAGES}
    for from_stage, to_stage, count in connection.execute(exits_query):
        moved[Stage(from_stage)][to_stage] += count
    exits = tuple(
        StageExits(
            stage,
            sum(moved[stage].values()),
            moved[stage][EXIT_STAGES[stage].value],
            moved[stage][Stage.RECYCLED.value],
            moved[stage][Stage.DISQUALIFIED.value],
            moved[stage][Stage.LOST.value],
        )
        for stage in EXIT_STAGES
    )

    o = aliased(t.outcomes)
    kind = case({stage.value: kind for stage, kind in REASONED.items()}, value=tr.c.to_stage)
    # The outcome written with the move: same lead, same kind, same moment.
    given = (
        select(o.c.reason)
        .where(
            o.c.lead_id == tr.c.lead_id,
            o.c.kind == kind,
            o.c.occurred_at == tr.c.occurred_at,
            o.c.reason.is_not(None),
        )
        .order_by(o.c.id)
        .limit(1)
        .scalar_subquery()
    )
    reason = func.coalesce(given, tr.c.reason).label("reason")
    inner = (
        select(tr.c.from_stage, tr.c.to_stage, reason)
        .where(*in_period, tr.c.to_stage.in_([s.value for s in REASONED]))
        .subquery()
    )
    reasons_query = select(
        inner.c.from_stage, inner.c.to_stage, inner.c.reason, func.count()
    ).group_by(inner.c.from_stage, inner.c.to_stage, inner.c.reason)
    counted = [
        (Stage(a), Stage(b), str(why), int(n)) for a, b, why, n in connection.execute(reasons_query)
    ]
    totals: dict[tuple[Stage, Stage], int] = defaultdict(int)
    for a, b, _, n in counted:
        totals[(a, b)] += n
    order = {s: i for i, s in enumerate(Stage)}
    reasons = tuple(
        ReasonCount(a, b, why, n, n / totals[(a, b)])
        for a, b, why, n in sorted(counted, key=lambda r: (order[r[1]], order[r[0]], -r[3], r[2]))
    )
    return ReasonsReport(period, exits, reasons)
