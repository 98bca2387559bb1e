"""Routing on both databases where the database is the point: round-robin that survives a
restart (a new engine, as a new process), and two workers draining the queue at once.
Capacity, out-of-office, ownership, weighted and least-loaded routing and the queue are
checked on the in-memory unit of work (tests/unit/test_routing_service.py)."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from leadgate.adapters.db.engine import build_engine
from leadgate.adapters.db.unit_of_work import SqlUnitOfWork
from leadgate.domain.handoffs import Handoff
from leadgate.services.commands import AccountIn, LeadIn
from leadgate.services.handoffs import assign_queued, hand_off_manually
from leadgate.services.ports import OutboxMessage
from leadgate.services.profiles import upsert_accounts, upsert_leads
from tests.conftest import T0
from tests.integration.helpers import UowFactory, activate_simple

# Teams are chosen by the lead's country; every calendar is open around the clock.
CONFIG = """
calendars:
  always:
    timezone: UTC
    hours: {weekdays: "00:00-24:00", sat: "00:00-24:00", sun: "00:00-24:00"}
teams:
  rr:
    strategy: round_robin
    calendar: always
    manager: rr.boss@seller.io
    members: [{id: ann@seller.io}, {id: bob@seller.io}, {id: cid@seller.io}]
  weighted:
    strategy: weighted_round_robin
    calendar: always
    manager: w.boss@seller.io
    members: [{id: big@seller.io, weight: 3}, {id: small@seller.io, weight: 1}]
  least:
    strategy: least_loaded
    calendar: always
    manager: l.boss@seller.io
    members: [{id: l1@seller.io}, {id: l2@seller.io}, {id: l3@seller.io}]
  capped:
    strategy: round_robin
    calendar: always
    manager: c.boss@seller.io
    members: [{id: full@seller.io, capacity: 1}, {id: free@seller.io}]
  away:
    strategy: round_robin
    calendar: always
    manager: a.boss@seller.io
    members:
      - id: gone@seller.io
        out_of_office: [{from: "2026-03-01T00:00:00Z", to: "2026-03-04T00:00:00Z"}]
      - {id: here@seller.io}
  holiday:
    strategy: round_robin
    calendar: always
    manager: h.boss@seller.io
    members:
      - id: sun@seller.io
        out_of_office: [{from: "2026-03-01T00:00:00Z", to: "2026-03-04T00:00:00Z"}]
      - id: sea@seller.io
        out_of_office: [{from: "2026-03-01T00:00:00Z", to: "2026-03-04T00:00:00Z"}]
  tiny:
    strategy: round_robin
    calendar: always
    manager: t.boss@seller.io
    members: [{id: solo@seller.io, capacity: 1}]
routing:
  default_team: rr
  rules:
    - {id: weighted, team: weighted, when: [{field: country, eq: FR}]}
    - {id: least, team: least, when: [{field: country, eq: IT}]}
    - {id: capped, team: capped, when: [{field: country, eq: ES}]}
    - {id: away, team: away, when: [{field: country, eq: PT}]}
    - {id: tiny, team: tiny, when: [{field: country, eq: NL}]}
    - {id: holiday, team: holiday, when: [{field: country, eq: GR}]}
sla:
  default: standard
  policies:
    - {id: standard, first_touch_hours: 4}
