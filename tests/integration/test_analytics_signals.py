"""Signals and precursors against a plain-Python recount (SQLite, PostgreSQL).

Rule matching in the recount uses each predicate's plain ``test`` (not the compiled fast
path the report uses) and its own sliding window for count rules.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from leadgate.adapters.db.unit_of_work import SqlUnitOfWork
from leadgate.adapters.model_yaml import load_model
from leadgate.analytics.periods import Period
from leadgate.analytics.signals import SignalsReport, signals_report
from leadgate.domain.lifecycle import ActorType, Stage
from leadgate.domain.scoring_model import EngagementRule
from leadgate.domain.touchpoints import Touchpoint
from leadgate.services.commands import ChangeStage, LeadIn
from leadgate.services.ingest import ingest_touchpoints
from leadgate.services.lifecycle import change_stage
from leadgate.services.profiles import upsert_leads
from tests.integration.helpers import touch
from tests.integration.test_analytics_data import SECOND_MODEL, Log, Workspace, ws
from tests.integration.test_analytics_funnel import periods

__all__ = ["ws"]

DAY = timedelta(days=1)


def wilson_reference(k: int, n: int) -> tuple[float, float] | None:
    """Wilson (1927), written out from the textbook formula with z = 1.96."""
    if n == 0:
        return None
    z, p = 1.959963984540054, k / n
    centre = (2 * n * p + z * z) / (2 * (n + z * z))
    spread = z * math.sqrt(z * z + 4 * n * p * (1 - p)) / (2 * (n + z * z))
    return max(0.0, centre - spread), min(1.0, centre + spread)


def had_rule(rule: EngagementRule, touches: list[object]) -> bool:
    matched = [
        tp.occurred_at  # type: ignore[attr-defined]
        for tp in touches
        if tp.name == rule.touchpoint  # type: ignore[attr-defined]
        and all(
            p.test(Touchpoint("", tp.name, tp.occurred_at, tp.properties).attribute(p.field))  # type: ignore[attr-defined]
            for p in rule.where
        )
    ]
    if rule.count is None:
        return bool(matched)
    window = rule.count.within_days
    for at in matched:
        recent = [x for x in matched if x <= at and (window is None or at - x <= window * DAY)]
        if len(recent) >= rule.count.at_least:
            return True
    return False


def expected_signals(
    log: Log, period: Period, rules: tuple[EngagementRule, ...], within: float | None
) -> dict[tuple[str, str], tuple[int, int, int, int]]:
    cohort: dict[int, tuple[datetime, bool]] = {}
    for lead_id in log.leads:
        first = log.first_entry(lead_id, Stage.MQL)
        if first is None or not period.contains(first[0]):
            continue
        at = first[0]
        done = any(
            later >= at and (within is None or later - at <= within * DAY)
            for later, _, _ in log.entries(lead_id, Stage.SQL)
        )
        cohort[lead_id] = (at, done)
    size = len(cohort)
    converted = sum(done for _, done in cohort.values())
    had: dict[tuple[str, str], set[int]] = defaultdict(set)
    for lead_id, (at, _) in cohort.items():
        before = [tp for tp in log.touchpoints.get(lead_id, []) if tp.occurred_at <= at]
        for tp in before:
            had[("touchpoint", tp.name)].add(lead_id)
        for rule in rules:
            if had_rule(rule, before):
                had[("rule", rule.id)].add(lead_id)
    found = {}
    for rule in rules:
        had.setdefault(("rule", rule.id), set())
    for key, leads in had.items():
        won = sum(cohort[lead][1] for lead in leads)
        found[key] = (len(leads), won, size - len(leads), converted - won)
    return found


def signal_counts(report: SignalsReport) -> dict[tuple[str, str], tuple[int, int, int, int]]:
    return {
        (s.kind, s.name): (s.with_leads, s.with_converted, s.without_leads, s.without_converted)
        for s in report.signals
    }


@pytest.mark.parametrize("within", [None, 3])
def test_signals_match_the_recount(ws: Workspace, within: float | None) -> None:
    rules = load_model(SECOND_MODEL).engagement_rules  # the active model at the end
    with ws.engine.connect() as c:
        for period in periods(ws):
            report = signals_report(c, period, within_days=within)
            assert report.model_version == 2
            assert signal_counts(report) == expected_signals(ws.log, period, rules, within)
            for s in report.signals:
                assert s.interval_with == pytest.approx(
                    wilson_reference(s.with_converted, s.with_leads)
                )
                assert s.interval_without == pytest.approx(
                    wilson_reference(s.without_converted, s.without_leads)
                )


def test_signals_say_something(ws: Workspace) -> None:
    with ws.engine.connect() as c:
        report = signals_report(c, periods(ws)[0])
        first_model = signals_report(c, periods(ws)[0], model_version=1)
    assert report.cohort > 20 and 0 < report.converted < report.cohort
    pricing = report.signal("rule", "pricing_page")
    assert pricing is not None and pricing.with_leads > 0 and pricing.lift is not None
    burst = report.signal("rule", "pricing_burst")  # a count rule: 3+ in 30 days
    assert burst is not None and 0 < burst.with_leads < pricing.with_leads
    views = report.signal("touchpoint", "page_view")
    assert views is not None and views.with_leads > pricing.with_leads
    assert first_model.model_version == 1
    assert signal_counts(first_model) == signal_counts(report)  # the same rules
    with ws.engine.connect() as c, pytest.raises(ValueError, match="no scoring model version 9"):
        signals_report(c, periods(ws)[0], model_version=9)


@pytest.mark.parametrize(("last", "window"), [(3, 30.0), (1, 2.0)])
def test_precursors_match_the_recount(ws: Workspace, last: int, window: float) -> None:
    period = periods(ws)[1]
    with ws.engine.connect() as c:
        report = signals_report(c, period, last=last, window_days=window, top=4)
    moves = [tr for tr in ws.log.transitions if period.contains(tr.occurred_at)]
    totals = Counter((tr.from_stage, tr.to_stage) for tr in moves)
    seen: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for tr in moves:
        recent = [
            tp
            for tp in ws.log.touchpoints.get(tr.lead_id, [])
            if tp.occurred_at <= tr.occurred_at and tr.occurred_at - tp.occurred_at <= window * DAY
        ]
        for name in {tp.name for tp in recent[-last:]}:
            seen[(tr.from_stage, tr.to_stage)][name] += 1
    want = set()
    for move, names in seen.items():
        ranked = sorted(names.items(), key=lambda item: (-item[1], item[0]))[:4]
        want |= {(*move, name, totals[move], n) for name, n in ranked}
    got = {
        (p.from_stage.value, p.to_stage.value, p.touchpoint, p.transitions, p.seen)
        for p in report.precursors
    }
    assert got == want and got


def test_hand_made_signal_and_empty_period(
    uow_factory: Callable[[], SqlUnitOfWork], default_model: int, engine: Engine
) -> None:
    """Two MQLs saw a webinar before qualifying and both became SQLs; two did not and one
    did. A touch after the MQL entry does not count."""
    at = datetime(2026, 3, 10, tzinfo=UTC)
    emails = [f"p{i}@gmail.com" for i in range(4)]
    ids = upsert_leads(uow_factory(), [LeadIn(email=e) for e in emails], now=at - 9 * DAY).ids
    ingest_touchpoints(
        uow_factory(),
        [
            touch("w0", "webinar_attended", at - 3 * DAY, email=emails[0]),
            touch("w1", "webinar_attended", at - 2 * DAY, email=emails[1]),
            touch("w2", "webinar_attended", at + DAY, email=emails[2]),  # after its MQL
            # 3 pricing visits within 30 days, inclusive, the last at the MQL instant.
            touch("p0", "page_view", at - 30 * DAY, email=emails[3], category="pricing"),
            touch("p1", "page_view", at - 15 * DAY, email=emails[3], category="pricing"),
            touch("p2", "page_view", at, email=emails[3], category="pricing"),
            touch("p3", "page_view", at - 40 * DAY, email=emails[2], category="pricing"),
            touch("p4", "page_view", at - 20 * DAY, email=emails[2], category="pricing"),
            touch("p5", "page_view", at - 5 * DAY, email=emails[2], category="pricing"),
        ],
        now=at - 8 * DAY,
    )

    def move(lead: int, stage: Stage, when: datetime) -> None:
        change_stage(
            uow_factory(), ChangeStage(lead, stage, "t", "r", ActorType.USER, at=when), now=when
        )

    for lead in ids:
        move(lead, Stage.MQL, at)
    for lead in (ids[0], ids[1], ids[2]):
        move(lead, Stage.SQL, at + 2 * DAY)
    march = Period(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
    with engine.connect() as c:
        report = signals_report(c, march)
        empty = signals_report(c, Period(at + 90 * DAY, at + 91 * DAY))
    webinar = report.signal("rule", "webinar_attended")
    assert webinar is not None
    assert (webinar.with_leads, webinar.with_converted) == (2, 2)
    assert (webinar.without_leads, webinar.without_converted) == (2, 1)
    assert webinar.rate_with == 1.0 and webinar.lift == 0.5
    assert report.signal("touchpoint", "webinar_attended") is not None
    burst = report.signal("rule", "pricing_burst")  # lead 2's visits span 35 days: no
    assert burst is not None and (burst.with_leads, burst.with_converted) == (1, 0)
    pricing = report.signal("rule", "pricing_page")
    assert pricing is not None and (pricing.with_leads, pricing.with_converted) == (2, 1)
    assert empty.cohort == 0 and empty.precursors == ()
    demo = empty.signal("rule", "demo_request")
    assert demo is not None and demo.with_leads == 0 and demo.rate_with is None
    assert demo.interval_with is None and demo.lift is None
