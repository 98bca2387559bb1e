"""SLA clocks with a controllable clock, through the real use cases and both databases:
the owner's first touch found by the watcher's join of handoffs and touchpoints, a breach
that reassigns the lead, and two watchers ticking at once. Business-hour deadlines,
warnings, alerts and the rest of the watcher are checked on the in-memory unit of work
(tests/unit/test_sla_service.py).

Expected instants are worked out by hand from the calendars in CONFIG, in comments.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from leadgate.domain.handoffs import Handoff, HandoffStatus
from leadgate.domain.sla import SlaStatus
from leadgate.services.commands import AccountIn, LeadIn
from leadgate.services.handoffs import hand_off_manually
from leadgate.services.ingest import ingest_touchpoints
from leadgate.services.ports import OutboxMessage
from leadgate.services.profiles import upsert_accounts, upsert_leads
from leadgate.services.sla_watch import watch_slas
from tests.conftest import T0
from tests.integration.helpers import UowFactory, activate_simple, touch

BERLIN = ZoneInfo("Europe/Berlin")
SECOND = timedelta(seconds=1)

CONFIG = """
calendars:
  berlin:
    timezone: Europe/Berlin
    hours: {weekdays: "09:00-17:00"}
    holidays: [2026-04-03, 2026-04-06]  # Good Friday, Easter Monday
  new_york:
    timezone: America/New_York
    hours: {weekdays: "09:00-17:00"}
    holidays: [2026-07-03]
teams:
  emea:
    strategy: round_robin
    calendar: berlin
    manager: eva@seller.io
    members:
      - {id: ann@seller.io}
      - id: bob@seller.io
        out_of_office: [{from: "2026-05-04T00:00:00Z", to: "2026-05-06T00:00:00Z"}]
  na:
    strategy: round_robin
    calendar: new_york
    manager: nick@seller.io
    members:
      - {id: jake@seller.io}
      - {id: priya@seller.io}
routing:
  default_team: emea
  rules:
    - {id: north_america, team: na, when: [{field: account.country, in: [US, CA]}]}
sla:
  default: standard
  policies:
    - id: hot
      when: [{field: trigger, eq: demo_request}]
      first_touch_hours: 1
      warn_at: 0.5
      on_breach: {reassign: true}
    - {id: standard, first_touch_hours: 4, warn_at: 0.5}
