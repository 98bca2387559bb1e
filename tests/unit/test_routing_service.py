"""Routing through the real use cases on the in-memory unit of work: capacity,
out-of-office, account ownership, round-robin across membership changes, weighted
round-robin, least-loaded, and the queue when nobody can take a lead (the manager is
told; the first rep to free up gets it). A restart and two workers at once are in
tests/integration/test_routing_handoffs.py, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from itertools import pairwise

import pytest

from leadgate.domain.handoffs import Handoff, HandoffStatus
from leadgate.services.commands import AccountIn, LeadIn
from leadgate.services.errors import InvalidInput
from leadgate.services.feedback import Feedback, record_feedback
from leadgate.services.handoffs import hand_off_manually
from leadgate.services.ingest import ingest_touchpoints
from leadgate.services.models import activate_model
from leadgate.services.ports import OutboxMessage
from leadgate.services.profiles import upsert_accounts, upsert_leads
from leadgate.services.sla_watch import watch_slas
from tests.conftest import T0
from tests.fakes import FakeUnitOfWork
from tests.integration.helpers import SIMPLE_MODEL, touch

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


def store_config(uow: FakeUnitOfWork, text: str, at: datetime) -> int:
    with uow:
        version = uow.configs.add("handoff", text, now=at, actor="test").version
        uow.configs.activate("handoff", version, at)
        uow.commit()
    return version


@pytest.fixture
def world() -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    activate_model(uow, SIMPLE_MODEL, now=T0, actor="test")
    store_config(uow, CONFIG, T0)
    upsert_accounts(uow, [AccountIn("acme.io", industry="software")], now=T0)
    with uow:
        uow.outbox.add_endpoint(
            name="managers",
            kind="webhook",
            config={"url": "http://127.0.0.1:9/hook", "secret": "x" * 16},
            events=["handoff.created", "handoff.queued"],
            now=T0,
        )
        uow.commit()
    return uow


_serial = iter(range(1_000_000))


def push(
    uow: FakeUnitOfWork,
    country: str = "DE",
    at: datetime = T0,
    *,
    domain: str = "acme.io",
) -> Handoff:
    """A new lead of ``country`` pushed to sales by hand at ``at``."""
    email = f"lead{next(_serial)}@{domain}"
    (lead_id,) = upsert_leads(
        uow, [LeadIn(email=email, seniority="vp", country=country)], now=at
    ).ids
    return hand_off_manually(uow, lead_id, now=at)


def owners(handoffs: list[Handoff]) -> list[str | None]:
    return [h.owner for h in handoffs]


def pending(uow: FakeUnitOfWork) -> list[Handoff]:
    with uow:
        return uow.handoffs.listing(status="pending", limit=1000)


def outbox(uow: FakeUnitOfWork, event: str) -> list[OutboxMessage]:
    with uow:
        return [m for m in uow.outbox.messages(limit=1000) if m.event_type == event]


def test_round_robin_goes_on_across_membership_changes(world: FakeUnitOfWork) -> None:
    assert owners([push(world), push(world), push(world)]) == [
        "ann@seller.io",
        "bob@seller.io",
        "cid@seller.io",
    ]
    # A new version adds dan: the turn goes on after cid, it does not restart at ann.
    with_dan = CONFIG.replace("{id: cid@seller.io}]", "{id: cid@seller.io}, {id: dan@seller.io}]")
    store_config(world, with_dan, T0 + timedelta(hours=1))
    assert push(world).owner == "dan@seller.io"
    # The next version drops dan (the last assigned) and puts eve first: the turn passes
    # to whoever came after dan (ann, wrapping round), not to eve.
    without_dan = CONFIG.replace(
        "[{id: ann@seller.io}", "[{id: eve@seller.io}, {id: ann@seller.io}"
    )
    store_config(world, without_dan, T0 + timedelta(hours=2))
    assert owners([push(world), push(world), push(world), push(world)]) == [
        "ann@seller.io",
        "bob@seller.io",
        "cid@seller.io",
        "eve@seller.io",
    ]


def test_a_full_rep_is_skipped_not_waited_for(world: FakeUnitOfWork) -> None:
    first, second, third = push(world, "ES"), push(world, "ES"), push(world, "ES")
    # Round robin would give the third to full@ again; at capacity 1 it is skipped.
    assert owners([first, second, third]) == [
        "full@seller.io",
        "free@seller.io",
        "free@seller.io",
    ]
    assert "'full@seller.io' full (1 of 1 open)" in third.routing_reason


def test_a_rep_out_of_office_is_skipped_and_back_after(world: FakeUnitOfWork) -> None:
    during = [push(world, "PT", T0), push(world, "PT", T0 + timedelta(days=1))]
    assert owners(during) == ["here@seller.io", "here@seller.io"]
    assert "'gone@seller.io' out of office until 2026-03-04 00:00 UTC" in during[0].routing_reason
    back = push(world, "PT", datetime(2026, 3, 4, 0, 0, tzinfo=T0.tzinfo))
    assert back.owner == "gone@seller.io"


def test_the_accounts_owner_gets_the_lead(world: FakeUnitOfWork) -> None:
    upsert_accounts(
        world, [AccountIn("owned.io", industry="software", owner="CID@seller.io")], now=T0
    )
    # Round robin would start at ann; the account belongs to cid, and to the team by
    # the rules (FR → weighted) ownership wins over both.
    handoff = push(world, "FR", domain="owned.io")
    assert (handoff.owner, handoff.team) == ("cid@seller.io", "rr")
    assert "the account's owner 'cid@seller.io'" in handoff.routing_reason
    # Ownership did not take a round-robin turn: the pool starts at ann.
    assert push(world).owner == "ann@seller.io"
    with world as uow:
        lead = uow.leads.get_many([handoff.lead_id])[handoff.lead_id]
    assert lead.owner == "cid@seller.io"


def test_weighted_round_robin_deals_in_proportion_across_batches_and_transactions(
    world: FakeUnitOfWork,
) -> None:
    # 20 leads cross the gate in one ingest (one transaction, one routing call) ...
    emails = [f"fr{i}@acme.io" for i in range(20)]
    upsert_leads(world, [LeadIn(email=e, seniority="vp", country="FR") for e in emails], now=T0)
    ingest_touchpoints(
        world, [touch(f"d-{e}", "demo_request", T0, email=e) for e in emails], now=T0
    )
    batch = pending(world)
    # ... and 20 more are pushed one at a time (twenty transactions).
    single = [push(world, "FR") for _ in range(20)]
    assert Counter(owners(batch)) == {"big@seller.io": 15, "small@seller.io": 5}
    assert Counter(owners(single)) == {"big@seller.io": 15, "small@seller.io": 5}
    # Smooth: the light rep is interleaved, never two in a row.
    sequence = owners(sorted(batch, key=lambda h: h.id or 0)) + owners(single)
    assert all(not (a == b == "small@seller.io") for a, b in pairwise(sequence))


def test_least_loaded_gives_the_lead_to_the_rep_with_fewest_open_handoffs(
    world: FakeUnitOfWork,
) -> None:
    first = [push(world, "IT") for _ in range(3)]
    assert owners(first) == ["l1@seller.io", "l2@seller.io", "l3@seller.io"]
    fourth = push(world, "IT")
    assert fourth.owner == "l1@seller.io"  # all tied at one: round-robin order
    # l2 accepts its lead: its handoff closes and it now has the fewest open.
    record_feedback(world, Feedback(first[1].lead_id, "accepted", "l2@seller.io"), now=T0)
    nxt = push(world, "IT")
    assert nxt.owner == "l2@seller.io"
    assert "least loaded (0 open)" in nxt.routing_reason


def test_with_nobody_eligible_the_lead_waits_the_manager_is_told_and_the_first_free_rep_gets_it(
    world: FakeUnitOfWork,
) -> None:
    taken = push(world, "NL")
    assert taken.owner == "solo@seller.io"
    waiting = push(world, "NL", T0 + timedelta(minutes=1))
    later = push(world, "NL", T0 + timedelta(minutes=2))
    assert (waiting.owner, waiting.team, waiting.status) == (None, "tiny", HandoffStatus.PENDING)
    assert waiting.due_at is not None  # its clock runs while it waits
    assert "the lead waits in the team queue" in waiting.routing_reason

    queued = outbox(world, "handoff.queued")
    assert [m.notification["payload"]["handoff"]["id"] for m in queued] == [waiting.id, later.id]
    alert = queued[0].notification["payload"]
    assert alert["handoff"]["manager"] == "t.boss@seller.io"
    assert "'solo@seller.io' full (1 of 1 open)" in alert["reason"]

    # Nothing frees up: the watcher leaves the queue as it is.
    assert watch_slas(world, now=T0 + timedelta(minutes=3)).assigned == 0
    # solo recycles the first lead; the oldest in the queue goes to solo at once.
    record_feedback(
        world,
        Feedback(taken.lead_id, "recycled", "solo@seller.io", reason="bad_timing"),
        now=T0 + timedelta(minutes=4),
    )
    with world as uow:
        now_waiting = uow.handoffs.get(waiting.id or 0)
        still = uow.handoffs.get(later.id or 0)
        lead = uow.leads.get_many([waiting.lead_id])[waiting.lead_id]
    assert now_waiting is not None and still is not None
    assert now_waiting.owner == "solo@seller.io"
    assert now_waiting.due_at == waiting.due_at  # the clock kept its start
    assert still.owner is None  # solo is full again
    assert lead.owner == "solo@seller.io"
    created = [m.notification["payload"]["handoff"] for m in outbox(world, "handoff.created")]
    assert [(h["id"], h["owner"]) for h in created] == [
        (taken.id, "solo@seller.io"),
        (waiting.id, "solo@seller.io"),
    ]


def test_pushing_a_lead_that_already_waits_is_refused_and_nothing_is_dropped(
    world: FakeUnitOfWork,
) -> None:
    push(world, "NL")
    waiting = push(world, "NL")
    with pytest.raises(InvalidInput, match=rf"already has pending handoff {waiting.id} "):
        hand_off_manually(world, waiting.lead_id, now=T0 + timedelta(minutes=1))
    assert [(h.owner, h.team) for h in pending(world)] == [
        ("solo@seller.io", "tiny"),
        (None, "tiny"),
    ]
