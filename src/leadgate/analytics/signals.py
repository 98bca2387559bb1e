"""Signals: which engagement rules and touchpoint types go with MQLs that become SQLs, and
which touchpoints come just before each kind of transition.

Definitions (docs/analytics.md, "Signals"):

* The **cohort** is the leads whose first MQL entry falls in the period; a cohort lead
  **converted** if it entered SQL at or after that entry (within ``within_days`` if set).
* A lead **had** a touchpoint type if it had a touchpoint of that name at or before its
  MQL entry. It **had** an engagement rule if the rule matched such a touchpoint (name
  and ``where`` conditions, as scoring matches them); for a count rule, if at some moment
  before the MQL entry its count held (at least N matches within its window). Look-back
  windows, decay and caps do not matter here: the question is "did it happen before".
* For each signal: conversion of the leads that had it and of those that did not, each
  with a 95% Wilson interval, and the **lift** (difference of the two rates). Signals are
  correlations in the data, not causes: a signal many converting leads share can still
  be a consequence of interest, not its source.
* **Precursors**: for each transition (from → to) in the period, the lead's ``last``
  touchpoints at or before it, within ``window_days``; a touchpoint type's **share** is
  the fraction of those transitions where it was among them.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, case, func, select
from sqlalchemy.sql.selectable import Subquery

from leadgate.adapters.db import tables as t
from leadgate.adapters.model_yaml import load_model
from leadgate.analytics.entries import FUNNEL_STAGES, entered_after, first_entries, flag
from leadgate.analytics.output import Table, rounded
from leadgate.analytics.periods import Period
from leadgate.analytics.sql import DAY_SECONDS, seconds_between
from leadgate.analytics.stats import ratio, wilson
from leadgate.domain.lifecycle import Stage
from leadgate.domain.scoring import compiled
from leadgate.domain.scoring_model import EngagementRule, ScoringModel
from leadgate.domain.touchpoints import Touchpoint

_STREAM_ROWS = 5000  # rows per fetch when rules are matched in Python


@dataclass(frozen=True, slots=True)
class Signal:
    """MQL → SQL conversion of the cohort leads with and without one signal.

    ``kind`` is ``rule`` (an engagement rule of the model, by id) or ``touchpoint`` (a
    touchpoint name).
    """

    kind: str
    name: str
    with_leads: int
    with_converted: int
    without_leads: int
    without_converted: int

    @property
    def rate_with(self) -> float | None:
        return ratio(self.with_converted, self.with_leads)

    @property
    def rate_without(self) -> float | None:
        return ratio(self.without_converted, self.without_leads)

    @property
    def interval_with(self) -> tuple[float, float] | None:
        return wilson(self.with_converted, self.with_leads)

    @property
    def interval_without(self) -> tuple[float, float] | None:
        return wilson(self.without_converted, self.without_leads)

    @property
    def lift(self) -> float | None:
        """Rate with minus rate without, in rate points (None if either is unknown)."""
        if self.rate_with is None or self.rate_without is None:
            return None
        return self.rate_with - self.rate_without


@dataclass(frozen=True, slots=True)
class Precursor:
    """Of ``transitions`` moves from → to in the period, ``seen`` had ``touchpoint`` among
    the lead's last touchpoints before the move."""

    from_stage: Stage
    to_stage: Stage
    touchpoint: str
    transitions: int
    seen: int

    @property
    def share(self) -> float | None:
        return ratio(self.seen, self.transitions)


@dataclass(frozen=True, slots=True)
class SignalsReport:
    period: Period
    within_days: float | None
    model_version: int | None
    cohort: int
    converted: int
    signals: tuple[Signal, ...]
    precursors: tuple[Precursor, ...]

    def signal(self, kind: str, name: str) -> Signal | None:
        return next((s for s in self.signals if s.kind == kind and s.name == name), None)

    def tables(self) -> tuple[Table, ...]:
        def interval(bounds: tuple[float, float] | None) -> tuple[Any, Any]:
            return (None, None) if bounds is None else (rounded(bounds[0]), rounded(bounds[1]))

        return (
            Table.of(
                "signals",
                (
                    "kind",
                    "name",
                    "with_leads",
                    "with_converted",
                    "rate_with",
                    "rate_with_low",
                    "rate_with_high",
                    "without_leads",
                    "without_converted",
                    "rate_without",
                    "rate_without_low",
                    "rate_without_high",
                    "lift",
                ),
                (
                    (
                        s.kind,
                        s.name,
                        s.with_leads,
                        s.with_converted,
                        rounded(s.rate_with),
                        *interval(s.interval_with),
                        s.without_leads,
                        s.without_converted,
                        rounded(s.rate_without),
                        *interval(s.interval_without),
                        rounded(s.lift),
                    )
                    for s in self.signals
                ),
            ),
            Table.of(
                "precursors",
                ("from_stage", "to_stage", "touchpoint", "transitions", "seen", "share"),
                (
                    (
                        p.from_stage,
                        p.to_stage,
                        p.touchpoint,
                        p.transitions,
                        p.seen,
                        rounded(p.share),
                    )
                    for p in self.precursors
                ),
            ),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "period": self.period.to_json(),
            "within_days": self.within_days,
            "model_version": self.model_version,
            "cohort": self.cohort,
            "converted": self.converted,
            **{table.name: table.to_json() for table in self.tables()},
        }


