"""Velocity against a plain-Python recount of the transition log (SQLite, PostgreSQL).

Percentiles in the reference come from ``statistics`` (the "inclusive" method is linear
interpolation between closest ranks), not from ``leadgate.analytics.stats``.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from leadgate.adapters.db.unit_of_work import SqlUnitOfWork
from leadgate.analytics.dimensions import Dimension
from leadgate.analytics.periods import Period
from leadgate.analytics.stats import Durations
from leadgate.analytics.velocity import velocity_report
from leadgate.domain.lifecycle import ActorType, Stage
from leadgate.services.commands import ChangeStage, LeadIn
from leadgate.services.lifecycle import change_stage
from leadgate.services.profiles import upsert_leads
from tests.integration.test_analytics_data import Log, Workspace, ws
from tests.integration.test_analytics_funnel import Key, key_of, periods

__all__ = ["ws"]

STEPS = [
    (Stage.LEAD, Stage.MQL),
    (Stage.MQL, Stage.SQL),
    (Stage.SQL, Stage.OPPORTUNITY),
    (Stage.OPPORTUNITY, Stage.CUSTOMER),
]
DAY = timedelta(days=1)


def summary(values: list[float]) -> tuple[int, float | None, float | None, float | None]:
    """(count, median, p75, p90) by the statistics module."""
    if not values:
        return (0, None, None, None)
    if len(values) == 1:
        return (1, values[0], values[0], values[0])
    quartiles = statistics.quantiles(values, n=4, method="inclusive")
    deciles = statistics.quantiles(values, n=10, method="inclusive")
    return (len(values), statistics.median(values), quartiles[2], deciles[8])


def figures(d: Durations) -> tuple[int, float | None, float | None, float | None]:
    return (d.count, d.median, d.p75, d.p90)


def close(a: tuple[object, ...], b: tuple[object, ...]) -> bool:
    return all(
        (x is None and y is None) or (x is not None and y is not None and abs(x - y) < 1e-3)  # type: ignore[operator]
        for x, y in zip(a, b, strict=True)
    )


def expected_steps(log: Log, period: Period, key: Key) -> dict[tuple[Any, ...], list[float]]:
    found: dict[tuple[Any, ...], list[float]] = defaultdict(list)
    for a, b in STEPS:
        for lead_id, lead in log.leads.items():
            end = log.first_entry(lead_id, b)
            if end is None or not period.contains(end[0]):
                continue
            if a is Stage.LEAD:
                start = lead.created_at
            else:
                starts = [at for at, _, _ in log.entries(lead_id, a) if at <= end[0]]
                if not starts:
                    continue
                start = starts[0]
            found[(key(lead_id, end[0], end[2]), a, b)].append((end[0] - start) / DAY)
    return found


def expected_stays(log: Log, period: Period, key: Key) -> dict[tuple[Any, ...], list[float]]:
    found: dict[tuple[Any, ...], list[float]] = defaultdict(list)
    for lead_id, moves in log.by_lead.items():
        for index, tr in enumerate(moves):
            if not period.contains(tr.occurred_at):
                continue
            entered = moves[index - 1].occurred_at if index else log.leads[lead_id].created_at
            group = key(lead_id, tr.occurred_at, tr.model_version)
            found[(group, tr.from_stage)].append((tr.occurred_at - entered) / DAY)
    return found


@pytest.mark.parametrize("by", [None, Dimension.SOURCE_CHANNEL, Dimension.MODEL_VERSION])
def test_step_times_and_time_in_stage_match_the_log(ws: Workspace, by: Dimension | None) -> None:
    key = key_of(ws.log, by)
    with ws.engine.connect() as c:
        for period in periods(ws):
            report = velocity_report(c, period, by=by)
            steps = expected_steps(ws.log, period, key)
            got = {
                (s.group, s.from_stage, s.to_stage): figures(s.days)
                for s in report.steps
                if s.days.count
            }
            assert set(got) == set(steps)
            for k, values in steps.items():
                assert close(got[k], summary(values)), k
            stays = expected_stays(ws.log, period, key)
            got_stays = {
                (s.group, s.stage.value): figures(s.days) for s in report.stages if s.days.count
            }
            assert set(got_stays) == set(stays)
            for k, values in stays.items():
                assert close(got_stays[k], summary(values)), k


def test_the_span_has_every_step(ws: Workspace) -> None:
    with ws.engine.connect() as c:
        report = velocity_report(c, periods(ws)[0])
    for a, b in STEPS:
        assert report.step(a, b).days.count > 0, (a, b)
    assert report.stage(Stage.MQL).days.count > 0
    tables = {t.name: t.to_json() for t in report.tables()}
    assert tables["steps"][1]["from_stage"] == "mql" and "p75_days" in tables["steps"][1]


def test_an_empty_period_has_no_durations(ws: Workspace) -> None:
    far = datetime(2031, 1, 1, tzinfo=UTC)
    with ws.engine.connect() as c:
        report = velocity_report(c, Period(far, far + DAY))
    assert all(s.days == Durations(0, None, None, None, None) for s in report.steps)
    assert all(s.days.count == 0 for s in report.stages)


def test_hand_made_journey(
    uow_factory: Callable[[], SqlUnitOfWork], default_model: int, engine: Engine
) -> None:
    """Created March 1; MQL March 3; recycled March 4; MQL again March 10; SQL March 11.
    lead → MQL is 2 days; MQL → SQL counts from the first MQL entry: 8 days; the MQL stays
    are 1 day and 1 day; the recycled stay 6 days."""
    created = datetime(2026, 3, 1, tzinfo=UTC)
    lead = upsert_leads(uow_factory(), [LeadIn(email="x@acme.example")], now=created).ids[0]
    for stage, day in ((Stage.MQL, 3), (Stage.RECYCLED, 4), (Stage.MQL, 10), (Stage.SQL, 11)):
        at = datetime(2026, 3, day, tzinfo=UTC)
        change_stage(
            uow_factory(), ChangeStage(lead, stage, "t", "rep", ActorType.USER, at=at), now=at
        )
    march = Period(created, datetime(2026, 4, 1, tzinfo=UTC))
    with engine.connect() as c:
        report = velocity_report(c, march)
        only_sql = velocity_report(c, Period(datetime(2026, 3, 11, tzinfo=UTC), march.end))
    assert report.step(Stage.LEAD, Stage.MQL).days.median == 2.0
    assert report.step(Stage.MQL, Stage.SQL).days.median == 8.0
    assert report.stage(Stage.LEAD).days.median == 2.0
    assert figures(report.stage(Stage.MQL).days) == (2, 1.0, 1.0, 1.0)
    assert report.stage(Stage.RECYCLED).days.median == 6.0
    # A period holding only the SQL entry still measures from the first MQL entry.
    assert only_sql.step(Stage.MQL, Stage.SQL).days.median == 8.0
    assert only_sql.step(Stage.LEAD, Stage.MQL).days.count == 0
