"""Funnel figures against a plain-Python recount of the transition log (SQLite, PostgreSQL).

The reference below shares no code with ``leadgate.analytics``: it walks ``Log`` rows
(plain SELECTs) with the definitions of docs/analytics.md.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from leadgate.adapters.db.unit_of_work import SqlUnitOfWork
from leadgate.analytics.dimensions import Dimension
from leadgate.analytics.funnel_report import FunnelReport, funnel_report
from leadgate.analytics.periods import Period
from leadgate.domain.lifecycle import ActorType, Stage
from leadgate.services.commands import AccountIn, ChangeStage, LeadIn
from leadgate.services.lifecycle import change_stage
from leadgate.services.profiles import upsert_accounts, upsert_leads
from tests.conftest import T0
from tests.integration.test_analytics_data import Log, Workspace, ws

__all__ = ["ws"]  # the shared workspace fixture

STAGES = [Stage(s) for s in ("lead", "mql", "sql", "opportunity", "customer")] + [
    Stage.RECYCLED,
    Stage.DISQUALIFIED,
    Stage.LOST,
]
PAIRS = [
    (Stage.MQL, Stage.SQL),
    (Stage.SQL, Stage.OPPORTUNITY),
    (Stage.OPPORTUNITY, Stage.CUSTOMER),
]
BANDS = [(1, 10, "1-10"), (11, 50, "11-50"), (51, 200, "51-200"), (201, 1000, "201-1000")]
BANDS += [(1001, 5000, "1001-5000"), (5001, 10**12, "5001+")]

Key = Callable[[int, datetime, Any], str | None]


def key_of(log: Log, by: Dimension | None) -> Key:
    """The reference's own reading of each dimension (docs/analytics.md, Breakdowns)."""

    def account(lead_id: int) -> Any:
        account_id = log.leads[lead_id].account_id
        return log.accounts.get(account_id) if account_id is not None else None

    def band(lead_id: int) -> str | None:
        a = account(lead_id)
        if a is None or a.employees is None:
            return None
        return next((label for low, high, label in BANDS if low <= a.employees <= high), None)

    readers: dict[Dimension | None, Key] = {
        None: lambda lead_id, at, mv: None,
        Dimension.SOURCE_CHANNEL: lambda lead_id, at, mv: log.leads[lead_id].source_channel,
        Dimension.CAMPAIGN: lambda lead_id, at, mv: log.leads[lead_id].source_campaign,
        Dimension.PERSONA: lambda lead_id, at, mv: log.leads[lead_id].persona,
        Dimension.SENIORITY: lambda lead_id, at, mv: log.leads[lead_id].seniority,
        Dimension.OWNER: lambda lead_id, at, mv: log.leads[lead_id].owner,
        Dimension.INDUSTRY: lambda lead_id, at, mv: getattr(account(lead_id), "industry", None),
        Dimension.REGION: lambda lead_id, at, mv: getattr(account(lead_id), "region", None),
        Dimension.EMPLOYEE_BAND: lambda lead_id, at, mv: band(lead_id),
        Dimension.MODEL_VERSION: lambda lead_id, at, mv: None if mv is None else str(mv),
        Dimension.WEEK: lambda lead_id, at, mv: (
            at.date() - timedelta(days=at.weekday())
        ).isoformat(),
        Dimension.MONTH: lambda lead_id, at, mv: at.date().replace(day=1).isoformat(),
    }
    return readers[by]