def _model(connection: Connection, version: int | None) -> tuple[int | None, ScoringModel | None]:
    mv = t.model_versions
    query = select(mv.c.version, mv.c.document)
    query = query.where(mv.c.is_active) if version is None else query.where(mv.c.version == version)
    row = connection.execute(query).first()
    if row is None:
        if version is not None:
            raise ValueError(f"no scoring model version {version}")
        return None, None
    return row.version, load_model(row.document, source=f"model version {row.version}")


def _count_held(times: list[datetime], rule: EngagementRule) -> bool:
    """Whether a count rule's threshold held at some matched moment (times ascending)."""
    assert rule.count is not None
    need = rule.count.at_least
    if rule.count.within_days is None:
        return len(times) >= need
    window = timedelta(days=rule.count.within_days)
    start = 0
    for end, at in enumerate(times):
        while at - times[start] > window:
            start += 1
        if end - start + 1 >= need:
            return True
    return False


def _rules_held(
    rows: Iterable[Any], model: ScoringModel, python_rules: list[int]
) -> dict[int, tuple[set[int], set[int]]]:
    """Given rows (lead_id, done, name, occurred_at, properties) ordered by lead and time,
    return per rule index the cohort leads that had it and those of them that converted."""
    plan = compiled(model)
    rules = model.engagement_rules
    wanted = set(python_rules)
    found: dict[int, tuple[set[int], set[int]]] = {i: (set(), set()) for i in python_rules}
    for lead_id, lead_rows in itertools.groupby(rows, key=lambda r: r.lead_id):
        matched: dict[int, list[datetime]] = defaultdict(list)
        done = False
        for row in lead_rows:
            done = bool(row.done)
            tp = Touchpoint("", row.name, row.occurred_at, row.properties or {})
            for index, where in plan.matchers.get(row.name, ()):
                if index in wanted and all(test(tp.attribute(f)) for f, test in where):
                    matched[index].append(row.occurred_at)
        for index, times in matched.items():
            rule = rules[index]
            if rule.count is None or _count_held(times, rule):
                found[index][0].add(lead_id)
                if done:
                    found[index][1].add(lead_id)
    return found


