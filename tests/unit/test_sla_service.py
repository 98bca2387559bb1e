"""SLA clocks with a controllable clock, through the real use cases on the in-memory unit
of work: deadlines counted in business hours across nights, weekends, holidays, time zones and DST
changes (from a handoff configuration stored and activated like any version); the watcher
warns once, breaches on time, recognises the owner's first touch (and nobody else's),
and reassigns a breached handoff to another rep, never the breaching one.

Expected instants are worked out by hand from the calendars in CONFIG, in comments. Two
watchers at once are in tests/integration/test_sla_clock.py, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from leadgate.domain.handoffs import Handoff, HandoffStatus
from leadgate.domain.sla import SlaStatus
from leadgate.services.commands import AccountIn, LeadIn
from leadgate.services.feedback import record_first_touch
from leadgate.services.handoffs import hand_off_manually
from leadgate.services.ingest import ingest_touchpoints
from leadgate.services.models import activate_model
from leadgate.services.ports import OutboxMessage
from leadgate.services.profiles import upsert_accounts, upsert_leads
from leadgate.services.sla_watch import watch_slas
from tests.conftest import T0
from tests.fakes import FakeUnitOfWork
from tests.integration.helpers import SIMPLE_MODEL, touch

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
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
    return datetime(*args, tzinfo=zone).astimezone(UTC)  # type: ignore[arg-type, misc]


def store_config(uow: FakeUnitOfWork, text: str, at: datetime) -> None:
    with uow:
        version = uow.configs.add("handoff", text, now=at, actor="test").version
        uow.configs.activate("handoff", version, at)
        uow.commit()


@pytest.fixture
def world() -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    activate_model(uow, SIMPLE_MODEL, now=T0, actor="test")
    store_config(uow, CONFIG, T0)
    upsert_accounts(
        uow,
        [
            AccountIn("acme.de", industry="software", country="DE"),
            AccountIn("acme.com", industry="software", country="US"),
        ],
        now=T0,
    )
    with uow:
        uow.outbox.add_endpoint(
            name="alerts",
            kind="webhook",
            config={"url": "http://127.0.0.1:9/hook", "secret": "x" * 16},
            events=["sla.warning", "sla.breached", "handoff.created", "handoff.queued"],
            now=T0,
        )
        uow.commit()
    return uow


def new_lead(uow: FakeUnitOfWork, email: str, at: datetime) -> int:
    (lead_id,) = upsert_leads(uow, [LeadIn(email=email, seniority="vp")], now=at).ids
    return lead_id


def push(uow: FakeUnitOfWork, email: str, at: datetime) -> Handoff:
    """A lead handed to sales by hand at ``at``: the standard policy (4 business hours)."""
    return hand_off_manually(uow, new_lead(uow, email, at), now=at)


def demo(uow: FakeUnitOfWork, email: str, at: datetime) -> Handoff:
    """A grade-A lead asking for a demo at ``at``: the hot policy (1 business hour)."""
    lead_id = new_lead(uow, email, at)
    ingest_touchpoints(uow, [touch(f"demo-{email}", "demo_request", at, email=email)], now=at)
    return handoffs_of(uow, lead_id)[0]


def handoffs_of(uow: FakeUnitOfWork, lead_id: int) -> list[Handoff]:
    with uow:
        return uow.handoffs.for_lead(lead_id)


def outbox(uow: FakeUnitOfWork, event: str) -> list[OutboxMessage]:
    with uow:
        return [m for m in uow.outbox.messages(limit=1000) if m.event_type == event]


def payload(message: OutboxMessage) -> Any:
    return message.notification["payload"]


@pytest.mark.parametrize(
    ("email", "handed_off", "warn_at", "due_at"),
    [
        pytest.param(
            # Tuesday 16:00: one hour left today, three tomorrow morning.
            "night@acme.de",
            local(BERLIN, 2026, 3, 3, 16),
            local(BERLIN, 2026, 3, 4, 10),
            local(BERLIN, 2026, 3, 4, 12),
            id="overnight",
        ),
        pytest.param(
            # Friday 15:00: two hours on Friday, the weekend is closed, two on Monday.
            "weekend@acme.de",
            local(BERLIN, 2026, 3, 6, 15),
            local(BERLIN, 2026, 3, 6, 17),
            local(BERLIN, 2026, 3, 9, 11),
            id="weekend",
        ),
        pytest.param(
            # Thursday before Easter 16:00: Good Friday, the weekend and Easter Monday closed.
            "easter@acme.de",
            local(BERLIN, 2026, 4, 2, 16),
            local(BERLIN, 2026, 4, 7, 10),
            local(BERLIN, 2026, 4, 7, 12),
            id="holidays",
        ),
        pytest.param(
            # Friday 16:00 CET; Berlin moves to CEST on Sunday 29 March: Monday 12:00 CEST
            # is 10:00 UTC, not the 11:00 UTC a fixed offset would give.
            "dst@acme.de",
            local(BERLIN, 2026, 3, 27, 16),
            local(BERLIN, 2026, 3, 30, 10),
            local(BERLIN, 2026, 3, 30, 12),
            id="dst-berlin",
        ),
        pytest.param(
            # A US account goes to the New York team and its calendar: Friday 16:00 EST
            # (21:00 UTC); New York moves to EDT on Sunday 8 March, so Monday 12:00 EDT.
            "ny@acme.com",
            local(NEW_YORK, 2026, 3, 6, 16),
            local(NEW_YORK, 2026, 3, 9, 10),
            local(NEW_YORK, 2026, 3, 9, 12),
            id="new-york-dst",
        ),
    ],
)
def test_the_deadline_counts_business_hours_of_the_teams_calendar(
    world: FakeUnitOfWork, email: str, handed_off: datetime, warn_at: datetime, due_at: datetime
) -> None:
    handoff = push(world, email, handed_off)
    assert handoff.sla_policy == "standard"
    assert handoff.team == ("na" if email.endswith(".com") else "emea")
    assert (handoff.created_at, handoff.warn_at, handoff.due_at) == (handed_off, warn_at, due_at)
    # The stored row says the same after a round trip through the database.
    (stored,) = handoffs_of(world, handoff.lead_id)
    assert (stored.warn_at, stored.due_at) == (warn_at, due_at)


def test_the_watcher_warns_once_then_breaches_once_on_time(world: FakeUnitOfWork) -> None:
    # Friday 15:00 Berlin, 4 business hours: warn Friday 17:00, due Monday 11:00.
    handoff = push(world, "weekend@acme.de", local(BERLIN, 2026, 3, 6, 15))
    assert handoff.warn_at is not None and handoff.due_at is not None

    assert watch_slas(world, now=handoff.warn_at - SECOND).warned == 0
    assert outbox(world, "sla.warning") == []

    tick = watch_slas(world, now=handoff.warn_at)
    assert (tick.warned, tick.breached) == (1, 0)
    # Ticks after it send nothing new: the warning went out.
    assert watch_slas(world, now=handoff.warn_at + timedelta(minutes=1)).warned == 0
    assert watch_slas(world, now=handoff.due_at - SECOND).breached == 0
    (warning,) = outbox(world, "sla.warning")
    # Time left is business time: two working hours, not the 66 hours of the weekend.
    assert payload(warning)["remaining_seconds"] == 2 * 3600
    assert payload(warning)["handoff"]["owner"] == "ann@seller.io"
    assert payload(warning)["handoff"]["manager"] == "eva@seller.io"
    assert warning.notification["recipients"] == ["ann@seller.io"]

    # A touch at due_at exactly would be on time: nothing breaches at that instant.
    assert watch_slas(world, now=handoff.due_at).breached == 0
    tick = watch_slas(world, now=handoff.due_at + SECOND)
    assert (tick.warned, tick.breached, tick.reassigned) == (0, 1, 0)
    assert watch_slas(world, now=handoff.due_at + timedelta(hours=1)).breached == 0
    (breach,) = outbox(world, "sla.breached")
    assert payload(breach)["handoff"]["owner"] == "ann@seller.io"
    assert payload(breach)["handoff"]["manager"] == "eva@seller.io"
    assert payload(breach)["reassigned_to"] is None
    # The standard policy alerts both by default.
    assert breach.notification["recipients"] == ["ann@seller.io", "eva@seller.io"]
    (stored,) = handoffs_of(world, handoff.lead_id)
    assert (stored.status, stored.sla_status) == (HandoffStatus.PENDING, SlaStatus.BREACHED)
    assert stored.breached_at == handoff.due_at + SECOND
    assert stored.warned_at == handoff.warn_at


def test_a_breach_alerts_only_whom_on_breach_names(world: FakeUnitOfWork) -> None:
    quiet = CONFIG.replace(
        "{id: standard, first_touch_hours: 4, warn_at: 0.5}",
        "{id: standard, first_touch_hours: 4, on_breach: {alert_manager: false}}",
    )
    assert quiet != CONFIG
    store_config(world, quiet, T0)
    handoff = push(world, "quiet@acme.de", local(BERLIN, 2026, 3, 3, 10))
    assert handoff.due_at is not None
    assert watch_slas(world, now=handoff.due_at + SECOND).breached == 1
    (breach,) = outbox(world, "sla.breached")
    assert breach.notification["recipients"] == ["ann@seller.io"]


def test_overdue_is_business_time_when_the_watcher_sees_it_late(world: FakeUnitOfWork) -> None:
    # Due Monday 30 March 12:00 CEST; the first tick after it is Monday 18:00 CEST (the
    # worker was down): five business hours overdue (12:00-17:00), though six by the clock.
    handoff = push(world, "late@acme.de", local(BERLIN, 2026, 3, 27, 16))
    assert watch_slas(world, now=local(BERLIN, 2026, 3, 30, 18)).breached == 1
    (breach,) = outbox(world, "sla.breached")
    assert payload(breach)["overdue_seconds"] == 5 * 3600
    # The warning never went out on its own: the breach supersedes it.
    assert outbox(world, "sla.warning") == []
    (stored,) = handoffs_of(world, handoff.lead_id)
    assert stored.sla_status is SlaStatus.BREACHED


def sales_call(uow: FakeUnitOfWork, email: str, at: datetime, mid: str, **props: Any) -> None:
    ingest_touchpoints(uow, [touch(mid, "sales_call", at, email=email, **props)], now=at)


def test_the_owners_first_touch_before_the_deadline_meets_the_sla(world: FakeUnitOfWork) -> None:
    handoff = push(world, "met@acme.de", local(BERLIN, 2026, 3, 3, 10))  # due 14:00
    assert handoff.due_at is not None
    touched = local(BERLIN, 2026, 3, 3, 13, 30)
    sales_call(world, "met@acme.de", touched, "call-1", rep="ANN@seller.io")

    tick = watch_slas(world, now=touched + timedelta(minutes=1))
    assert tick.met == 1
    (stored,) = handoffs_of(world, handoff.lead_id)
    assert (stored.sla_status, stored.first_touch_at) == (SlaStatus.MET, touched)
    # Met is final: no warning, no breach, however late the watcher looks again.
    assert watch_slas(world, now=handoff.due_at + timedelta(days=3)).breached == 0
    assert outbox(world, "sla.breached") == []


def test_a_touch_by_another_rep_does_not_meet_the_owners_sla(world: FakeUnitOfWork) -> None:
    handoff = push(world, "other@acme.de", local(BERLIN, 2026, 3, 3, 10))  # due 14:00
    assert handoff.due_at is not None
    sales_call(world, "other@acme.de", local(BERLIN, 2026, 3, 3, 11), "call-x", rep="bob@seller.io")
    assert watch_slas(world, now=local(BERLIN, 2026, 3, 3, 11, 30)).met == 0
    tick = watch_slas(world, now=handoff.due_at + SECOND)
    assert tick.breached == 1
    (stored,) = handoffs_of(world, handoff.lead_id)
    assert (stored.sla_status, stored.first_touch_at) == (SlaStatus.BREACHED, None)


def test_a_touch_before_the_deadline_seen_after_it_still_meets_the_sla(
    world: FakeUnitOfWork,
) -> None:
    # The call is logged (ingested) only after the deadline, with its real time.
    handoff = push(world, "slowcrm@acme.de", local(BERLIN, 2026, 3, 3, 10))  # due 14:00
    assert handoff.due_at is not None
    after = handoff.due_at + timedelta(minutes=30)
    ingest_touchpoints(
        world,
        [
            touch(
                "call-late-log",
                "meeting_booked",
                handoff.due_at - timedelta(minutes=5),
                email="slowcrm@acme.de",
            )
        ],
        now=after,
    )
    tick = watch_slas(world, now=after)
    assert (tick.met, tick.breached) == (1, 0)


def test_an_explicit_first_touch_through_the_api_meets_the_sla(world: FakeUnitOfWork) -> None:
    handoff = push(world, "api@acme.de", local(BERLIN, 2026, 3, 3, 10))
    assert handoff.id is not None and handoff.due_at is not None
    touched = record_first_touch(world, handoff.id, at=handoff.due_at - timedelta(hours=1))
    assert touched.sla_status is SlaStatus.MET
    assert watch_slas(world, now=handoff.due_at + timedelta(hours=2)).breached == 0


def test_a_breach_with_reassign_hands_the_lead_to_another_rep(world: FakeUnitOfWork) -> None:
    # A demo request Tuesday 10:00 Berlin: the hot policy, due 11:00, reassign on breach.
    first = demo(world, "hot@acme.de", local(BERLIN, 2026, 3, 3, 10))
    assert (first.sla_policy, first.owner) == ("hot", "ann@seller.io")
    assert first.due_at == local(BERLIN, 2026, 3, 3, 11)
    breach_at = first.due_at + SECOND

    tick = watch_slas(world, now=breach_at)
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
    with world as uow:
        assert uow.leads.get_many([first.lead_id])[first.lead_id].owner == "bob@seller.io"
    (breach,) = outbox(world, "sla.breached")
    assert payload(breach)["reassigned_to"] == "bob@seller.io"
    assert payload(breach)["handoff"]["owner"] == "ann@seller.io"
    assert breach.notification["recipients"] == ["ann@seller.io", "eva@seller.io", "bob@seller.io"]
    created = [payload(m)["handoff"]["id"] for m in outbox(world, "handoff.created")]
    assert created == [first.id, new.id]


def test_a_reassignment_waits_in_the_queue_rather_than_go_back_to_the_breaching_rep(
    world: FakeUnitOfWork,
) -> None:
    # Bob is away 4-5 May; Ann's demo lead of Monday 4 May 10:00 breaches at 11:00.
    first = demo(world, "queue@acme.de", local(BERLIN, 2026, 5, 4, 10))
    assert first.owner == "ann@seller.io" and first.due_at is not None
    tick = watch_slas(world, now=first.due_at + SECOND)
    assert (tick.breached, tick.reassigned) == (1, 0)
    old, waiting = handoffs_of(world, first.lead_id)
    # The breached handoff is closed as reassigned; exactly one handoff is pending.
    assert old.status is HandoffStatus.REASSIGNED
    assert (waiting.status, waiting.owner) == (HandoffStatus.PENDING, None)
    (queued,) = outbox(world, "handoff.queued")
    assert payload(queued)["handoff"]["manager"] == "eva@seller.io"

    # Ann is free and eligible, but she breached it: the lead waits for someone else.
    assert watch_slas(world, now=local(BERLIN, 2026, 5, 5, 9)).assigned == 0
    (_, still) = handoffs_of(world, first.lead_id)
    assert still.owner is None
    # Bob is back on Wednesday: the queue gives it to him.
    assert watch_slas(world, now=local(BERLIN, 2026, 5, 6, 9)).assigned == 1
    (_, taken) = handoffs_of(world, first.lead_id)
    assert (taken.owner, taken.status) == ("bob@seller.io", HandoffStatus.PENDING)


def test_the_watcher_survives_a_configuration_that_dropped_the_handoffs_team_and_policy(
    world: FakeUnitOfWork,
) -> None:
    handoff = demo(world, "moved@acme.de", local(BERLIN, 2026, 3, 3, 10))
    assert handoff.due_at is not None
    # A new version renames the team and the policy the open handoff was made under.
    renamed = CONFIG.replace("emea", "europe").replace("id: hot", "id: urgent")
    store_config(world, renamed, T0 + timedelta(days=1))
    tick = watch_slas(world, now=handoff.due_at + SECOND)
    assert tick.breached == 1
    (breach,) = outbox(world, "sla.breached")
    assert payload(breach)["handoff"]["manager"] is None  # the old team is unknown now
    (stored,) = handoffs_of(world, handoff.lead_id)
    assert stored.sla_status is SlaStatus.BREACHED