def expected_stages(
    log: Log, period: Period, key: Key
) -> dict[tuple[str | None, str], tuple[int, int, int]]:
    entries: dict[tuple[str | None, str], list[tuple[int, bool]]] = defaultdict(list)
    for lead_id, lead in log.leads.items():
        if period.contains(lead.created_at):
            entries[(key(lead_id, lead.created_at, None), "lead")].append((lead_id, True))
    for tr in log.transitions:
        if not period.contains(tr.occurred_at):
            continue
        first = log.first_entry(tr.lead_id, Stage(tr.to_stage))
        is_first = tr.to_stage != "lead" and first is not None and first[1] == tr.id
        group = key(tr.lead_id, tr.occurred_at, tr.model_version)
        entries[(group, tr.to_stage)].append((tr.lead_id, is_first))
    return {
        k: (len(v), len({lead for lead, _ in v}), sum(1 for _, f in v if f))
        for k, v in entries.items()
    }


def expected_conversions(
    log: Log, period: Period, key: Key, within_days: float | None
) -> dict[tuple[str | None, Stage, Stage], tuple[int, int]]:
    found: dict[tuple[str | None, Stage, Stage], list[int]] = defaultdict(lambda: [0, 0])
    for a, b in PAIRS:
        for lead_id in log.leads:
            first = log.first_entry(lead_id, a)
            if first is None or not period.contains(first[0]):
                continue
            at = first[0]
            converted = any(
                later >= at and (within_days is None or later - at <= timedelta(days=within_days))
                for later, _, _ in log.entries(lead_id, b)
            )
            counts = found[(key(lead_id, at, first[2]), a, b)]
            counts[0] += 1
            counts[1] += converted
    return {k: (v[0], v[1]) for k, v in found.items()}


def nonzero_stages(report: FunnelReport) -> dict[tuple[str | None, str], tuple[int, int, int]]:
    return {
        (r.group, r.stage.value): (r.entries, r.leads, r.first_entries)
        for r in report.stages
        if r.entries
    }


def nonzero_conversions(
    report: FunnelReport,
) -> dict[tuple[str | None, Stage, Stage], tuple[int, int]]:
    return {
        (r.group, r.from_stage, r.to_stage): (r.cohort, r.converted)
        for r in report.conversions
        if r.cohort
    }


def periods(ws: Workspace) -> list[Period]:
    middle = ws.start + timedelta(days=15)
    return [
        Period(ws.start - timedelta(days=1), ws.end + timedelta(days=60)),  # everything
        Period(middle, middle + timedelta(days=14)),  # a fortnight in the middle
        Period(ws.start + timedelta(days=30), ws.end + timedelta(days=1)),  # the tail
    ]


@pytest.mark.parametrize("by", [None, *Dimension])
def test_stage_entries_and_cohorts_match_the_log(ws: Workspace, by: Dimension | None) -> None:
    key = key_of(ws.log, by)
    with ws.engine.connect() as c:
        for period in periods(ws):
            report = funnel_report(c, period, by=by)
            assert nonzero_stages(report) == expected_stages(ws.log, period, key)
            assert nonzero_conversions(report) == expected_conversions(ws.log, period, key, None)


def test_the_whole_span_has_a_real_funnel(ws: Workspace) -> None:
    # Guards the comparison above against comparing two empty dicts.
    with ws.engine.connect() as c:
        report = funnel_report(c, periods(ws)[0])
    assert report.stage(Stage.LEAD).entries == len(ws.log.leads)
    assert report.stage(Stage.MQL).first_entries >= 20
    mql_sql = report.conversion(Stage.MQL, Stage.SQL)
    assert 0 < mql_sql.converted < mql_sql.cohort
    assert report.conversion(Stage.OPPORTUNITY, Stage.CUSTOMER).converted > 0
    # Rows come for every stage and pair even when zero.
    assert len(report.stages) == len(STAGES) and len(report.conversions) == len(PAIRS)


@pytest.mark.parametrize("within", [0, 3, 10])
def test_within_days_counts_only_quick_conversions(ws: Workspace, within: float) -> None:
    period = periods(ws)[0]
    key = key_of(ws.log, None)
    with ws.engine.connect() as c:
        report = funnel_report(c, period, within_days=within)
        unbounded = funnel_report(c, period)
    assert nonzero_conversions(report) == expected_conversions(ws.log, period, key, within)
    for pair in PAIRS:
        assert report.conversion(*pair).converted <= unbounded.conversion(*pair).converted
    assert report.within_days == within