"""


def local(zone: ZoneInfo, *args: int) -> datetime:
    """A wall-clock time in ``zone`` as the UTC instant the database stores."""
    return datetime(*args, tzinfo=zone).astimezone(UTC)  # type: ignore[misc]


def store_config(uow_factory: UowFactory, text: str, at: datetime) -> None:
    with uow_factory() as uow:
        version = uow.configs.add("handoff", text, now=at, actor="test").version
        uow.configs.activate("handoff", version, at)
        uow.commit()


@pytest.fixture
def world(uow_factory: UowFactory) -> UowFactory:
    activate_simple(uow_factory, T0)
    store_config(uow_factory, CONFIG, T0)
    upsert_accounts(
        uow_factory(),
        [
            AccountIn("acme.de", industry="software", country="DE"),
            AccountIn("acme.com", industry="software", country="US"),
        ],
        now=T0,
    )
    with uow_factory() as uow:
        uow.outbox.add_endpoint(
            name="alerts",
            kind="webhook",
            config={"url": "http://127.0.0.1:9/hook", "secret": "x" * 16},
            events=["sla.warning", "sla.breached", "handoff.created", "handoff.queued"],
            now=T0,
        )
        uow.commit()
    return uow_factory


def new_lead(uow_factory: UowFactory, email: str, at: datetime) -> int:
    (lead_id,) = upsert_leads(uow_factory(), [LeadIn(email=email, seniority="vp")], now=at).ids
    return lead_id


def push(uow_factory: UowFactory, email: str, at: datetime) -> Handoff:
    """A lead handed to sales by hand at ``at``: the standard policy (4 business hours)."""
    return hand_off_manually(uow_factory(), new_lead(uow_factory, email, at), now=at)


def demo(uow_factory: UowFactory, email: str, at: datetime) -> Handoff:
    """A grade-A lead asking for a demo at ``at``: the hot policy (1 business hour)."""
    lead_id = new_lead(uow_factory, email, at)
    ingest_touchpoints(
        uow_factory(), [touch(f"demo-{email}", "demo_request", at, email=email)], now=at
    )
    return handoffs_of(uow_factory, lead_id)[0]


def handoffs_of(uow_factory: UowFactory, lead_id: int) -> list[Handoff]:
    with uow_factory() as uow:
        return uow.handoffs.for_lead(lead_id)


def outbox(uow_factory: UowFactory, event: str) -> list[OutboxMessage]:
    with uow_factory() as uow:
        return [m for m in uow.outbox.messages(limit=1000) if m.event_type == event]


def payload(message: OutboxMessage) -> Any:
    return message.notification["payload"]


def sales_call(uow_factory: UowFactory, email: str, at: datetime, mid: str, **props: Any) -> None:
    ingest_touchpoints(uow_factory(), [touch(mid, "sales_call", at, email=email, **props)], now=at)


def test_the_owners_first_touch_before_the_deadline_meets_the_sla(world: UowFactory) -> None:
    handoff = push(world, "met@acme.de", local(BERLIN, 2026, 3, 3, 10))  # due 14:00
    assert handoff.due_at is not None
    touched = local(BERLIN, 2026, 3, 3, 13, 30)
    sales_call(world, "met@acme.de", touched, "call-1", rep="ANN@seller.io")

    tick = watch_slas(world(), now=touched + timedelta(minutes=1))
    assert tick.met == 1
    (stored,) = handoffs_of(world, handoff.lead_id)
    assert (stored.sla_status, stored.first_touch_at) == (SlaStatus.MET, touched)
    # Met is final: no warning, no breach, however late the watcher looks again.
    assert watch_slas(world(), now=handoff.due_at + timedelta(days=3)).breached == 0
    assert outbox(world, "sla.breached") == []


def test_a_breach_with_reassign_hands_the_lead_to_another_rep(world: UowFactory) -> None:
    # A demo request Tuesday 10:00 Berlin: the hot policy, due 11:00, reassign on breach.
    first = demo(world, "hot@acme.de", local(BERLIN, 2026, 3, 3, 10))
    assert (first.sla_policy, first.owner) == ("hot", "ann@seller.io")
    assert first.due_at == local(BERLIN, 2026, 3, 3, 11)
    breach_at = first.due_at + SECOND

    tick = watch_slas(world(), now=breach_at)
    assert (tick.breached, tick.reassigned) == (1, 1)
    old, new = handoffs_of(world, first.lead_id)
    assert (old.id, old.status, old.sla_status) == (
        first.id,
        HandoffStatus.REASSIGNED,
        SlaStatus.BREACHED,
    )
    assert old.closed_at == breach_at
    assert (new.status, new.owner, new.sla_status) == (
        HandoffStatus.PENDING,
        "bob@seller.io",
        SlaStatus.OPEN,
    )
    # The new rep gets a new clock under the same policy: one business hour from now.
    assert new.sla_policy == "hot"
    assert new.due_at == breach_at + timedelta(hours=1)
    with world() as uow:
        assert uow.leads.get_many([first.lead_id])[first.lead_id].owner == "bob@seller.io"
    (breach,) = outbox(world, "sla.breached")
    assert payload(breach)["reassigned_to"] == "bob@seller.io"
    assert payload(breach)["handoff"]["owner"] == "ann@seller.io"
    assert breach.notification["recipients"] == ["ann@seller.io", "eva@seller.io", "bob@seller.io"]
    created = [payload(m)["handoff"]["id"] for m in outbox(world, "handoff.created")]
    assert created == [first.id, new.id]


def test_two_watchers_at_once_breach_and_reassign_each_handoff_once(world: UowFactory) -> None:
    # Two worker processes tick at the same moment over ten breached handoffs.
    firsts = [demo(world, f"race{i}@acme.de", local(BERLIN, 2026, 3, 3, 10)) for i in range(10)]
    due = max(h.due_at for h in firsts if h.due_at is not None)
    start = threading.Barrier(2)
    ticks: list[Any] = []

    def watcher() -> None:
        try:
            start.wait(timeout=10)
            ticks.append(watch_slas(world(), now=due + SECOND))
        except BaseException as exc:  # surfaced below, not lost in the thread
            ticks.append(exc)

    threads = [threading.Thread(target=watcher) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not [t for t in ticks if isinstance(t, BaseException)], ticks
    assert sum(t.breached for t in ticks) == 10
    assert sum(t.reassigned for t in ticks) == 10
    for first in firsts:
        old, *rest = handoffs_of(world, first.lead_id)
        assert old.status is HandoffStatus.REASSIGNED
        assert [h.status for h in rest] == [HandoffStatus.PENDING]  # one successor each
    assert len(outbox(world, "sla.breached")) == 10
