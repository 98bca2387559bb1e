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

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Connection,
    String,
    Text,
    case,
    cast,
    false,
    func,
    null,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import CompoundSelect, Subquery

from leadgate.adapters.db import tables as t
from leadgate.adapters.model_yaml import load_model
from leadgate.analytics.entries import FUNNEL_STAGES, entered_after, first_entries, flag
from leadgate.analytics.output import Table, rounded
from leadgate.analytics.periods import Period
from leadgate.analytics.sql import (
    DAY_SECONDS,
    is_sqlite,
    materialized_cte,
    seconds_between,
    tuned_for_reads,
)
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


@lru_cache(maxsize=8)
def _parsed(version: int, document: str) -> ScoringModel:
    """A stored model, parsed once per process: stored versions never change, and parsing
    the YAML cost more than the report's queries."""
    return load_model(document, source=f"model version {version}")


def _model(connection: Connection, version: int | None) -> tuple[int | None, ScoringModel | None]:
    mv = t.model_versions
    query = select(mv.c.version, mv.c.document)
    query = query.where(mv.c.is_active) if version is None else query.where(mv.c.version == version)
    row = connection.execute(query).first()
    if row is None:
        if version is not None:
            raise ValueError(f"no scoring model version {version}")
        return None, None
    return row.version, _parsed(row.version, row.document)


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


def _moment(value: datetime | str) -> datetime:
    """A touchpoint time as fetched untyped: SQLite gives the stored text, PostgreSQL a
    (naive UTC) datetime. Only differences are taken, so naive is enough."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


@dataclass(slots=True)
class _Tally:
    """What one pass over the cohort's touchpoints before their MQL entry found."""

    done: dict[int, bool]  # cohort lead → converted
    names: dict[str, set[int]]  # touchpoint name → leads that had it
    rules: dict[int, set[int]]  # rule index → leads that had it


def _tally(rows: Iterable[Any], model: ScoringModel | None, python_rules: list[int]) -> _Tally:
    """Given rows (lead_id, done, name, occurred_at, properties as JSON text), name NULL
    in a row that only says the lead is in the cohort and the last two NULL unless a rule
    matched in Python reads that name, say which leads had each name and each of
    ``python_rules``.

    The rules' conditions are the scoring model's own compiled predicates. Touchpoints of
    one name repeat a few property documents (page views of the same pages), so each
    distinct (name, document) is parsed and matched once.
    """
    tally = _Tally({}, defaultdict(set), {i: set() for i in python_rules})
    plan = compiled(model) if model is not None else None
    rules = model.engagement_rules if model is not None else ()
    wanted = set(python_rules)
    matched: dict[tuple[str, str], tuple[int, ...]] = {}
    times: dict[tuple[int, int], list[datetime]] = defaultdict(list)  # (rule, lead) → times
    for lead_id, done, name, occurred_at, properties in rows:
        tally.done[lead_id] = bool(done)
        if name is None:
            continue
        tally.names[name].add(lead_id)
        if properties is None or plan is None:
            continue
        found = matched.get((name, properties))
        if found is None:
            tp = Touchpoint("", name, _moment(occurred_at), json.loads(properties) or {})
            found = matched[(name, properties)] = tuple(
                index
                for index, where in plan.matchers.get(name, ())
                if index in wanted and all(test(tp.attribute(f)) for f, test in where)
            )
        for index in found:
            if rules[index].count is None:
                tally.rules[index].add(lead_id)
            else:
                times[(index, lead_id)].append(_moment(occurred_at))
    for (index, lead_id), moments in times.items():
        if _count_held(sorted(moments), rules[index]):
            tally.rules[index].add(lead_id)
    return tally


