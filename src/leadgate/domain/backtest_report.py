"""Backtest figures: what two models' gate days mean per week, against what sales saw.

Definitions (docs/backtest.md explains them with examples):

* an **MQL** (a **sales-ready** lead) of a week: a lead whose MQL gate (sales-ready or
  skip-to-SQL gate) first held at the end of a day of that week; a lead on which it
  already held the day before the window is counted apart (``already``), not in a week;
* **converted**: the lead reached the target stage (sql, opportunity or customer, per the
  transition log and sales outcomes) on or after the day it was flagged, at any time up to
  now; **precision** = converted / flagged in the window;
* a **caught** opportunity (customer): a lead that first reached that stage on a day of
  the window and that the model had flagged (either gate) on or before that day, the day
  before the window included; **recall** = caught / reached;
* **timing**: for leads that first reached the target in the window and were caught by
  both models, the candidate's flag day minus the baseline's (negative: earlier).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from leadgate.domain.backtest import GateDays, Window


@dataclass(frozen=True, slots=True)
class LeadFacts:
    """What is known of one lead besides its gate days: when it reached the target (every
    time, ascending), and when it first became an opportunity and a customer."""

    lead_id: int
    email: str | None = None
    converted: tuple[date, ...] = ()
    opportunity: date | None = None
    customer: date | None = None


@dataclass(slots=True)
class ModelFigures:
    """One model's counts over a week (or the whole window)."""

    mql: int = 0
    mql_converted: int = 0
    sales_ready: int = 0
    sales_ready_converted: int = 0
    opportunities_caught: int = 0
    customers_caught: int = 0


@dataclass(slots=True)
class Week:
    """A calendar week (Monday to Sunday) cut to the window: the conversions that happened
    in it and each model's figures."""

    start: date
    end: date
    opportunities: int = 0
    customers: int = 0
    baseline: ModelFigures = field(default_factory=ModelFigures)
    candidate: ModelFigures = field(default_factory=ModelFigures)


@dataclass(frozen=True, slots=True)
class ModelTotals:
    """One model over the whole window, with the ratios."""

    mql: int
    mql_converted: int
    mql_precision: float | None
    sales_ready: int
    sales_ready_converted: int
    sales_ready_precision: float | None
    already_mql: int
    already_sales_ready: int
    opportunities_caught: int
    opportunity_recall: float | None
    customers_caught: int
    customer_recall: float | None


@dataclass(frozen=True, slots=True)
class Timing:
    """How much earlier (negative) or later the candidate flags converting leads."""

    converting: int
    compared: int
    median_days: float | None
    earlier: int
    later: int
    same: int
    only_candidate: int
    only_baseline: int


@dataclass(frozen=True, slots=True)
class StatusChange:
    """A lead the two models would leave in different states at the window's end.

    ``*_since`` is the day the status's gate first held (the day before the window when it
    already held then).
    """

    lead_id: int
    email: str | None
    baseline: str
    baseline_since: date | None
    candidate: str
    candidate_since: date | None
    converted_on: date | None


@dataclass(frozen=True, slots=True)
class BacktestFigures:
    """Everything a backtest reports, for a table or a chart."""

    first: date
    last: date
    leads: int
    opportunities: int
    customers: int
    weeks: tuple[Week, ...]
    baseline: ModelTotals
    candidate: ModelTotals
    timing: Timing
    changes: tuple[StatusChange, ...]


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


