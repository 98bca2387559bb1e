"""SLA policies: choosing one for a handoff, its deadlines in business time, its status."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from leadgate.domain.accounts import Account
from leadgate.domain.calendar import WORKWEEK, BusinessCalendar
from leadgate.domain.leads import Lead
from leadgate.domain.predicates import Operator, Predicate
from leadgate.domain.routing import HandoffFacts, HandoffKind
from leadgate.domain.sla import (
    FIRST_TOUCH_TOUCHPOINTS,
    BreachActions,
    SlaError,
    SlaPolicies,
    SlaPolicy,
    SlaStatus,
    first_touch_at,
    is_first_touch,
    sla_status,
    start_clock,
)
from leadgate.domain.touchpoints import Touchpoint

BERLIN = ZoneInfo("Europe/Berlin")
H = timedelta(hours=1)
OFFICE = BusinessCalendar.weekly(
    "berlin", "Europe/Berlin", {d: [(time(9), time(17))] for d in WORKWEEK}
)
NY = BusinessCalendar.weekly(
    "new_york", "America/New_York", {d: [(time(9), time(17))] for d in WORKWEEK}
)
CALENDARS = {"berlin": OFFICE, "new_york": NY}

DEMO = SlaPolicy(
    "demo_request",
    H,
    applies_to=(Predicate("trigger", Operator.IN, ("demo_request", "contact_sales")),),
    on_breach=BreachActions(reassign_after_breach=True),
)
MANUAL = SlaPolicy(
    "manual", 8 * H, calendar="berlin", applies_to=(Predicate("kind", Operator.EQ, "manual"),)
)
ENTERPRISE = SlaPolicy(
    "enterprise_a",
    2 * H,
    applies_to=(Predicate("team", Operator.EQ, "enterprise"), Predicate("grade", Operator.EQ, "A")),
)
STANDARD = SlaPolicy("standard", 4 * H, warn_at=0.5)
POLICIES = SlaPolicies((DEMO, MANUAL, ENTERPRISE, STANDARD), default="standard")
LEAD = Lead(id=1, email="ann@acme.io", account=Account("acme.io", employees=5000))


def test_first_touch_names_are_the_sales_touchpoints() -> None:
    assert {"sales_call", "sales_email", "meeting_booked"} == FIRST_TOUCH_TOUCHPOINTS


@pytest.mark.parametrize(
    ("facts", "team", "expected"),
    [
        (HandoffFacts(trigger="demo_request"), "emea", "demo_request"),
        (HandoffFacts(kind=HandoffKind.MANUAL, trigger="contact_sales"), "emea", "demo_request"),
        (HandoffFacts(kind=HandoffKind.MANUAL), "emea", "manual"),
        (HandoffFacts(grade="A"), "enterprise", "enterprise_a"),
        (HandoffFacts(grade="B"), "enterprise", "standard"),
        (HandoffFacts(grade="A"), None, "standard"),
        (HandoffFacts(), "emea", "standard"),
    ],
)
def test_the_first_policy_that_applies_wins_else_the_default(
    facts: HandoffFacts, team: str | None, expected: str
) -> None:
    assert POLICIES.choose(LEAD, facts, team).id == expected


def test_policies_read_lead_and_account_attributes() -> None:
    big = SlaPolicy("big", H, applies_to=(Predicate("account.employees", Operator.GTE, 1000),))
    policies = SlaPolicies((big, STANDARD), "standard")
    assert policies.choose(LEAD, HandoffFacts()).id == "big"
    assert policies.choose(Lead(id=2), HandoffFacts()).id == "standard"


def test_deadlines_count_business_hours_from_the_handoff() -> None:
    friday = datetime(2026, 3, 27, 16, tzinfo=BERLIN)  # 1h before closing, DST on Sunday
    clock = STANDARD.start(friday, OFFICE)
    assert clock.started_at == datetime(2026, 3, 27, 15, tzinfo=UTC)
    assert clock.warn_at == datetime(2026, 3, 30, 10, tzinfo=BERLIN)  # 2h: 1 Fri + 1 Mon
    assert clock.due_at == datetime(2026, 3, 30, 12, tzinfo=BERLIN)
    assert (clock.policy, clock.calendar) == ("standard", "berlin")


def test_a_policy_without_warning() -> None:
    clock = SlaPolicy("quiet", H, warn_at=None).start(datetime(2026, 3, 2, 9, tzinfo=UTC), OFFICE)
    assert clock.warn_at is None
    assert not clock.warning_due(None, clock.due_at)


def test_the_policy_calendar_or_else_the_team_calendar() -> None:
    monday = datetime(2026, 3, 2, 14, tzinfo=UTC)  # 15:00 Berlin, 09:00 New York
    demo = start_clock(
        POLICIES, CALENDARS, LEAD, HandoffFacts(trigger="demo_request"), "na", "new_york", monday
    )
    assert (demo.policy, demo.calendar) == ("demo_request", "new_york")
    assert demo.due_at == datetime(2026, 3, 2, 15, tzinfo=UTC)
    manual = start_clock(
        POLICIES, CALENDARS, LEAD, HandoffFacts(kind=HandoffKind.MANUAL), "na", "new_york", monday
    )
    assert manual.calendar == "berlin"  # the policy's own calendar wins
    with pytest.raises(SlaError, match="names no calendar"):
        start_clock(POLICIES, CALENDARS, LEAD, HandoffFacts(), "emea", None, monday)
    with pytest.raises(SlaError, match="unknown calendar 'tokyo'"):
        start_clock(POLICIES, CALENDARS, LEAD, HandoffFacts(), "apac", "tokyo", monday)


def test_status_open_met_breached() -> None:
    due = datetime(2026, 3, 2, 13, tzinfo=UTC)
    before, after = due - H, due + H
    assert sla_status(due, None, before) is SlaStatus.OPEN
    assert sla_status(due, None, due) is SlaStatus.OPEN  # due means "by due_at"
    assert sla_status(due, None, due + timedelta(microseconds=1)) is SlaStatus.BREACHED
    assert sla_status(due, before, after) is SlaStatus.MET
    assert sla_status(due, due, due) is SlaStatus.MET
    assert sla_status(due, after, after) is SlaStatus.BREACHED  # touched, but late
    # A touch that has not happened yet at ``now`` does not count (replays "as of" a time).
    assert sla_status(due, after, before) is SlaStatus.OPEN
    with pytest.raises(ValueError, match="no time zone"):
        sla_status(datetime(2026, 3, 2), None, before)


def test_the_warning_is_due_between_warn_at_and_due_at_while_untouched() -> None:
    clock = STANDARD.start(datetime(2026, 3, 2, 9, tzinfo=BERLIN), OFFICE)
    assert clock.warn_at == datetime(2026, 3, 2, 11, tzinfo=BERLIN)
    assert not clock.warning_due(None, clock.warn_at - H)
    assert clock.warning_due(None, clock.warn_at)
    assert not clock.warning_due(clock.warn_at - H, clock.warn_at)  # already touched
    assert not clock.warning_due(None, clock.due_at + H)  # the breach alert takes over
    assert clock.status(None, clock.due_at + H) is SlaStatus.BREACHED


def test_breach_actions() -> None:
    assert DEMO.on_breach == BreachActions(True, True, True)
    assert STANDARD.on_breach == BreachActions(
        alert_owner=True, alert_manager=True, reassign_after_breach=False
    )


def touch(name: str, minutes: int, **properties: str) -> Touchpoint:
    moment = datetime(2026, 3, 2, 10, tzinfo=UTC) + timedelta(minutes=minutes)
    return Touchpoint(f"m{name}{minutes}", name, moment, dict(properties))


def test_what_counts_as_a_first_touch() -> None:
    assert is_first_touch(touch("sales_call", 0), "ann@x.io")
    assert is_first_touch(touch("sales_email", 0, rep="ANN@x.io"), "ann@x.io")
    assert is_first_touch(touch("meeting_booked", 0, owner="ann@x.io"), "ann@x.io")
    assert not is_first_touch(touch("sales_call", 0, rep="bob@x.io"), "ann@x.io")
    assert is_first_touch(touch("sales_call", 0, rep="bob@x.io"), None)  # queued lead
    assert not is_first_touch(touch("email_open", 0), "ann@x.io")
    assert not is_first_touch(touch("sales_reply", 0), "ann@x.io")


def test_first_touch_at_is_the_earliest_qualifying_touch_after_the_handoff() -> None:
    handed_off = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
    history = [
        touch("sales_call", 0),  # before the handoff
        touch("sales_email", 90, rep="bob@x.io"),  # someone else
        touch("page_view", 40),
        touch("meeting_booked", 120, rep="ann@x.io"),
        touch("sales_call", 100),
    ]
    assert first_touch_at(history, "ann@x.io", handed_off) == datetime(
        2026, 3, 2, 11, 40, tzinfo=UTC
    )
    assert first_touch_at(history[:3], "ann@x.io", handed_off) is None


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: SlaPolicy("x", timedelta(0)), "longer than zero"),
        (lambda: SlaPolicy("x", H, warn_at=1.0), "between 0 and 1"),
        (lambda: SlaPolicy("x", H, warn_at=0), "between 0 and 1"),
        (lambda: SlaPolicies((STANDARD,), "nope"), "not among the policies"),
        (lambda: SlaPolicies((STANDARD, STANDARD), "standard"), "share an id"),
    ],
)
def test_invalid_policies_are_refused(make: Callable[[], object], message: str) -> None:
    with pytest.raises(SlaError, match=message):
        make()
