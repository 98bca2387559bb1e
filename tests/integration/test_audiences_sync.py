"""Saved audiences on both databases: an export equal to an independent SQL query, and
membership changes pushed to a real local webhook receiver as ``audience.changed``.
Conditions, refreshes, batches, paused endpoints and refusals are checked on the
in-memory unit of work (tests/unit/test_audiences_service.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from leadgate.adapters.db import tables as t
from leadgate.adapters.db.unit_of_work import SqlUnitOfWork
from leadgate.adapters.notify.dispatch import Dispatcher
from leadgate.services.audiences import create_audience, refresh_audience
from leadgate.services.commands import AccountIn, LeadIn
from leadgate.services.delivery import deliver_due
from leadgate.services.handoff_queries import EXPORT_COLUMNS, export_audience
from leadgate.services.ingest import ingest_touchpoints
from leadgate.services.profiles import upsert_accounts, upsert_leads
from tests.conftest import T0
from tests.integration.helpers import UowFactory, activate_simple, touch
from tests.integration.receivers import SECRET, HttpReceiver, http_receiver

# Leads in Germany with 40 points or more that marketing or sales is working on.
HOT_IN_GERMANY = [
    {"field": "account.country", "op": "eq", "value": "de"},
    {"field": "score", "op": "gte", "value": 40},
    {"field": "stage", "op": "in", "value": ["mql", "sql"]},
]


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with http_receiver() as server:
        yield server


@pytest.fixture
def world(uow_factory: UowFactory) -> UowFactory:
    """Four leads; webinars count 20 points each and never decay.

    ann: vp at a German software company, fit 30 + 20 = 50, MQL (in the audience)
    bea: vp at a US software company, 50, MQL (wrong country)
    cem: no seniority at the German software company, fit 10 + 20 = 30 (too few points)
    dan: vp at a German retailer, fit 20 + 20 = 40, MQL (in the audience)
    """
    activate_simple(uow_factory, T0)
    upsert_accounts(
        uow_factory(),
        [
            AccountIn("soft.de", industry="software", country="DE"),
            AccountIn("soft.com", industry="software", country="US"),
            AccountIn("shop.de", industry="retail", country="DE"),
        ],
        now=T0,
    )
    upsert_leads(
        uow_factory(),
        [
            LeadIn(email="ann@soft.de", seniority="vp", first_name="Ann"),
            LeadIn(email="bea@soft.com", seniority="vp"),
            LeadIn(email="cem@soft.de"),
            LeadIn(email="dan@shop.de", seniority="vp", last_name="Dorn"),
        ],
        now=T0,
    )
    webinars = [
        touch(f"w-{name}", "webinar_attended", T0, email=email)
        for name, email in [
            ("ann", "ann@soft.de"),
            ("bea", "bea@soft.com"),
            ("cem", "cem@soft.de"),
            ("dan", "dan@shop.de"),
        ]
    ]
    ingest_touchpoints(uow_factory(), webinars, now=T0)
    return uow_factory


def lead_ids(uow_factory: UowFactory) -> dict[str, int]:
    with uow_factory() as uow:
        rows = uow.connection.execute(select(t.leads.c.email, t.leads.c.id)).all()
    return {email.split("@")[0]: lead_id for email, lead_id in rows}


def independent_export(uow_factory: UowFactory) -> list[dict[str, Any]]:
    """HOT_IN_GERMANY written as SQL by hand, to check the audience against."""
    leads, scores, accounts = t.leads, t.scores, t.accounts
    query = (
        select(
            leads.c.id,
            leads.c.email,
            leads.c.first_name,
            leads.c.last_name,
            accounts.c.domain,
            leads.c.stage,
            scores.c.grade,
            scores.c.total,
        )
        .join(scores, scores.c.lead_id == leads.c.id)
        .join(accounts, accounts.c.id == leads.c.account_id)
        .where(
            func.upper(accounts.c.country) == "DE",
            scores.c.total >= 40,
            leads.c.stage.in_(["mql", "sql"]),
        )
        .order_by(leads.c.id)
    )
    with uow_factory() as uow:
        rows = uow.connection.execute(query).all()
    return [
        {
            "lead_id": r.id,
            "email": r.email,
            "first_name": r.first_name,
            "last_name": r.last_name,
            "account_domain": r.domain,
            "stage": r.stage,
            "grade": r.grade,
            "score": round(r.total, 2),
        }
        for r in rows
    ]


def changes(receiver: HttpReceiver) -> list[tuple[list[str], list[str]]]:
    """What the receiver was told, push by push: (joined emails, left emails)."""
    return [
        (
            [m["email"] for m in r.json()["data"]["added"]],
            [m["email"] for m in r.json()["data"]["removed"]],
        )
        for r in receiver.delivered
    ]


def test_refresh_reports_joins_and_leaves_and_pushes_them_to_the_webhook(
    world: UowFactory, receiver: HttpReceiver
) -> None:
    with world() as uow:
        endpoint = uow.outbox.add_endpoint(
            name="ads-sync",
            kind="webhook",
            config={"url": receiver.url("/hook"), "secret": SECRET},
            events=["audience.changed"],
            now=T0,
        )
        uow.commit()
    audience = create_audience(
        world(), name="hot-de", conditions=HOT_IN_GERMANY, endpoint_id=endpoint.id, now=T0
    )
    ids = lead_ids(world)

    first = refresh_audience(world(), audience.id, now=T0 + timedelta(minutes=1))
    assert (first.members, first.added, first.removed) == (2, 2, 0)
    with world() as uow:
        assert uow.audiences.members(audience.id) == {ids["ann"], ids["dan"]}

    # ann unsubscribes (50 - 20 = 30: leaves); cem attends a second webinar (50: joins).
    later = T0 + timedelta(hours=1)
    ingest_touchpoints(
        world(),
        [
            touch("unsub-ann", "email_unsubscribe", later, email="ann@soft.de"),
            touch("w2-cem", "webinar_attended", later, email="cem@soft.de"),
        ],
        now=later,
    )
    second = refresh_audience(world(), audience.id, now=later + timedelta(minutes=1))
    assert (second.members, second.added, second.removed) == (2, 1, 1)
    # Nothing changed since: nothing to push.
    third = refresh_audience(world(), audience.id, now=later + timedelta(minutes=2))
    assert (third.added, third.removed) == (0, 0)

    with Dispatcher(timeout=5.0) as dispatcher:
        stats = deliver_due(world, dispatcher, lambda: later + timedelta(minutes=3))
    assert stats.delivered == 2
    assert all(r.signature_ok for r in receiver.requests)
    assert {r.headers["x-leadgate-event"] for r in receiver.requests} == {"audience.changed"}
    assert changes(receiver) == [
        (["ann@soft.de", "dan@shop.de"], []),
        (["cem@soft.de"], ["ann@soft.de"]),
    ]
    pushed = receiver.delivered[1].json()["data"]
    assert pushed["audience"] == {"id": str(audience.id), "name": "hot-de"}
    assert pushed["added"][0]["account_domain"] == "soft.de"


def export_rows(uow: SqlUnitOfWork, audience_id: int) -> list[dict[str, Any]]:
    """The export the CLI and API stream, as dicts by column."""
    return [
        dict(zip(EXPORT_COLUMNS, row, strict=True)) for row in export_audience(uow, audience_id)
    ]


def test_the_export_equals_an_independent_query(world: UowFactory) -> None:
    audience = create_audience(
        world(), name="hot-de", conditions=HOT_IN_GERMANY, endpoint_id=None, now=T0
    )
    rows = export_rows(world(), audience.id)
    assert rows == independent_export(world)
    assert [r["email"] for r in rows] == ["ann@soft.de", "dan@shop.de"]
    assert rows[1] == {
        "lead_id": lead_ids(world)["dan"],
        "email": "dan@shop.de",
        "first_name": None,
        "last_name": "Dorn",
        "account_domain": "shop.de",
        "stage": "mql",
        "grade": "B",
        "score": 40.0,
    }
    # After a change the export follows the leads, as the query does.
    ingest_touchpoints(
        world(),
        [touch("w2-cem", "webinar_attended", T0, email="cem@soft.de")],
        now=T0 + timedelta(minutes=1),
    )
    assert export_rows(world(), audience.id) == independent_export(world)
    assert len(independent_export(world)) == 3
