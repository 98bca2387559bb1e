"""What sales says back, through ``record_feedback`` on both databases: the road to won and
lost, a recycle into a nurture track, and a refusal after the stage had moved, which
writes nothing in any table. Every other decision and refusal is checked on the in-memory
unit of work (tests/unit/test_feedback_service.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from leadgate.adapters.db import tables as t
from leadgate.domain.lifecycle import Stage
from leadgate.services.commands import AccountIn, LeadIn
from leadgate.services.errors import InvalidInput
from leadgate.services.feedback import Feedback, record_feedback
from leadgate.services.ingest import ingest_touchpoints
from leadgate.services.models import activate_model
from leadgate.services.ports import OutboxMessage
from leadgate.services.profiles import upsert_accounts, upsert_leads
from tests.conftest import T0
from tests.integration.helpers import SIMPLE_MODEL, UowFactory, touch

# The simple model, but a rep must accept a sales-ready lead before it is an SQL.
ACCEPTING_MODEL = SIMPLE_MODEL.replace("gates:\n", "gates:\n  requires_acceptance: true\n", 1)

CONFIG = """
calendars:
  always:
    timezone: UTC
    hours: {weekdays: "00:00-24:00", sat: "00:00-24:00", sun: "00:00-24:00"}
teams:
  sales:
    calendar: always
    manager: boss@seller.io
    members: [{id: ann@seller.io}]
routing:
  default_team: sales
sla:
  default: standard
  policies:
    - {id: standard, first_touch_hours: 4}
recycle_reasons: [bad_timing, no_budget, other]
disqualify_reasons: [bad_fit, competitor, other]
nurture:
  tracks: [general, long_term]
  default: general
