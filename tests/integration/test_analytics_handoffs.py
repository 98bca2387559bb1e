"""Handoff, SLA and reasons figures against a plain-Python recount (SQLite, PostgreSQL)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from leadgate.adapters.db.unit_of_work import SqlUnitOfWork
from leadgate.analytics.handoff_report import reasons_report, sla_report
from leadgate.analytics.periods import Period
from leadgate.domain.handoffs import Handoff
from leadgate.domain.lifecycle import ActorType, Stage
from leadgate.domain.routing import HandoffKind
from leadgate.services.commands import ChangeStage, LeadIn
from leadgate.services.feedback import Feedback, record_feedback
from leadgate.services.lifecycle import change_stage
from leadgate.services.profiles import upsert_leads
from tests.integration.test_analytics_data import Workspace, ws
from tests.integration.test_analytics_funnel import periods
from tests.integration.test_analytics_velocity import close, figures, summary

__all__ = ["ws"]

HOUR = timedelta(hours=1)
FORWARD = {"mql": "sql", "sql": "opportunity", "opportunity": "customer"}
KIND = {"recycled": "recycled", "disqualified": "disqualified", "lost": "lost"}


def test_sla_figures_match_the_handoffs(ws: Workspace) -> None:
    with ws.engine.connect() as c:
        reports = [(period, sla_report(c, period)) for period in periods(ws)]
    for period, report in reports:
        handoffs = [h for h in ws.log.handoffs if period.contains(h.created_at)]
        statuses = Counter(h.status for h in handoffs)
        slas = Counter(h.sla_status for h in handoffs if h.due_at is not None)
        speeds = [(h.first_touch_at - h.created_at) / HOUR for h in handoffs if h.first_touch_at]
        assert report.handoffs == len(handoffs)
        assert report.touched == len(speeds)
        assert close(figures(report.speed_hours), summary(speeds))
        assert (report.met, report.breached, report.open) == (
            slas["met"],
            slas["breached"],
            slas["open"],
        )
        assert report.without_sla == sum(1 for h in handoffs if h.due_at is None)
        assert (report.accepted, report.rejected, report.pending, report.reassigned) == (
            statuses["accepted"],
            statuses["rejected"],
            statuses["pending"],
            statuses["reassigned"],
        )
        decided = slas["met"] + slas["breached"]
        assert report.met_rate == (slas["met"] / decided if decided else None)
        answered = statuses["accepted"] + statuses["rejected"]
        assert report.acceptance_rate == (statuses["accepted"] / answered if answered else None)
        for kind, rows, attribute in (
            ("rep", report.by_rep, "owner"),
            ("team", report.by_team, "team"),
        ):
            mine: dict[str | None, list[Any]] = defaultdict(list)
            for h in handoffs:
                mine[getattr(h, attribute)].append(h)
            assert {g.name for g in rows} == set(mine), kind
            for group in rows:
                assert group.kind == kind
                own = mine[group.name]
                assert group.handoffs == len(own)
                assert group.breached == sum(
                    1 for h in own if h.due_at is not None and h.sla_status == "breached"
                )
                assert group.met == sum(
                    1 for h in own if h.due_at is not None and h.sla_status == "met"
                )
                own_speeds = [
                    (h.first_touch_at - h.created_at) / HOUR for h in own if h.first_touch_at
                ]
                assert close(figures(group.speed_hours), summary(own_speeds))


def test_the_workspace_has_breaches_and_answers(ws: Workspace) -> None:
    with ws.engine.connect() as c:
        report = sla_report(c, periods(ws)[0])
    assert report.breached > 0 and report.met > 0
    assert report.reassigned > 0  # the demo-request policy reassigns on breach
    assert report.speed_hours.count > 5 and report.speed_hours.p90 is not None
    assert sum(g.breached for g in report.by_rep) == report.breached
    assert sum(g.handoffs for g in report.by_team) == report.handoffs
    summary_table = {row[0]: row[1] for row in report.tables()[0].rows}
    assert summary_table["sla_breached"] == report.breached


def test_exits_and_reasons_match_the_log(ws: Workspace) -> None:
    with ws.engine.connect() as c:
        reports = [(period, reasons_report(c, period)) for period in periods(ws)]
    for period, report in reports:
        moves = [tr for tr in ws.log.transitions if period.contains(tr.occurred_at)]
        for stage_name, forward in FORWARD.items():
            out = Counter(tr.to_stage for tr in moves if tr.from_stage == stage_name)
            row = report.stage(Stage(stage_name))
            assert row.exits == sum(out.values())
            assert (row.advanced, row.recycled, row.disqualified, row.lost) == (
                out[forward],
                out["recycled"],
                out["disqualified"],
                out["lost"],
            )
            assert row.other == 0
        reasons: Counter[tuple[str, str, str]] = Counter()
        for tr in moves:
            if tr.to_stage not in KIND:
                continue
            given = [
                o.reason
                for o in sorted(ws.log.outcomes, key=lambda o: o.id)
                if o.lead_id == tr.lead_id
                and o.kind == KIND[tr.to_stage]
                and o.occurred_at == tr.occurred_at
                and o.reason is not None
            ]
            reasons[(tr.from_stage, tr.to_stage, given[0] if given else tr.reason)] += 1
        got = {(r.from_stage.value, r.to_stage.value, r.reason): r.count for r in report.reasons}
        assert got == dict(reasons)
        for r in report.reasons:
            total = sum(
                n for (a, b, _), n in reasons.items() if (a, b) == (r.from_stage, r.to_stage)
            )
            assert r.share == pytest.approx(r.count / total)


def test_reasons_come_from_outcomes_or_transitions(ws: Workspace) -> None:
    with ws.engine.connect() as c:
        report = reasons_report(c, periods(ws)[0])
    given = {r.reason for r in report.reasons}
    assert {"bad_timing", "no_budget"} & given  # from record_feedback's outcomes
    assert {"not decision maker", "competitor", "bad data", "no budget"} & given  # change_stage
    mql = report.stage(Stage.MQL)
    assert mql.exits > 0 and mql.recycle_rate is not None and 0 < mql.recycle_rate < 1


def test_an_empty_period(ws: Workspace) -> None:
    far = datetime(2031, 1, 1, tzinfo=UTC)
    with ws.engine.connect() as c:
        sla = sla_report(c, Period(far, far + HOUR))
        reasons = reasons_report(c, Period(far, far + HOUR))
    assert (sla.handoffs, sla.touched, sla.met_rate, sla.acceptance_rate) == (0, 0, None, None)
    assert sla.speed_hours.median is None and sla.by_rep == () and sla.by_team == ()
    assert all(e.exits == 0 and e.recycle_rate is None for e in reasons.exits)
    assert reasons.reasons == ()


def test_a_note_does_not_replace_the_reason(
    uow_factory: Callable[[], SqlUnitOfWork], default_model: int, engine: Engine
) -> None:
    """The outcome's reason code is the reason; the transition's text (which also holds
    the note) is only used when no outcome was recorded."""
    at = datetime(2026, 3, 10, tzinfo=UTC)
    ids = upsert_leads(
        uow_factory(), [LeadIn(email="a@x.example"), LeadIn(email="b@x.example")], now=at
    ).ids
    for lead in ids:
        change_stage(uow_factory(), ChangeStage(lead, Stage.MQL, "t", "rep", at=at), now=at)
    later = at + timedelta(days=1)
    record_feedback(
        uow_factory(),
        Feedback(ids[0], "recycled", "rep", reason="bad_timing", note="call in Q3"),
        now=later,
    )
    change_stage(
        uow_factory(),
        ChangeStage(ids[1], Stage.RECYCLED, "asked to wait", "crm", ActorType.API, at=later),
        now=later,
    )
    # Recycled again later, for another reason: each move finds its own outcome.
    again = later + timedelta(days=1)
    change_stage(uow_factory(), ChangeStage(ids[0], Stage.MQL, "back", "rep", at=again), now=again)
    record_feedback(
        uow_factory(), Feedback(ids[0], "recycled", "rep", reason="no_budget"), now=again
    )
    with engine.connect() as c:
        report = reasons_report(c, Period(at, at + timedelta(days=7)))
    assert {(r.reason, r.count, round(r.share, 4)) for r in report.reasons} == {
        ("bad_timing", 1, 0.3333),
        ("no_budget", 1, 0.3333),
        ("asked to wait", 1, 0.3333),
    }
    assert report.stage(Stage.MQL).recycle_rate == 1.0
    assert report.stage(Stage.MQL).exits == 3


def test_a_handoff_without_a_deadline_is_not_an_open_sla(
    uow_factory: Callable[[], SqlUnitOfWork], default_model: int, engine: Engine
) -> None:
    """A handoff stored without a due time (no SLA policy applied) counts as a handoff
    and in acceptance, but neither as met, breached nor open."""
    at = datetime(2026, 3, 10, 9, tzinfo=UTC)
    lead = upsert_leads(uow_factory(), [LeadIn(email="c@x.example")], now=at).ids[0]
    with uow_factory() as uow:
        uow.handoffs.add(
            Handoff(lead, HandoffKind.MANUAL, "emea", "rep@x.example", "by hand", at, due_at=None)
        )
        uow.commit()
    with engine.connect() as c:
        report = sla_report(c, Period(at, at + HOUR))
    assert (report.handoffs, report.without_sla, report.open, report.pending) == (1, 1, 0, 1)
    assert report.met_rate is None
    assert report.by_rep[0].name == "rep@x.example" and report.by_rep[0].open == 0