def signals_report(
    connection: Connection,
    period: Period,
    *,
    within_days: float | None = None,
    model_version: int | None = None,
    last: int = 3,
    window_days: float = 30.0,
    top: int = 5,
) -> SignalsReport:
    """Conversion MQL → SQL with and without each engagement rule (of ``model_version``,
    default the active model) and each touchpoint type, and the ``top`` touchpoint types
    most often among the ``last`` touchpoints before each kind of transition. Example::

        report = signals_report(c, Period(q1_start, q2_start))
        report.signal("rule", "demo_request").lift  # e.g. 0.31
    """
    if last < 1 or top < 1:
        raise ValueError("last and top must be at least 1")
    cohort_rows = first_entries(period, Stage.MQL).subquery("mql_cohort")
    done = entered_after(
        connection, cohort_rows.c.lead_id, cohort_rows.c.at, Stage.SQL, within_days
    )
    cohort = select(cohort_rows.c.lead_id, cohort_rows.c.at, flag(done).label("done")).subquery(
        "cohort"
    )
    size, converted = connection.execute(
        select(func.count(), func.coalesce(func.sum(cohort.c.done), 0))
    ).one()
    size, converted = int(size), int(converted)

    tp = t.touchpoints
    before = (tp.c.lead_id == cohort.c.lead_id) & (tp.c.occurred_at <= cohort.c.at)
    converted_lead = case((cohort.c.done == 1, cohort.c.lead_id), else_=None)  # NULL: not counted
    by_name = (
        select(
            tp.c.name,
            func.count(func.distinct(cohort.c.lead_id)),
            func.count(func.distinct(converted_lead)),
        )
        .select_from(cohort.join(tp, before))
        .group_by(tp.c.name)
    )
    names: dict[str, tuple[int, int]] = {
        name: (int(n), int(c)) for name, n, c in connection.execute(by_name)
    }

    signals: list[Signal] = []
    version, model = _model(connection, model_version)
    if model is not None:
        rules = model.engagement_rules
        python_rules = [i for i, r in enumerate(rules) if r.where or r.count is not None]
        held: dict[int, tuple[int, int]] = {}
        if python_rules and size:
            wanted = sorted({rules[i].touchpoint for i in python_rules})
            stream = (
                select(
                    cohort.c.lead_id, cohort.c.done, tp.c.name, tp.c.occurred_at, tp.c.properties
                )
                .select_from(cohort.join(tp, before))
                .where(tp.c.name.in_(wanted))
                .order_by(cohort.c.lead_id, tp.c.occurred_at, tp.c.id)
            )
            result = connection.execution_options(yield_per=_STREAM_ROWS).execute(stream)
            for index, (had, won) in _rules_held(result, model, python_rules).items():
                held[index] = (len(had), len(won))
        for index, rule in enumerate(rules):
            had_n, won_n = held.get(index) or names.get(rule.touchpoint, (0, 0))
            signals.append(Signal("rule", rule.id, had_n, won_n, size - had_n, converted - won_n))
    for name in sorted(names):
        had_n, won_n = names[name]
        signals.append(Signal("touchpoint", name, had_n, won_n, size - had_n, converted - won_n))

    return SignalsReport(
        period,
        within_days,
        version,
        size,
        converted,
        tuple(signals),
        _precursors(connection, period, last, window_days, top),
    )


def _precursors(
    connection: Connection, period: Period, last: int, window_days: float, top: int
) -> tuple[Precursor, ...]:
    tr, tp = t.transitions, t.touchpoints
    moves = (
        select(tr.c.id, tr.c.lead_id, tr.c.from_stage, tr.c.to_stage, tr.c.occurred_at)
        .where(
            tr.c.to_stage.in_([s.value for s in FUNNEL_STAGES]),
            tr.c.occurred_at >= period.start,
            tr.c.occurred_at < period.end,
        )
        .subquery("moves")
    )
    totals: dict[tuple[str, str], int] = {
        (a, b): int(n)
        for a, b, n in connection.execute(
            select(moves.c.from_stage, moves.c.to_stage, func.count()).group_by(
                moves.c.from_stage, moves.c.to_stage
            )
        )
    }
    recent: Subquery = (
        select(
            moves.c.id.label("move_id"),
            moves.c.from_stage,
            moves.c.to_stage,
            tp.c.name,
            func.row_number()
            .over(partition_by=moves.c.id, order_by=(tp.c.occurred_at.desc(), tp.c.id.desc()))
            .label("rank"),
        )
        .select_from(
            moves.join(
                tp,
                (tp.c.lead_id == moves.c.lead_id)
                & (tp.c.occurred_at <= moves.c.occurred_at)
                & (
                    seconds_between(connection, tp.c.occurred_at, moves.c.occurred_at)
                    <= window_days * DAY_SECONDS
                ),
            )
        )
        .subquery("recent")
    )
    seen_query = (
        select(
            recent.c.from_stage,
            recent.c.to_stage,
            recent.c.name,
            func.count(func.distinct(recent.c.move_id)),
        )
        .where(recent.c.rank <= last)
        .group_by(recent.c.from_stage, recent.c.to_stage, recent.c.name)
    )
    by_move: dict[tuple[str, str], list[tuple[str, int]]] = defaultdict(list)
    for a, b, name, n in connection.execute(seen_query):
        by_move[(a, b)].append((name, int(n)))
    order = {s.value: i for i, s in enumerate(Stage)}
    found: list[Precursor] = []
    for a, b in sorted(totals, key=lambda k: (order.get(k[0], 99), order.get(k[1], 99))):
        ranked = sorted(by_move.get((a, b), []), key=lambda item: (-item[1], item[0]))[:top]
        found.extend(Precursor(Stage(a), Stage(b), name, totals[(a, b)], n) for name, n in ranked)
    return tuple(found)
