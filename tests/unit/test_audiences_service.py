"""Saved audiences on the in-memory unit of work: conditions on stage, score, attributes and
nurture track, refreshes that report who joined and left, and the ``audience.changed``
pushes they queue. (The export against an independent SQL query and a real webhook
receiver are in tests/integration/test_audiences_sync.py.)"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from leadgate.services.audiences import AudienceNotFound, create_audience, refresh_audience
from leadgate.services.commands import AccountIn, LeadIn
from leadgate.services.errors import InvalidInput
from leadgate.services.feedback import Feedback, record_feedback
from leadgate.services.handoff_queries import EXPORT_COLUMNS, export_audience
from leadgate.services.ingest import ingest_touchpoints
from leadgate.services.models import activate_model
from leadgate.services.ports import Endpoint, OutboxMessage
from leadgate.services.profiles import upsert_accounts, upsert_leads
from tests.conftest import T0
from tests.fakes import FakeUnitOfWork
from tests.integration.helpers import SIMPLE_MODEL, touch

# Leads in Germany with 40 points or more that marketing or sales is working on.
HOT_IN_GERMANY: list[dict[str, Any]] = [
    {"field": "account.country", "op": "eq", "value": "de"},
    {"field": "score", "op": "gte", "value": 40},
    {"field": "stage", "op": "in", "value": ["mql", "sql"]},
]


@pytest.fixture
def world() -> FakeUnitOfWork:
    """Four leads; webinars count 20 points each and never decay.

    ann: vp at a German software company, fit 30 + 20 = 50, MQL (in the audience)
    bea: vp at a US software company, 50, MQL (wrong country)
    cem: no seniority at the German software company, fit 10 + 20 = 30 (too few points)
    dan: vp at a German retailer, fit 20 + 20 = 40, MQL (in the audience)
    """
    uow = FakeUnitOfWork()
    activate_model(uow, SIMPLE_MODEL, now=T0, actor="test")
    upsert_accounts(
        uow,
        [
            AccountIn("soft.de", industry="software", country="DE"),
            AccountIn("soft.com", industry="software", country="US"),
            AccountIn("shop.de", industry="retail", country="DE"),
        ],
        now=T0,
    )
    upsert_leads(
        uow,
        [
            LeadIn(email="ann@soft.de", seniority="vp", first_name="Ann"),
            LeadIn(email="bea@soft.com", seniority="vp"),
            LeadIn(email="cem@soft.de"),
            LeadIn(email="dan@shop.de", seniority="vp", last_name="Dorn"),
        ],
        now=T0,
    )
    webinars = [
        touch(f"w-{email}", "webinar_attended", T0, email=email)
        for email in ["ann@soft.de", "bea@soft.com", "cem@soft.de", "dan@shop.de"]
    ]
    ingest_touchpoints(uow, webinars, now=T0)
    return uow


def lead_ids(uow: FakeUnitOfWork) -> dict[str, int]:
    with uow:
        ids = [i for chunk in uow.leads.id_chunks(100) for i in chunk]
        leads = uow.leads.get_many(ids)
    return {(lead.email or "").split("@")[0]: lead_id for lead_id, lead in leads.items()}


def webhook(uow: FakeUnitOfWork, name: str = "ads-sync", *, active: bool = True) -> Endpoint:
    with uow:
        endpoint = uow.outbox.add_endpoint(
            name=name,
            kind="webhook",
            config={"url": "http://127.0.0.1:9/hook", "secret": "x" * 16},
            events=["audience.changed"],
            now=T0,
        )
        uow.outbox.set_endpoint_active(endpoint.id, active)
        uow.commit()
    return endpoint


def pushes(uow: FakeUnitOfWork) -> list[OutboxMessage]:
    with uow:
        return [m for m in uow.outbox.messages(limit=1000) if m.event_type == "audience.changed"]


def changes(uow: FakeUnitOfWork) -> list[tuple[list[str], list[str]]]:
    """What was queued for the sync tool, push by push: (joined emails, left emails)."""
    return [
        (
            [m["email"] for m in push.notification["payload"]["added"]],
            [m["email"] for m in push.notification["payload"]["removed"]],
        )
        for push in pushes(uow)
    ]


def members(uow: FakeUnitOfWork, audience_id: int) -> set[int]:
    with uow:
        return uow.audiences.members(audience_id)


def test_refresh_reports_joins_and_leaves_and_queues_them_for_the_endpoint(
    world: FakeUnitOfWork,
) -> None:
    endpoint = webhook(world)
    audience = create_audience(
        world, name="hot-de", conditions=HOT_IN_GERMANY, endpoint_id=endpoint.id, now=T0
    )
    ids = lead_ids(world)

    first = refresh_audience(world, audience.id, now=T0 + timedelta(minutes=1))
    assert (first.members, first.added, first.removed) == (2, 2, 0)
    assert members(world, audience.id) == {ids["ann"], ids["dan"]}

    # ann unsubscribes (50 - 20 = 30: leaves); cem attends a second webinar (50: joins).
    later = T0 + timedelta(hours=1)
    ingest_touchpoints(
        world,
        [
            touch("unsub-ann", "email_unsubscribe", later, email="ann@soft.de"),
            touch("w2-cem", "webinar_attended", later, email="cem@soft.de"),
        ],
        now=later,
    )
    second = refresh_audience(world, audience.id, now=later + timedelta(minutes=1))
    assert (second.members, second.added, second.removed) == (2, 1, 1)
    # Nothing changed since: nothing to push.
    third = refresh_audience(world, audience.id, now=later + timedelta(minutes=2))
    assert (third.added, third.removed) == (0, 0)

    assert changes(world) == [
        (["ann@soft.de", "dan@shop.de"], []),
        (["cem@soft.de"], ["ann@soft.de"]),
    ]
    queued = pushes(world)
    assert {m.endpoint_id for m in queued} == {endpoint.id}
    pushed = queued[1].notification["payload"]
    assert pushed["audience"] == {"id": str(audience.id), "name": "hot-de"}
    assert pushed["added"][0]["account_domain"] == "soft.de"


def test_a_paused_endpoint_gets_no_pushes_but_membership_stays_current(
    world: FakeUnitOfWork,
) -> None:
    endpoint = webhook(world, "paused-sync", active=False)
    audience = create_audience(
        world, name="paused", conditions=HOT_IN_GERMANY, endpoint_id=endpoint.id, now=T0
    )
    result = refresh_audience(world, audience.id, now=T0 + timedelta(minutes=1))
    assert (result.members, result.added) == (2, 2)
    ids = lead_ids(world)
    assert members(world, audience.id) == {ids["ann"], ids["dan"]}
    assert pushes(world) == []


def test_an_audience_of_a_nurture_track_holds_the_leads_recycled_into_it(
    world: FakeUnitOfWork,
) -> None:
    ids = lead_ids(world)
    for name, track in (("ann", "long_term"), ("dan", "general")):
        record_feedback(
            world,
            Feedback(ids[name], "recycled", "rep@seller.io", "bad_timing", nurture_track=track),
            now=T0 + timedelta(hours=1),
        )
    conditions: list[dict[str, Any]] = [
        {"field": "nurture_track", "op": "eq", "value": "long_term"}
    ]
    audience = create_audience(
        world, name="long-term", conditions=conditions, endpoint_id=None, now=T0
    )
    result = refresh_audience(world, audience.id, now=T0 + timedelta(hours=2))
    assert result.members == 1
    assert members(world, audience.id) == {ids["ann"]}


def test_the_export_lists_the_members_with_their_score(world: FakeUnitOfWork) -> None:
    audience = create_audience(
        world, name="hot-de", conditions=HOT_IN_GERMANY, endpoint_id=None, now=T0
    )
    rows: list[dict[str, Any]] = [
        dict(zip(EXPORT_COLUMNS, row, strict=True)) for row in export_audience(world, audience.id)
    ]
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


def test_large_changes_are_pushed_in_batches_each_with_its_own_key(
    world: FakeUnitOfWork,
) -> None:
    endpoint = webhook(world, "nurture-tool")
    everyone: list[dict[str, Any]] = [{"field": "email", "op": "exists", "value": True}]
    audience = create_audience(
        world, name="all", conditions=everyone, endpoint_id=endpoint.id, now=T0
    )
    assert refresh_audience(world, audience.id, now=T0, push_batch=3).added == 4
    batches = changes(world)
    assert [len(joined) for joined, _ in batches] == [3, 1]
    assert sorted(e for joined, _ in batches for e in joined) == [
        "ann@soft.de",
        "bea@soft.com",
        "cem@soft.de",
        "dan@shop.de",
    ]
    assert len({m.idempotency_key for m in pushes(world)}) == 2


@pytest.mark.parametrize(
    ("conditions", "message"),
    [
        ([{"field": "grade", "op": "bigger", "value": 1}], r"^conditions\[0\]\.op: 'bigger'"),
        ([{"op": "eq", "value": 1}], r"^conditions\[0\]\.field: required"),
        (["grade"], r"^conditions\[0\]: expected an object"),
        (
            [{"field": "stage", "value": "mql"}, {"field": "score", "op": "gte", "value": "hi"}],
            r"^conditions\[1\]\.value: `gte` takes a number, found 'hi'",
        ),
        (
            [{"field": "score", "op": "between", "value": 50}],
            r"^conditions\[0\]\.value: `between` takes \[low, high\] numbers",
        ),
        (
            [{"field": "score", "op": "between", "value": [80, 20]}],
            r"^conditions\[0\]\.value: `between` takes \[low, high\] numbers",
        ),
        (
            [{"field": "grade", "op": "in", "value": "AB"}],
            r"^conditions\[0\]\.value: `in` takes a non-empty list",
        ),
        (
            [{"field": "email", "op": "regex", "value": "(unclosed"}],
            r"^conditions\[0\]\.value: not a regular expression",
        ),
        (
            [{"field": "title", "op": "eq", "value": ["a", "b"]}],
            r"^conditions\[0\]\.value: `eq` takes one value",
        ),
    ],
)
def test_bad_conditions_are_refused_naming_the_condition_and_nothing_is_stored(
    world: FakeUnitOfWork, conditions: list[Any], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        create_audience(world, name="bad", conditions=conditions, endpoint_id=None, now=T0)
    with world:
        assert world.audiences.all() == []


def test_a_duplicate_name_an_unknown_endpoint_or_audience_is_refused(
    world: FakeUnitOfWork,
) -> None:
    create_audience(world, name="hot-de", conditions=HOT_IN_GERMANY, endpoint_id=None, now=T0)
    with pytest.raises(InvalidInput, match=r"^name: an audience named 'hot-de' exists"):
        create_audience(world, name=" hot-de ", conditions=[], endpoint_id=None, now=T0)
    with pytest.raises(InvalidInput, match=r"^endpoint_id: no endpoint 999"):
        create_audience(world, name="other", conditions=[], endpoint_id=999, now=T0)
    with pytest.raises(AudienceNotFound):
        refresh_audience(world, 999, now=T0)
    with world:
        assert [a.name for a in world.audiences.all()] == ["hot-de"]
