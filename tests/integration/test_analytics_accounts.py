"""Accounts ranked by engagement against a plain-Python recount (SQLite, PostgreSQL)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from leadgate.adapters.db.unit_of_work import SqlUnitOfWork
from leadgate.analytics.account_report import account_report
from leadgate.analytics.periods import Period
from leadgate.services.commands import AccountIn, LeadIn
from leadgate.services.ingest import ingest_touchpoints
from leadgate.services.profiles import upsert_accounts, upsert_leads
from tests.integration.helpers import touch
from tests.integration.test_analytics_data import Workspace, ws
from tests.integration.test_analytics_funnel import periods

__all__ = ["ws"]


@pytest.mark.parametrize("engaged_min", [10.0, 40.0])
def test_ranking_buying_group_touches_and_intent_match(ws: Workspace, engaged_min: float) -> None:
    log = ws.log
    period = periods(ws)[1]
    with ws.engine.connect() as c:
        report = account_report(c, period, limit=12, engaged_min=engaged_min)
    members: dict[int, list[int]] = defaultdict(list)
    for lead in log.leads.values():
        if lead.account_id is not None:
            members[lead.account_id].append(lead.id)
    figures = {}
    for account_id, leads in members.items():
        engagement = [log.scores[i].engagement for i in leads if i in log.scores]
        figures[account_id] = (
            sum(engagement),
            len(leads),
            sum(1 for e in engagement if e >= engaged_min),
        )
    ranked = sorted(figures, key=lambda a: (-figures[a][0], -figures[a][2], a))[:12]
    assert [a.account_id for a in report.accounts] == ranked
    for row in report.accounts:
        engagement, contacts, engaged = figures[row.account_id]
        assert row.engagement == pytest.approx(engagement)
        assert (row.contacts, row.engaged_contacts) == (contacts, engaged)
        assert row.domain == log.accounts[row.account_id].domain
        touches = [
            tp
            for lead_id in members[row.account_id]
            for tp in log.touchpoints.get(lead_id, [])
            if period.contains(tp.occurred_at)
        ]
        assert row.touches == len(touches)
        topics: dict[str, list[float]] = defaultdict(list)
        for tp in touches:
            if tp.name == "intent_surge" and tp.properties.get("topic") is not None:
                topics[tp.properties["topic"]].append(float(tp.properties["score"]))
        assert {(i.topic, i.surges, i.max_score) for i in row.intent} == {
            (topic, len(scores), max(scores)) for topic, scores in topics.items()
        }
        scores = [i.max_score or 0.0 for i in row.intent]
        assert scores == sorted(scores, reverse=True)
    assert any(row.intent for row in report.accounts)  # the comparison saw some intent


def test_hand_made_accounts(
    uow_factory: Callable[[], SqlUnitOfWork], default_model: int, engine: Engine
) -> None:
    at = datetime(2026, 3, 10, tzinfo=UTC)
    upsert_accounts(
        uow_factory(),
        [AccountIn(domain="hot.example", name="Hot"), AccountIn(domain="cold.example")],
        now=at,
    )
    upsert_leads(
        uow_factory(),
        [
            LeadIn(email="a@hot.example"),
            LeadIn(email="b@hot.example"),
            LeadIn(email="c@cold.example"),
            LeadIn(email="solo@gmail.com"),  # no account: in no ranking
        ],
        now=at,
    )
    ingest_touchpoints(
        uow_factory(),
        [
            touch("1", "webinar_attended", at, email="a@hot.example"),
            touch("2", "content_download", at, email="b@hot.example"),
            touch("3", "email_open", at, email="c@cold.example"),
            touch("4", "intent_surge", at, email="a@hot.example", topic="crm", score=70),
            touch("5", "intent_surge", at, email="b@hot.example", topic="crm", score="high"),
            touch("6", "intent_surge", at, email="b@hot.example", topic="ai", score=91),
            touch("7", "contact_sales", at, email="solo@gmail.com"),
        ],
        now=at,
    )
    with engine.connect() as c:
        report = account_report(c, Period(at, at + timedelta(days=1)), engaged_min=5)
        one = account_report(c, Period(at, at + timedelta(days=1)), limit=1)
        later = account_report(c, Period(at + timedelta(days=1), at + timedelta(days=2)))
    hot, cold = report.accounts
    assert (hot.domain, cold.domain) == ("hot.example", "cold.example")
    # a: webinar 20 + intent 10; b: download 10 + intent 10 + 10; c: one email open, 1.
    assert hot.engagement == pytest.approx(60) and cold.engagement == pytest.approx(1)
    assert hot.engaged_contacts == 2 and cold.engaged_contacts == 0
    assert (hot.contacts, hot.touches, cold.touches) == (2, 5, 1)
    # A score that is not a number still counts the surge, not the maximum.
    assert [(i.topic, i.surges, i.max_score) for i in hot.intent] == [
        ("ai", 1, 91.0),
        ("crm", 2, 70.0),
    ]
    assert [a.domain for a in one.accounts] == ["hot.example"]
    assert later.accounts[0].touches == 0 and later.accounts[0].intent == ()
    table = report.tables()[0]
    assert table.to_json()[0]["intent_topics"] == "ai (1×, max 91); crm (2×, max 70)"
    assert report.to_json()["accounts"][0]["rank"] == 1


def test_an_empty_workspace_has_no_accounts(engine: Engine) -> None:
    at = datetime(2026, 3, 10, tzinfo=UTC)
    with engine.connect() as c:
        assert account_report(c, Period(at, at + timedelta(days=1))).accounts == ()
        with pytest.raises(ValueError, match="limit"):
            account_report(c, Period(at, at + timedelta(days=1)), limit=0)