def test_a_breakdown_adds_up_to_the_total(ws: Workspace) -> None:
    period = periods(ws)[1]
    with ws.engine.connect() as c:
        total = funnel_report(c, period)
        split = funnel_report(c, period, by=Dimension.INDUSTRY)
    for stage in STAGES:
        rows = [r for r in split.stages if r.stage is stage]
        assert sum(r.entries for r in rows) == total.stage(stage).entries
        assert sum(r.first_entries for r in rows) == total.stage(stage).first_entries
    for pair in PAIRS:
        pairs = [r for r in split.conversions if (r.from_stage, r.to_stage) == pair]
        assert sum(r.cohort for r in pairs) == total.conversion(*pair).cohort
        assert sum(r.converted for r in pairs) == total.conversion(*pair).converted


def test_an_empty_period_reports_zeros(ws: Workspace) -> None:
    far = datetime(2031, 1, 1, tzinfo=UTC)
    with ws.engine.connect() as c:
        report = funnel_report(c, Period(far, far + timedelta(days=30)))
        split = funnel_report(c, Period(far, far + timedelta(days=30)), by=Dimension.WEEK)
    assert all(r.entries == r.leads == r.first_entries == 0 for r in report.stages)
    assert all(r.cohort == 0 and r.rate is None for r in report.conversions)
    assert split.stages == () and split.conversions == ()
    tables = {table.name: table for table in report.tables()}
    assert tables["conversions"].to_json()[0]["rate"] is None
    assert report.to_json()["period"] == {
        "from": "2031-01-01T00:00:00Z",
        "to": "2031-01-31T00:00:00Z",
    }


# --------------------------------------------------------------- a hand-made log


def _lead(uow: Callable[[], SqlUnitOfWork], email: str, at: datetime) -> int:
    return upsert_leads(uow(), [LeadIn(email=email, source_channel="events")], now=at).ids[0]


def _move(uow: Callable[[], SqlUnitOfWork], lead_id: int, to: Stage, at: datetime) -> None:
    change_stage(uow(), ChangeStage(lead_id, to, "test", "rep", ActorType.USER, at=at), now=at)