class Tally:
    """Adds up leads one at a time (a backtest streams them chunk by chunk)."""

    def __init__(self, window: Window) -> None:
        self.window = window
        self.weeks: list[Week] = []
        self._week_of: list[int] = [0]  # by day index; index 0 (the day before) unused
        day = window.first
        while day <= window.last:
            monday = day - timedelta(days=day.weekday())
            end = min(monday + timedelta(days=6), window.last)
            self.weeks.append(Week(day, end))
            self._week_of.extend([len(self.weeks) - 1] * ((end - day).days + 1))
            day = end + timedelta(days=1)
        self.leads = 0
        self.already = {"baseline": [0, 0], "candidate": [0, 0]}
        self.differences: list[int] = []
        self.converting = 0
        self.only = {"baseline": 0, "candidate": 0}
        self.changes: list[StatusChange] = []

    def _week(self, day: date) -> Week | None:
        index = self.window.index_of(day)
        return self.weeks[self._week_of[index]] if 1 <= index <= self.window.days else None

    def add(self, facts: LeadFacts, baseline: GateDays, candidate: GateDays) -> None:
        """Count one lead's gate days under both models."""
        self.leads += 1
        window = self.window
        for side, days in (("baseline", baseline), ("candidate", candidate)):
            for slot, index in enumerate((days.mql, days.sales_ready)):
                if index is None:
                    continue
                if index == 0:
                    self.already[side][slot] += 1
                    continue
                day = window.day(index)
                figures = self._figures(self._week(day), side)
                converted = bool(facts.converted) and facts.converted[-1] >= day
                if slot == 0:
                    figures.mql += 1
                    figures.mql_converted += converted
                else:
                    figures.sales_ready += 1
                    figures.sales_ready_converted += converted
        for reached, attribute in ((facts.opportunity, "opportunities"), (facts.customer, None)):
            week = self._week(reached) if reached is not None else None
            if week is None or reached is None:
                continue
            if attribute == "opportunities":
                week.opportunities += 1
            else:
                week.customers += 1
            for side, days in (("baseline", baseline), ("candidate", candidate)):
                if _caught(days, reached, window):
                    figures = self._figures(week, side)
                    if attribute == "opportunities":
                        figures.opportunities_caught += 1
                    else:
                        figures.customers_caught += 1
        self._timing(facts, baseline, candidate)
        if baseline.status != candidate.status:
            self.changes.append(
                StatusChange(
                    facts.lead_id,
                    facts.email,
                    baseline.status,
                    _since(baseline, window),
                    candidate.status,
                    _since(candidate, window),
                    facts.converted[0] if facts.converted else None,
                )
            )

    @staticmethod
    def _figures(week: Week | None, side: str) -> ModelFigures:
        assert week is not None
        return week.baseline if side == "baseline" else week.candidate

    def _timing(self, facts: LeadFacts, baseline: GateDays, candidate: GateDays) -> None:
        window = self.window
        first = facts.converted[0] if facts.converted else None
        if first is None or not window.first <= first <= window.last:
            return
        self.converting += 1
        base = _caught(baseline, first, window)
        cand = _caught(candidate, first, window)
        if base and cand:
            assert baseline.flagged is not None and candidate.flagged is not None
            self.differences.append(candidate.flagged - baseline.flagged)
        elif base:
            self.only["baseline"] += 1
        elif cand:
            self.only["candidate"] += 1

    def figures(self, changes: Sequence[StatusChange] | None = None) -> BacktestFigures:
        """The report so far."""
        opportunities = sum(w.opportunities for w in self.weeks)
        customers = sum(w.customers for w in self.weeks)
        diffs = self.differences
        return BacktestFigures(
            first=self.window.first,
            last=self.window.last,
            leads=self.leads,
            opportunities=opportunities,
            customers=customers,
            weeks=tuple(self.weeks),
            baseline=self._totals("baseline", opportunities, customers),
            candidate=self._totals("candidate", opportunities, customers),
            timing=Timing(
                converting=self.converting,
                compared=len(diffs),
                median_days=float(statistics.median(diffs)) if diffs else None,
                earlier=sum(d < 0 for d in diffs),
                later=sum(d > 0 for d in diffs),
                same=sum(d == 0 for d in diffs),
                only_candidate=self.only["candidate"],
                only_baseline=self.only["baseline"],
            ),
            changes=tuple(self.changes if changes is None else changes),
        )

    def _totals(self, side: str, opportunities: int, customers: int) -> ModelTotals:
        weeks = [w.baseline if side == "baseline" else w.candidate for w in self.weeks]
        mql = sum(f.mql for f in weeks)
        mql_converted = sum(f.mql_converted for f in weeks)
        ready = sum(f.sales_ready for f in weeks)
        ready_converted = sum(f.sales_ready_converted for f in weeks)
        opp = sum(f.opportunities_caught for f in weeks)
        cust = sum(f.customers_caught for f in weeks)
        return ModelTotals(
            mql=mql,
            mql_converted=mql_converted,
            mql_precision=_ratio(mql_converted, mql),
            sales_ready=ready,
            sales_ready_converted=ready_converted,
            sales_ready_precision=_ratio(ready_converted, ready),
            already_mql=self.already[side][0],
            already_sales_ready=self.already[side][1],
            opportunities_caught=opp,
            opportunity_recall=_ratio(opp, opportunities),
            customers_caught=cust,
            customer_recall=_ratio(cust, customers),
        )


def _caught(days: GateDays, reached: date, window: Window) -> bool:
    flagged = days.flagged
    return flagged is not None and window.day(flagged) <= reached


def _since(days: GateDays, window: Window) -> date | None:
    index = days.sales_ready if days.sales_ready is not None else days.mql
    return window.day(index) if index is not None else None
