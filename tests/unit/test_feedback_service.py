"""What sales says back, through ``record_feedback`` on the in-memory unit of work: accept
with BANT, recycle into a nurture track, disqualify, opportunity, won and lost. Each
decision writes an outcome and a transition with its actor; a refused one writes nothing
at all."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest

from leadgate.domain.handoffs import HandoffStatus
from leadgate.domain.lifecycle import ActorType, Stage
from leadgate.services.commands import AccountIn, LeadIn
from leadgate.services.errors import InvalidInput, LeadNotFound
from leadgate.services.feedback import Feedback, record_feedback
from leadgate.services.handoffs import hand_off_manually
from leadgate.services.ingest import ingest_touchpoints
from leadgate.services.models import activate_model
from leadgate.services.ports import OutboxMessage
from leadgate.services.profiles import upsert_accounts, upsert_leads
from tests.conftest import T0
from tests.fakes import FakeUnitOfWork
from tests.integration.helpers import SIMPLE_MODEL, touch

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
def world() -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    activate_model(uow, ACCEPTING_MODEL, now=T0, actor="test")
    with uow:
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
    upsert_accounts(uow, [AccountIn("acme.io", industry="software")], now=T0)
    return uow


def sales_ready(uow: FakeUnitOfWork, email: str = "hal@acme.io") -> int:
    """A grade-A lead whose demo request and webinar (80 points) make it sales-ready: an
    MQL handed to sales, waiting for the rep to accept."""
    (lead_id,) = upsert_leads(uow, [LeadIn(email=email, seniority="vp")], now=T0).ids
    ingest_touchpoints(
        uow,
        [
            touch(f"d-{email}", "demo_request", T0, email=email),
            touch(f"w-{email}", "webinar_attended", T0, email=email),
        ],
        now=T0,
    )
    return lead_id


def state(uow: FakeUnitOfWork, lead_id: int) -> dict[str, Any]:
    """What a feedback command writes about a lead, read through the repositories."""
    with uow:
        lead = uow.leads.get_many([lead_id])[lead_id]
        return {
            "stage": lead.stage.value,
            "nurture_track": uow.handoffs.nurture_tracks([lead_id]).get(lead_id),
            "handoffs": [(h.status.value, h.closed_at) for h in uow.handoffs.for_lead(lead_id)],
        }


def outcomes(uow: FakeUnitOfWork, lead_id: int) -> list[Any]:
    with uow:
        return uow.handoffs.outcomes_for(lead_id)


def transitions(uow: FakeUnitOfWork, lead_id: int) -> list[Any]:
    with uow:
        return uow.transitions.for_lead(lead_id)


def outbox(uow: FakeUnitOfWork, event: str) -> list[OutboxMessage]:
    with uow:
        return [m for m in uow.outbox.messages(limit=1000) if m.event_type == event]


def refused(
    uow: FakeUnitOfWork, feedback: Feedback, message: str, error: type[Exception] = InvalidInput
) -> None:
    before = copy.deepcopy(uow.database.committed)
    with pytest.raises(error, match=message):
        record_feedback(uow, feedback, now=LATER)
    assert uow.database.committed == before  # nothing at all written, not even half


def test_accepting_with_bant_makes_the_lead_an_sql_and_closes_the_handoff(
    world: FakeUnitOfWork,
) -> None:
    lead_id = sales_ready(world)
    before = state(world, lead_id)
    assert before["stage"] == "mql"
    assert [status for status, _ in before["handoffs"]] == ["pending"]

    bant = {"budget": "50k EUR", "authority": "VP signs", "need": "scoring", "timeline": "Q3"}
    result = record_feedback(world, Feedback(lead_id, "accepted", REP, details=bant), now=LATER)
    assert (result.from_stage, result.to_stage) == (Stage.MQL, Stage.SQL)

    last = transitions(world, lead_id)[-1]
    assert (last.from_stage, last.to_stage, last.actor, last.actor_type) == (
        Stage.MQL,
        Stage.SQL,
        REP,
        ActorType.USER,
    )
    assert last.reason == "sales: accepted"
    assert last.occurred_at == LATER
    # The score the decision was made on: fit 30, webinar 20 (no decay), and the demo's
    # 30 points one hour into their 10-day half-life.
    assert last.total == pytest.approx(30 + 20 + 30 * 0.5 ** (1 / 240))
    with world as uow:
        (handoff,) = uow.handoffs.for_lead(lead_id)
    assert (handoff.status, handoff.closed_at) == (HandoffStatus.ACCEPTED, LATER)
    assert handoff.first_touch_at == LATER  # answering is touching
    (outcome,) = outcomes(world, lead_id)
    assert (outcome.kind, outcome.actor, outcome.handoff_id) == ("accepted", REP, handoff.id)
    assert outcome.details == bant


def test_an_unknown_bant_answer_is_refused_and_nothing_is_written(world: FakeUnitOfWork) -> None:
    lead_id = sales_ready(world)
    refused(
        world,
        Feedback(lead_id, "accepted", REP, details={"budget": "yes", "budgte": "typo"}),
        r"^bant: unknown answer 'budgte'",
    )


def test_recycling_names_the_nurture_track_announces_it_and_rejects_the_handoff(
    world: FakeUnitOfWork,
) -> None:
    lead_id = sales_ready(world)
    result = record_feedback(
        world,
        Feedback(
            lead_id, "recycled", REP, reason="no_budget", note="next FY", nurture_track="long_term"
        ),
        now=LATER,
    )
    assert result.to_stage is Stage.RECYCLED
    after = state(world, lead_id)
    assert (after["stage"], after["nurture_track"]) == ("recycled", "long_term")
    assert [status for status, _ in after["handoffs"]] == ["rejected"]
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


def test_recycling_without_a_track_uses_the_default_one(world: FakeUnitOfWork) -> None:
    lead_id = sales_ready(world)
    record_feedback(world, Feedback(lead_id, "recycled", REP, reason="bad_timing"), now=LATER)
    assert state(world, lead_id)["nurture_track"] == "general"


@pytest.mark.parametrize(
    ("feedback", "message"),
    [
        pytest.param(
            {"kind": "recycled", "reason": "too_busy"},
            r"^reason: unknown recycle reason 'too_busy'; one of: bad_timing, no_budget, other",
            id="unknown-recycle-reason",
        ),
        pytest.param(
            {"kind": "recycled"}, r"^reason: a recycle reason is required", id="no-reason"
        ),
        pytest.param(
            {"kind": "recycled", "reason": "bad_timing", "nurture_track": "drip"},
            r"^nurture_track: unknown track 'drip'; one of general, long_term",
            id="unknown-track",
        ),
        pytest.param(
            {"kind": "disqualified", "reason": "other"},
            r"^note: reason 'other' needs a note",
            id="other-without-note",
        ),
        pytest.param(
            {"kind": "disqualified", "reason": "other", "note": "   "},
            r"^note: reason 'other' needs a note",
            id="other-with-blank-note",
        ),
        pytest.param(
            {"kind": "disqualified", "reason": "no_budget"},
            r"^reason: unknown disqualify reason 'no_budget'",
            id="recycle-reason-to-disqualify",
        ),
        pytest.param({"kind": "lost"}, r"^reason: say why the deal was lost", id="lost-no-reason"),
        pytest.param(
            {"kind": "won"},
            r"mql → customer is not in the transition table",
            id="won-before-opportunity",
        ),
    ],
)
def test_a_refused_decision_writes_nothing(
    world: FakeUnitOfWork, feedback: dict[str, Any], message: str
) -> None:
    lead_id = sales_ready(world)
    refused(world, Feedback(lead_id, actor=REP, **feedback), message)


def test_disqualifying_as_other_with_a_note_is_recorded_and_announced(
    world: FakeUnitOfWork,
) -> None:
    lead_id = sales_ready(world)
    record_feedback(
        world,
        Feedback(lead_id, "disqualified", REP, reason="other", note="a student project"),
        now=LATER,
    )
    after = state(world, lead_id)
    assert after["stage"] == "disqualified"
    assert [status for status, _ in after["handoffs"]] == ["rejected"]
    (notice,) = outbox(world, "lead.disqualified")
    assert (notice.notification["payload"]["reason"], notice.notification["payload"]["note"]) == (
        "other",
        "a student project",
    )
    assert outbox(world, "lead.recycled") == []


@pytest.mark.parametrize(
    ("details", "message"),
    [
        ({"amount": -5}, r"^amount: -5 is not a non-negative number"),
        ({"amount": "lots"}, r"^amount: 'lots' is not a non-negative number"),
        ({"amount": True}, r"^amount: True is not a non-negative number"),
        ({"amount": 10, "expected_close": "next week"}, r"^expected_close: 'next week' is not a"),
        ({"amount": 10, "expected_close": "2026-02-30"}, r"^expected_close: '2026-02-30' is not"),
    ],
)
def test_an_opportunity_with_a_bad_amount_or_close_date_is_refused(
    world: FakeUnitOfWork, details: dict[str, Any], message: str
) -> None:
    lead_id = sales_ready(world)
    record_feedback(world, Feedback(lead_id, "accepted", REP), now=LATER)
    refused(world, Feedback(lead_id, "opportunity", REP, details=details), message)


def test_the_whole_road_to_won_and_a_lost_deal_leave_transitions_and_outcomes(
    world: FakeUnitOfWork,
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
        result = record_feedback(world, feedback, now=LATER + timedelta(days=i))
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


def test_a_lead_pushed_by_hand_before_it_was_an_mql_can_be_sent_back(world: FakeUnitOfWork) -> None:
    (lead_id,) = upsert_leads(world, [LeadIn(email="early@acme.io")], now=T0).ids
    hand_off_manually(world, lead_id, now=T0)
    assert state(world, lead_id)["stage"] == "lead"
    record_feedback(world, Feedback(lead_id, "recycled", REP, reason="bad_timing"), now=LATER)
    last = transitions(world, lead_id)[-1]
    assert (last.from_stage, last.to_stage, last.override) == (Stage.LEAD, Stage.RECYCLED, True)
    assert [status for status, _ in state(world, lead_id)["handoffs"]] == ["rejected"]


def test_feedback_on_an_unknown_lead_is_refused(world: FakeUnitOfWork) -> None:
    with pytest.raises(LeadNotFound):
        record_feedback(world, Feedback(999, "accepted", REP), now=LATER)