def test_cohorts_follow_first_entries_across_the_period_edges(
    uow_factory: Callable[[], SqlUnitOfWork], default_model: int, engine: Engine
) -> None:
    """March is the period. ``early`` first became an MQL in February and again in March:
    an entry, not a first entry, and not in March's cohort. ``late`` converts after March
    ends: still converted (the cohort is followed forward), unless within 7 days."""
    day = timedelta(days=1)
    march = Period(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
    early = _lead(uow_factory, "early@acme.example", T0 - 40 * day)
    _move(uow_factory, early, Stage.MQL, datetime(2026, 2, 10, tzinfo=UTC))
    _move(uow_factory, early, Stage.RECYCLED, datetime(2026, 2, 20, tzinfo=UTC))
    _move(uow_factory, early, Stage.MQL, datetime(2026, 3, 5, tzinfo=UTC))
    _move(uow_factory, early, Stage.SQL, datetime(2026, 3, 6, tzinfo=UTC))
    late = _lead(uow_factory, "late@acme.example", datetime(2026, 3, 2, tzinfo=UTC))
    _move(uow_factory, late, Stage.MQL, datetime(2026, 3, 31, 23, 59, tzinfo=UTC))
    _move(uow_factory, late, Stage.SQL, datetime(2026, 4, 12, tzinfo=UTC))
    edge = _lead(uow_factory, "edge@acme.example", datetime(2026, 3, 3, tzinfo=UTC))
    _move(uow_factory, edge, Stage.MQL, datetime(2026, 4, 1, tzinfo=UTC))  # April's
    with engine.connect() as c:
        report = funnel_report(c, march)
        quick = funnel_report(c, march, within_days=7)
        weekly = funnel_report(c, march, by=Dimension.WEEK)
    mql = report.stage(Stage.MQL)
    assert (mql.entries, mql.leads, mql.first_entries) == (2, 2, 1)
    assert report.stage(Stage.LEAD).entries == 2  # created in March: late and edge
    assert report.stage(Stage.SQL).first_entries == 1  # early's, on March 6
    assert report.conversion(Stage.MQL, Stage.SQL).cohort == 1  # late only
    assert report.conversion(Stage.MQL, Stage.SQL).converted == 1  # in April
    assert quick.conversion(Stage.MQL, Stage.SQL).converted == 0  # 12 days > 7
    assert report.conversion(Stage.SQL, Stage.OPPORTUNITY).cohort == 1
    assert report.conversion(Stage.SQL, Stage.OPPORTUNITY).converted == 0
    # The MQL cohort of March falls in the week of Monday March 30.
    assert weekly.conversion(Stage.MQL, Stage.SQL, "2026-03-30").cohort == 1
    assert weekly.stage(Stage.MQL, "2026-03-02").entries == 1  # early, March 5


def test_a_negative_window_is_refused(engine: Engine) -> None:
    with engine.connect() as c, pytest.raises(ValueError, match="within_days"):
        funnel_report(c, Period(T0, T0 + timedelta(days=1)), within_days=-1)


def test_two_entries_in_one_instant_count_one_first_entry(
    uow_factory: Callable[[], SqlUnitOfWork], default_model: int, engine: Engine
) -> None:
    """A lead moved lead → mql → recycled → mql within one instant has two MQL entries at
    the same time: the lower transition id is its first, so it is in the cohort once."""
    at = datetime(2026, 3, 10, 12, tzinfo=UTC)
    lead = _lead(uow_factory, "burst@acme.example", datetime(2026, 3, 1, tzinfo=UTC))
    for stage in (Stage.MQL, Stage.RECYCLED, Stage.MQL, Stage.SQL):
        _move(uow_factory, lead, stage, at)
    march = Period(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
    with engine.connect() as c:
        report = funnel_report(c, march)
    mql = report.stage(Stage.MQL)
    assert (mql.entries, mql.leads, mql.first_entries) == (2, 1, 1)
    conversion = report.conversion(Stage.MQL, Stage.SQL)
    assert (conversion.cohort, conversion.converted) == (1, 1)  # same instant counts


def test_employee_bands_at_their_edges(
    uow_factory: Callable[[], SqlUnitOfWork], default_model: int, engine: Engine
) -> None:
    at = datetime(2026, 3, 2, tzinfo=UTC)
    sizes: dict[str, int | None] = {"ten.example": 10, "eleven.example": 11, "fifty.example": 50}
    sizes |= {"fiftyone.example": 51, "thousand.example": 1000, "big.example": 5001}
    sizes["unknown.example"] = None
    upsert_accounts(
        uow_factory(), [AccountIn(domain=d, employees=n) for d, n in sizes.items()], now=at
    )
    upsert_leads(uow_factory(), [LeadIn(email=f"a@{d}") for d in sizes], now=at)
    with engine.connect() as c:
        report = funnel_report(c, Period(at, at + timedelta(days=1)), by=Dimension.EMPLOYEE_BAND)
    created: dict[str | None, int] = {
        r.group: r.entries for r in report.stages if r.stage is Stage.LEAD
    }
    assert created == {
        "1-10": 1,
        "11-50": 2,
        "51-200": 1,
        "201-1000": 1,
        "5001+": 1,
        None: 1,
    }
    assert [r.group for r in report.stages if r.stage is Stage.LEAD] == [
        "1-10",
        "11-50",
        "51-200",
        "201-1000",
        "5001+",
        None,
    ]