"""

REP = "ann@seller.io"
LATER = T0 + timedelta(hours=1)


@pytest.fixture
def world(uow_factory: UowFactory) -> UowFactory:
    activate_model(uow_factory(), ACCEPTING_MODEL, now=T0, actor="test")
    with uow_factory() as uow:
        version = uow.configs.add("handoff", CONFIG, now=T0, actor="test").version
        uow.configs.activate("handoff", version, T0)
        uow.outbox.add_endpoint(
            name="marketing",
            kind="webhook",
            config={"url": "http://127.0.0.1:9/hook", "secret": "x" * 16},
            events=["lead.recycled", "lead.disqualified"],
            now=T0,
        )
        uow.commit()
    upsert_accounts(uow_factory(), [AccountIn("acme.io", industry="software")], now=T0)
    return uow_factory


def sales_ready(uow_factory: UowFactory, email: str = "hal@acme.io") -> int:
    """A grade-A lead whose demo request and webinar (80 points) make it sales-ready: an
    MQL handed to sales, waiting for the rep to accept."""
    (lead_id,) = upsert_leads(uow_factory(), [LeadIn(email=email, seniority="vp")], now=T0).ids
    ingest_touchpoints(
        uow_factory(),
        [
            touch(f"d-{email}", "demo_request", T0, email=email),
            touch(f"w-{email}", "webinar_attended", T0, email=email),
        ],
        now=T0,
    )
    return lead_id


def state(uow_factory: UowFactory, lead_id: int) -> dict[str, Any]:
    """Everything a feedback command may write, read straight from the tables."""
    with uow_factory() as uow:
        c = uow.connection
        lead = c.execute(
            select(t.leads.c.stage, t.leads.c.nurture_track).where(t.leads.c.id == lead_id)
        ).one()
        return {
            "stage": lead.stage,
            "nurture_track": lead.nurture_track,
            "handoffs": c.execute(
                select(t.handoffs.c.status, t.handoffs.c.closed_at).where(
                    t.handoffs.c.lead_id == lead_id
                )
            ).all(),
            "transitions": c.execute(select(func.count()).select_from(t.transitions)).scalar_one(),
            "outcomes": c.execute(select(func.count()).select_from(t.outcomes)).scalar_one(),
            "outbox": c.execute(select(func.count()).select_from(t.outbox)).scalar_one(),
        }


def outcomes(uow_factory: UowFactory, lead_id: int) -> list[Any]:
    with uow_factory() as uow:
        return uow.handoffs.outcomes_for(lead_id)


def transitions(uow_factory: UowFactory, lead_id: int) -> list[Any]:
    with uow_factory() as uow:
        return uow.transitions.for_lead(lead_id)


def outbox(uow_factory: UowFactory, event: str) -> list[OutboxMessage]:
    with uow_factory() as uow:
        return [m for m in uow.outbox.messages(limit=1000) if m.event_type == event]


def refused(
    uow_factory: UowFactory, feedback: Feedback, message: str, error: type[Exception] = InvalidInput
) -> None:
    before = state(uow_factory, feedback.lead_id)
    with pytest.raises(error, match=message):
        record_feedback(uow_factory(), feedback, now=LATER)
    assert state(uow_factory, feedback.lead_id) == before  # nothing half-written


def test_recycling_names_the_nurture_track_announces_it_and_rejects_the_handoff(
    world: UowFactory,
) -> None:
    lead_id = sales_ready(world)
    result = record_feedback(
        world(),
        Feedback(
            lead_id, "recycled", REP, reason="no_budget", note="next FY", nurture_track="long_term"
        ),
        now=LATER,
    )
    assert result.to_stage is Stage.RECYCLED
    after = state(world, lead_id)
    assert (after["stage"], after["nurture_track"]) == ("recycled", "long_term")
    assert [h.status for h in after["handoffs"]] == ["rejected"]
    last = transitions(world, lead_id)[-1]
    assert (last.from_stage, last.to_stage, last.actor) == (Stage.MQL, Stage.RECYCLED, REP)
    assert last.reason == "sales: recycled — no_budget — next FY"

    (notice,) = outbox(world, "lead.recycled")
    data = notice.notification["payload"]
    assert (data["reason"], data["note"], data["nurture_track"]) == (
        "no_budget",
        "next FY",
        "long_term",
    )
    assert data["lead"]["email"] == "hal@acme.io"
    assert data["transition"]["to_stage"] == "recycled"
    (outcome,) = outcomes(world, lead_id)
    assert (outcome.kind, outcome.reason, outcome.note) == ("recycled", "no_budget", "next FY")


def test_a_decision_refused_after_the_stage_moved_writes_nothing_in_any_table(
    world: UowFactory,
) -> None:
    # The track is checked after the lead was recycled and its handoff closed: all of it,
    # in every table, must roll back.
    lead_id = sales_ready(world)
    refused(
        world,
        Feedback(lead_id, "recycled", REP, reason="bad_timing", nurture_track="drip"),
        r"^nurture_track: unknown track 'drip'; one of general, long_term",
    )


def test_the_whole_road_to_won_and_a_lost_deal_leave_transitions_and_outcomes(
    world: UowFactory,
) -> None:
    won_id, lost_id = sales_ready(world, "won@acme.io"), sales_ready(world, "lost@acme.io")
    steps = [
        (Feedback(won_id, "accepted", REP, details={"need": "yes"}), Stage.SQL),
        (
            Feedback(
                won_id,
                "opportunity",
                "ae@seller.io",
                details={"amount": 12000.5, "expected_close": "2026-06-30"},
            ),
            Stage.OPPORTUNITY,
        ),
        (Feedback(won_id, "won", "ae@seller.io", reason="best fit"), Stage.CUSTOMER),
        (Feedback(lost_id, "accepted", REP), Stage.SQL),
        (
            Feedback(lost_id, "opportunity", "ae@seller.io", details={"amount": 900}),
            Stage.OPPORTUNITY,
        ),
        (Feedback(lost_id, "lost", "ae@seller.io", reason="went with a competitor"), Stage.LOST),
    ]
    for i, (feedback, stage) in enumerate(steps):
        result = record_feedback(world(), feedback, now=LATER + timedelta(days=i))
        assert result.to_stage is stage

    # Analytics read transitions: every step is there with who decided it.
    road = [(tr.from_stage.value, tr.to_stage.value, tr.actor) for tr in transitions(world, won_id)]
    assert road == [
        ("lead", "mql", "gate:mql"),
        ("mql", "sql", REP),
        ("sql", "opportunity", "ae@seller.io"),
        ("opportunity", "customer", "ae@seller.io"),
    ]
    assert [tr.to_stage for tr in transitions(world, lost_id)][-1] is Stage.LOST
    won = outcomes(world, won_id)
    assert [o.kind for o in won] == ["accepted", "opportunity", "won"]
    assert won[1].details == {"amount": 12000.5, "expected_close": "2026-06-30"}
    assert won[2].reason == "best fit"
    lost = outcomes(world, lost_id)
    assert [(o.kind, o.reason) for o in lost][-1] == ("lost", "went with a competitor")
    # Only the acceptance answered the handoff; later outcomes have none pending.
    assert [o.handoff_id is not None for o in won] == [True, False, False]