def _cohort_touches(
    connection: Connection,
    period: Period,
    within_days: float | None,
    python_names: list[str],
) -> CompoundSelect[Any]:
    """One row per touchpoint a cohort lead had at or before its MQL entry (and one with
    NULLs for each cohort lead), with its time and properties only for the names a
    rule matched in Python reads. Untyped on purpose: decoding every row's time and JSON
    cost more than the whole query."""
    entries = first_entries(period, Stage.MQL).subquery("mql_entries")
    done = entered_after(connection, entries.c.lead_id, entries.c.at, Stage.SQL, within_days)
    cohort = select(entries.c.lead_id, entries.c.at, flag(done).label("done")).cte("cohort")
    if materialized_cte(connection):
        # Once per cohort lead, not once per joined touchpoint.
        cohort = cohort.prefix_with("MATERIALIZED")
    tp = t.touchpoints
    read = tp.c.name.in_(python_names) if python_names else false()
    no_text = null().cast(Text)
    no_time = type_coerce(cast(null(), tp.c.occurred_at.type), String)  # read untyped too
    # The cohort's own rows (every lead counted, touchpoints or not), then its touchpoints
    # by an inner join: PostgreSQL ran the left join it replaces a quarter slower.
    return union_all(
        select(cohort.c.lead_id, cohort.c.done, no_text, no_time, no_text),
        select(
            cohort.c.lead_id,
            cohort.c.done,
            tp.c.name,
            case((read, type_coerce(tp.c.occurred_at, String)), else_=None),
            case((read, cast(tp.c.properties, Text)), else_=None),
        ).select_from(
            cohort.join(tp, (tp.c.lead_id == cohort.c.lead_id) & (tp.c.occurred_at <= cohort.c.at))
        ),
    )


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
    version, model = _model(connection, model_version)
    rules = model.engagement_rules if model is not None else ()
    # Rules with conditions or counts are matched in Python (the scoring model's own
    # predicates); a plain rule is its touchpoint name.
    python_rules = [i for i, r in enumerate(rules) if r.where or r.count is not None]
    python_names = sorted({rules[i].touchpoint for i in python_rules})
    with tuned_for_reads(connection):
        query = _cohort_touches(connection, period, within_days, python_names)
        # The option on the statement, not the connection (Connection.execution_options
        # sets it for every later statement); ``with`` closes the server-side cursor.
        with connection.execute(query.execution_options(yield_per=_STREAM_ROWS)) as result:
            tally = _tally(result, model, python_rules)
        precursors = _precursors(connection, period, last, window_days, top)
    size = len(tally.done)
    won = {lead for lead, done in tally.done.items() if done}
    converted = len(won)

    def signal(kind: str, name: str, had: set[int]) -> Signal:
        had_won = len(had & won)
        return Signal(kind, name, len(had), had_won, size - len(had), converted - had_won)

    signals = [
        signal(
            "rule",
            rule.id,
            tally.rules[index] if index in tally.rules else tally.names.get(rule.touchpoint, set()),
        )
        for index, rule in enumerate(rules)
    ]
    signals.extend(signal("touchpoint", name, tally.names[name]) for name in sorted(tally.names))
    return SignalsReport(period, within_days, version, size, converted, tuple(signals), precursors)


def _last_names(
    connection: Connection, moves: Subquery, last: int, window_days: float, floor: datetime
) -> ColumnElement[Any]:
    """Per move, the names of the lead's ``last`` touchpoints at or before it within
    ``window_days``: a JSON array (SQLite) or an array (PostgreSQL), empty or NULL when
    there are none.

    Each move reads at most ``last`` entries of ``touchpoints(lead_id, occurred_at, id,
    name)`` walked backwards, index only, instead of ranking all of the lead's touchpoints
    in the window. ``floor`` (no touchpoint in any move's window is older) bounds the index
    range for leads with fewer than ``last`` touchpoints in the window.
    """
    tp = t.touchpoints
    recent = (
        select(tp.c.name)
        .where(
            tp.c.lead_id == moves.c.lead_id,
            tp.c.occurred_at <= moves.c.occurred_at,
            tp.c.occurred_at >= floor,
            seconds_between(connection, tp.c.occurred_at, moves.c.occurred_at)
            <= window_days * DAY_SECONDS,
        )
        .order_by(tp.c.occurred_at.desc(), tp.c.id.desc())
        .limit(last)
        .correlate(moves)
        .subquery("recent")
    )
    gather = func.json_group_array if is_sqlite(connection) else func.array_agg
    return select(gather(recent.c.name)).scalar_subquery()


def _precursors(
    connection: Connection, period: Period, last: int, window_days: float, top: int
) -> tuple[Precursor, ...]:
    tr = t.transitions
    moves = (
        select(tr.c.id, tr.c.lead_id, tr.c.from_stage, tr.c.to_stage, tr.c.occurred_at)
        .where(
            tr.c.to_stage.in_([s.value for s in FUNNEL_STAGES]),
            tr.c.occurred_at >= period.start,
            tr.c.occurred_at < period.end,
        )
        .subquery("moves")
    )
    # A day's slack below the exact bound: SQLite's time differences are rounded.
    floor = period.start - timedelta(days=window_days + 1)
    names = _last_names(connection, moves, last, window_days, floor)
    # Moves grouped by (from, to, the names before them): a few hundred rows however many
    # moves, and the totals and per-name counts come from the same pass. A name counts
    # once per move however often it recurs among the last touchpoints.
    per_move = select(moves.c.from_stage, moves.c.to_stage, names.label("names")).subquery(
        "per_move"
    )
    query = select(per_move.c.from_stage, per_move.c.to_stage, per_move.c.names, func.count())
    query = query.group_by(per_move.c.from_stage, per_move.c.to_stage, per_move.c.names)
    totals: Counter[tuple[str, str]] = Counter()
    seen: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for a, b, found, n in connection.execute(query):
        totals[(a, b)] += n
        listed = json.loads(found) if isinstance(found, str) else found
        for name in set(listed or ()):
            seen[(a, b)][name] += n
    order = {s.value: i for i, s in enumerate(Stage)}
    result: list[Precursor] = []
    for a, b in sorted(totals, key=lambda k: (order.get(k[0], 99), order.get(k[1], 99))):
        ranked = sorted(seen[(a, b)].items(), key=lambda item: (-item[1], item[0]))[:top]
        result.extend(Precursor(Stage(a), Stage(b), name, totals[(a, b)], n) for name, n in ranked)
    return tuple(result)
