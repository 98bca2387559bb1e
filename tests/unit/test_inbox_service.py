"""Capture, then qualify, on the in-memory unit of work: what capture answers, what the
qualifier stores (the same as inline ingestion), its order, idempotence, parking and
batch limits."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from leadgate.adapters.tracking.posthog import parse_event
from leadgate.adapters.tracking.segment import Envelope, parse_message
from leadgate.domain.identity import IdentityKey, IdentityKind
from leadgate.models import default_model_text
from leadgate.services.commands import AccountIn, TrackedCall
from leadgate.services.errors import InboxFull, NoActiveModel
from leadgate.services.inbox import capture_calls, inbox_status, parked_calls
from leadgate.services.inbox_codec import UnreadableCall, call_document, tracked_call
from leadgate.services.inbox_drain import DrainResult, drain_inbox, run_qualifier
from leadgate.services.models import activate_model
from leadgate.services.ports import QueuedCall
from leadgate.services.tracking import record_calls
from tests.conftest import T0
from tests.fakes import FakeUnitOfWork

MINUTE = timedelta(minutes=1)


def segment(message: dict[str, Any], at: datetime = T0) -> TrackedCall:
    envelope = Envelope(received_at=at, max_skew=timedelta(minutes=5))
    return parse_message(message, envelope).call


def page(mid: str, person: int, path: str = "/pricing", *, anonymous: bool = False) -> TrackedCall:
    ids = {"anonymousId": f"anon-{person}"}
    if not anonymous:
        ids["userId"] = f"user-{person}"
    return segment(
        {"type": "page", "messageId": mid, "name": path, "properties": {"path": path}, **ids}
    )


def identify(mid: str, person: int, title: str, *, email: str | None = None) -> TrackedCall:
    traits: dict[str, Any] = {"title": title, "seniority": "vp"}
    if email:
        traits["email"] = email
    return segment(
        {
            "type": "identify",
            "messageId": mid,
            "userId": f"user-{person}",
            "anonymousId": f"anon-{person}",
            "traits": traits,
        }
    )


def bad_account(mid: str) -> TrackedCall:
    """A call the pipeline refuses (capture does not check domains; the parser would)."""
    return TrackedCall(
        mid,
        (IdentityKey(IdentityKind.USER_ID, "user-bad"),),
        account=AccountIn(domain="not a domain"),
    )


def world() -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    activate_model(uow, default_model_text(), now=T0, actor="test")
    return uow


def clock(at: datetime = T0) -> Any:
    return lambda: at


def capture(uow: FakeUnitOfWork, calls: list[TrackedCall], at: datetime = T0, **kw: Any) -> Any:
    return capture_calls(uow.another(), calls, now=at, **kw)


def drain(uow: FakeUnitOfWork, at: datetime = T0, **kw: Any) -> DrainResult:
    total = DrainResult()
    while True:
        result = drain_inbox(uow.another, clock(at), **kw)
        total += result
        if not result.more:
            return total


def facts(uow: FakeUnitOfWork) -> dict[str, Any]:
    """What is stored, by message id and lead email/user id: comparable across databases."""
    with uow:
        tables = uow.tables
        users = {v: lead for k, lead in tables.identities.items() for v in [k.value]}
        touchpoints = {
            mid: (row.touchpoint.name, row.received_at, row.lead_id)
            for mid, row in tables.touchpoints.items()
        }
        leads = {
            lead_id: (row.lead.email, row.lead.title, tables.scores.get(lead_id))
            for lead_id, row in tables.leads.items()
        }
        return {"identities": users, "touchpoints": touchpoints, "leads": leads}


# --- the document ------------------------------------------------------------------


ROUND_TRIPS = [
    {"type": "page", "messageId": "p", "anonymousId": "a", "properties": {"path": "/x", "n": 1.5}},
    {
        "type": "track",
        "messageId": "t",
        "userId": "u",
        "event": "Demo Requested",
        "timestamp": "2026-03-02T10:00:00.123456+02:00",
        "properties": {"nested": {"list": [1, "two", None, True]}, "big": 2**62},
        "context": {"campaign": {"name": "spring", "source": "google"}},
    },
    {
        "type": "identify",
        "messageId": "i",
        "userId": "u",
        "anonymousId": "a",
        "traits": {
            "email": "ann@acme.io",
            "name": "Ann Lee",
            "plan": "team",
            "company": {"name": "Acme", "domain": "acme.io", "employees": 250},
        },
    },
    {
        "type": "group",
        "messageId": "g",
        "userId": "u",
        "groupId": "acme.io",
        "traits": {"industry": "software", "technologies": ["salesforce", "segment"]},
    },
    {"type": "alias", "messageId": "al", "userId": "u", "previousId": "a"},
    {"type": "screen", "messageId": "s", "userId": "u", "name": "Home"},
]


@pytest.mark.parametrize("message", ROUND_TRIPS, ids=lambda m: m["type"])
def test_a_document_rebuilds_the_call_exactly(message: dict[str, Any]) -> None:
    call = segment(message)
    document = json.loads(json.dumps(call_document(call)))
    assert tracked_call(document) == call


def test_a_posthog_call_without_a_person_and_a_time_with_an_offset_round_trip() -> None:
    group, _ = parse_event(
        {
            "event": "$groupidentify",
            "uuid": "gi",
            "distinct_id": "d",
            "properties": {
                "$group_type": "company",
                "$group_key": "acme.io",
                "$group_set": {"employees": 9},
            },
        },
        received_at=T0,
        sent_at=None,
        max_skew=timedelta(minutes=5),
    )
    offset = timezone(timedelta(hours=-5))
    event, _ = parse_event(
        {
            "event": "signup",
            "uuid": "su",
            "distinct_id": "d",
            "timestamp": datetime(2026, 3, 2, 4, 0, tzinfo=offset).isoformat(),
        },
        received_at=T0,
        sent_at=None,
        max_skew=timedelta(minutes=5),
    )
    for call in (group, event):
        assert tracked_call(json.loads(json.dumps(call_document(call)))) == call


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ([], "expected a JSON object"),
        ({"v": 2, "id": "m", "keys": []}, "format 2 is not 1"),
        ({"v": 1, "keys": []}, "id: expected the message id"),
        ({"v": 1, "id": "m", "keys": [["cookie", "x"]]}, "unknown identity kind 'cookie'"),
        ({"v": 1, "id": "m", "keys": [], "lead": {"shoe_size": 9}}, "lead.shoe_size: not a field"),
        (
            {
                "v": 1,
                "id": "m",
                "keys": [],
                "touchpoint": {"message_id": "m", "name": "x", "occurred_at": "2026-03-02T09:00"},
            },
            "has no UTC offset",
        ),
        ({"v": 1, "id": "m", "keys": [], "touchpoint": {"name": "x"}}, "touchpoint: "),
    ],
)
def test_a_document_that_does_not_rebuild_says_why(document: Any, reason: str) -> None:
    with pytest.raises(UnreadableCall, match=reason):
        tracked_call(document)


# --- capture -----------------------------------------------------------------------


def test_capture_answers_the_counts_inline_ingestion_gives() -> None:
    first = [page("m1", 1), page("m2", 2), page("m1", 1), identify("i1", 1, "VP")]
    retry = [page("m2", 2), page("m3", 3), identify("i1", 1, "VP")]
    inline, inbox = world(), world()
    expected = [record_calls(inline.another(), batch, now=T0) for batch in (first, retry)]
    got = [capture(inbox, batch) for batch in (first, retry)]
    assert [(r.stored, r.duplicates) for r in got] == [(e.stored, e.duplicates) for e in expected]
    assert [(r.stored, r.duplicates) for r in got] == [(2, 1), (1, 1)]
    drain(inbox)
    # Once qualified, a retry is found in the log (and among the drained calls kept).
    again = capture(inbox, retry)
    assert (again.stored, again.duplicates, again.queued) == (0, 2, 1)  # the identify again


def test_capture_refuses_past_the_backlog_limit_but_takes_a_retry_that_adds_nothing() -> None:
    uow = world()
    capture(uow, [page("m1", 1), page("m2", 2)], max_backlog=3)
    capture(uow, [page("m3", 3)], max_backlog=3)
    with pytest.raises(
        InboxFull, match=r"about 3 calls .* LEADGATE_INBOX_MAX_BACKLOG \(3\)"
    ) as info:
        capture(uow, [page("m4", 4)], max_backlog=3)
    assert info.value.retry_after_seconds > 0
    assert capture(uow, [page("m1", 1)], max_backlog=3).duplicates == 1
    drain(uow)
    assert capture(uow, [page("m4", 4)], max_backlog=3).stored == 1


def test_capture_without_an_active_model_is_refused_as_inline_ingestion_is() -> None:
    with pytest.raises(NoActiveModel):
        capture_calls(FakeUnitOfWork(), [page("m1", 1)], now=T0)


# --- the qualifier -----------------------------------------------------------------


def requests() -> list[tuple[datetime, list[TrackedCall]]]:
    """Anonymous visits, an identify that ties them to a person, more visits, a title change
    and a retry: order matters for the merge, the title and the duplicates."""
    return [
        (T0, [page("a1", 1, anonymous=True), page("a2", 2, anonymous=True)]),
        (T0 + MINUTE, [identify("i1", 1, "Manager", email="ann@acme.io"), page("p1", 1)]),
        (T0 + 2 * MINUTE, [page("p2", 1, "/demo"), identify("i2", 1, "VP"), page("a1", 1)]),
        (T0 + 3 * MINUTE, [identify("i3", 1, "CEO"), page("p3", 2, "/docs", anonymous=True)]),
    ]


def test_the_qualifier_stores_what_inline_ingestion_stores_in_arrival_order() -> None:
    end = T0 + 3 * MINUTE
    inline, inbox = world(), world()
    for at, calls in requests():
        record_calls(
            inline.another(),
            calls,
            now=end,
            received={c.message_id: at for c in calls if c.touchpoint},
        )
        capture(inbox, calls, at)
    result = drain(inbox, end, limit=5000)
    assert (result.drained, result.parked, result.transactions) == (8, 0, 1)
    assert result.stored == 5 and result.duplicates == 0  # a1's retry was never queued
    assert facts(inbox) == facts(inline)
    with inbox:
        ann = inbox.leads.resolve([IdentityKey(IdentityKind.EMAIL, "ann@acme.io")])
        (lead_id,) = ann.values()
        assert inbox.leads.get_many([lead_id])[lead_id].title == "CEO"  # the last identify
        received = {m: row.received_at for m, row in inbox.tables.touchpoints.items()}
    assert received["p1"] == T0 + MINUTE and received["p3"] == T0 + 3 * MINUTE


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_small_batches_keep_each_leads_order(limit: int) -> None:
    end = T0 + 3 * MINUTE
    whole, split = world(), world()
    for at, calls in requests():
        capture(whole, calls, at)
        capture(split, calls, at)
    drain(whole, end)
    first = drain_inbox(split.another, clock(end), limit=limit)
    assert (first.taken, first.transactions, first.more) == (limit, 1, True)
    rest = drain(split, end, limit=limit)
    assert first.taken + rest.taken == 8 and rest.transactions == -(-(8 - limit) // limit)
    assert facts(split) == facts(whole)


def test_draining_calls_already_qualified_again_changes_nothing() -> None:
    uow = world()
    for at, calls in requests():
        capture(uow, calls, at)
    drain(uow, T0 + 3 * MINUTE)
    before = facts(uow)
    # As if the marks were lost: every call is waiting again.
    inbox = uow.database.committed.inbox
    for row_id, row in inbox.items():
        inbox[row_id] = replace(row, drained_at=None)
    again = drain(uow, T0 + 3 * MINUTE)
    assert (again.drained, again.stored, again.duplicates) == (8, 0, 5)
    assert facts(uow) == before


def test_a_bad_call_is_parked_with_its_reason_and_the_calls_behind_it_are_qualified() -> None:
    uow = world()
    capture(uow, [page("p1", 1), page("p2", 2)])
    capture(uow, [page("p3", 3), bad_account("bad"), page("p4", 4)])
    with uow:
        uow.inbox.append([QueuedCall("garbled", True, T0, {"v": 99})])
        uow.commit()
    capture(uow, [page("p5", 5)] + [page(f"q{i}", 6) for i in range(6)])
    result = drain(uow, limit=8)
    assert (result.drained, result.parked) == (11, 2)
    with uow:
        assert set(uow.tables.touchpoints) == {"p1", "p2", "p3", "p4", "p5"} | {
            f"q{i}" for i in range(6)
        }
    parked = parked_calls(uow.another())
    assert [(p.message_id, p.id) for p in parked] == [("bad", 4), ("garbled", 6)]
    assert parked[0].reason.startswith("refused by the pipeline: message bad: domain:")
    assert (
        parked[1].reason == "cannot rebuild the call: document format 99 is not 1, the one "
        "this leadgate reads"
    )
    status = inbox_status(uow.another(), now=T0 + MINUTE)
    assert (status.backlog, status.parked, status.oldest_received_at) == (0, 2, None)
    assert drain(uow) == DrainResult()  # parked calls are not taken again


def test_a_refused_call_alone_in_a_round_is_parked_in_a_round_of_its_own() -> None:
    uow = world()
    capture(uow, [bad_account("bad")])
    result = drain_inbox(uow.another, clock())
    assert (result.drained, result.parked, result.transactions, result.more) == (0, 1, 1, True)


def test_a_qualifier_finds_nothing_while_another_transaction_holds_the_inbox() -> None:
    uow = world()
    capture(uow, [page("p1", 1)])
    holder = uow.another()
    with holder:
        assert [e.message_id for e in holder.inbox.take(10)] == ["p1"]
        assert drain_inbox(uow.another, clock()) == DrainResult()
    assert drain_inbox(uow.another, clock()).drained == 1


def test_status_shows_the_backlog_its_age_and_the_lag_of_drained_calls() -> None:
    uow = world()
    capture(uow, [page("p1", 1)], T0)
    capture(uow, [page("p2", 2), page("p3", 3)], T0 + MINUTE)
    status = inbox_status(uow.another(), now=T0 + 2 * MINUTE, max_backlog=10)
    assert (status.backlog, status.oldest_received_at, status.oldest_age_seconds) == (
        3,
        T0,
        120.0,
    )
    assert (status.recent_drained, status.lag_p50_seconds, status.max_backlog) == (0, None, 10)
    drain(uow, T0 + 2 * MINUTE)
    status = inbox_status(uow.another(), now=T0 + 2 * MINUTE)
    assert (status.backlog, status.recent_drained) == (0, 3)
    assert (status.lag_p50_seconds, status.lag_p99_seconds) == (60.0, 120.0)
    # Drained calls are forgotten once kept long enough, by a later round.
    capture(uow, [page("p4", 4)], T0 + 3 * MINUTE)
    drain(uow, T0 + 4 * MINUTE, keep=timedelta(seconds=90))
    assert inbox_status(uow.another(), now=T0 + 4 * MINUTE).recent_drained == 1


def test_the_loop_drains_at_once_while_rounds_are_full_and_waits_otherwise() -> None:
    rounds = iter([DrainResult(drained=5, more=True), DrainResult(drained=2)])
    waits: list[float] = []
    errors: list[Exception] = []

    def next_round() -> DrainResult:
        result = next(rounds, None)
        if result is None:
            raise RuntimeError("database gone")
        return result

    def on_error(exc: Exception) -> float:
        errors.append(exc)
        return 1.0

    total = run_qualifier(
        next_round,
        should_stop=lambda: len(errors) >= 1,
        wait=waits.append,
        poll_seconds=0.05,
        on_error=on_error,
    )
    assert total.drained == 7 and len(waits) == 2 and waits[-1] == 1.0
    assert 0 <= waits[0] <= 0.05


def test_received_times_keep_their_zone_aware_value() -> None:
    uow = world()
    moment = datetime(2026, 3, 2, 11, 0, tzinfo=timezone(timedelta(hours=2)))
    capture(uow, [page("p1", 1)], moment)
    drain(uow, T0 + MINUTE)
    with uow:
        assert uow.tables.touchpoints["p1"].received_at == moment.astimezone(UTC)