"""


def store_config(uow_factory: UowFactory, text: str, at: datetime) -> int:
    with uow_factory() as uow:
        version = uow.configs.add("handoff", text, now=at, actor="test").version
        uow.configs.activate("handoff", version, at)
        uow.commit()
    return version


@pytest.fixture
def world(uow_factory: UowFactory) -> UowFactory:
    activate_simple(uow_factory, T0)
    store_config(uow_factory, CONFIG, T0)
    upsert_accounts(uow_factory(), [AccountIn("acme.io", industry="software")], now=T0)
    with uow_factory() as uow:
        uow.outbox.add_endpoint(
            name="managers",
            kind="webhook",
            config={"url": "http://127.0.0.1:9/hook", "secret": "x" * 16},
            events=["handoff.created", "handoff.queued"],
            now=T0,
        )
        uow.commit()
    return uow_factory


_serial = iter(range(1_000_000))


def push(
    uow_factory: UowFactory,
    country: str = "DE",
    at: datetime = T0,
    *,
    domain: str = "acme.io",
) -> Handoff:
    """A new lead of ``country`` pushed to sales by hand at ``at``."""
    email = f"lead{next(_serial)}@{domain}"
    (lead_id,) = upsert_leads(
        uow_factory(), [LeadIn(email=email, seniority="vp", country=country)], now=at
    ).ids
    return hand_off_manually(uow_factory(), lead_id, now=at)


def owners(handoffs: list[Handoff]) -> list[str | None]:
    return [h.owner for h in handoffs]


def pending(uow_factory: UowFactory) -> list[Handoff]:
    with uow_factory() as uow:
        return uow.handoffs.listing(status="pending", limit=1000)


def outbox(uow_factory: UowFactory, event: str) -> list[OutboxMessage]:
    with uow_factory() as uow:
        return [m for m in uow.outbox.messages(limit=1000) if m.event_type == event]


def test_round_robin_survives_a_restart_and_membership_changes(
    world: UowFactory, engine: Engine
) -> None:
    assert owners([push(world), push(world)]) == ["ann@seller.io", "bob@seller.io"]

    # A restart: a new engine (new process), a new unit of work.
    restarted = build_engine(engine.url.render_as_string(hide_password=False))
    try:

        def factory() -> SqlUnitOfWork:
            return SqlUnitOfWork(restarted)

        assert push(factory).owner == "cid@seller.io"
        # A new version adds dan: the turn goes on after cid, it does not restart at ann.
        with_dan = CONFIG.replace(
            "{id: cid@seller.io}]", "{id: cid@seller.io}, {id: dan@seller.io}]"
        )
        store_config(factory, with_dan, T0 + timedelta(hours=1))
        assert push(factory).owner == "dan@seller.io"
        # The next version drops dan (the last assigned) and puts eve first: the turn
        # passes to whoever came after dan (ann, wrapping round), not to eve.
        without_dan = CONFIG.replace(
            "[{id: ann@seller.io}", "[{id: eve@seller.io}, {id: ann@seller.io}"
        )
        store_config(factory, without_dan, T0 + timedelta(hours=2))
        assert owners([push(factory), push(factory), push(factory), push(factory)]) == [
            "ann@seller.io",
            "bob@seller.io",
            "cid@seller.io",
            "eve@seller.io",
        ]
    finally:
        restarted.dispose()


def test_two_workers_draining_the_queue_at_once_assign_each_lead_once(world: UowFactory) -> None:
    # The whole team is away until 4 March: six leads wait in its queue.
    waiting = [push(world, "GR") for _ in range(6)]
    assert owners(waiting) == [None] * 6
    back = datetime(2026, 3, 4, 9, tzinfo=T0.tzinfo)
    start = threading.Barrier(2)
    results: list[Any] = []

    def drain() -> None:
        try:
            start.wait(timeout=10)
            with world() as uow:
                results.append(len(assign_queued(uow, back)))
                uow.commit()
        except BaseException as exc:  # surfaced below, not lost in the thread
            results.append(exc)

    threads = [threading.Thread(target=drain) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [0, 6]
    assigned = pending(world)
    # Dealt once, in turn: three each, and the created alerts match the stored owners.
    assert Counter(owners(assigned)) == {"sun@seller.io": 3, "sea@seller.io": 3}
    alerts = {
        m.notification["payload"]["handoff"]["id"]: m.notification["payload"]["handoff"]["owner"]
        for m in outbox(world, "handoff.created")
    }
    assert alerts == {h.id: h.owner for h in assigned}
    assert push(world, "GR", back).owner == "sun@seller.io"  # the turn was taken six times
