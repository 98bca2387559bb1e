"""Gate → handoff → outbox → delivery, end to end with real parts: a lead crosses the gate
through ingest, the handoff and its alert commit together, and ``deliver_due`` with the real
``Dispatcher`` sends it to a local HTTP receiver (which checks the signature itself) or to
an aiosmtpd mailbox. The receiver goes down and comes back, the worker dies mid-batch and
a new one (new engine, new dispatcher) takes over, a message runs out of attempts and is
replayed, two workers run at once: no message is lost, none is sent twice by two workers,
and every retry carries the idempotency key of the first attempt.

Time is explicit (``now`` values), so backoff and leases are crossed without sleeping.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from leadgate.adapters.db import tables as t
from leadgate.adapters.db.engine import build_engine
from leadgate.adapters.db.unit_of_work import SqlUnitOfWork
from leadgate.adapters.notify.channel import DeliveryResult
from leadgate.adapters.notify.dispatch import Dispatcher
from leadgate.domain.handoffs import HandoffStatus
from leadgate.domain.notifications import Notification
from leadgate.services.commands import AccountIn, LeadIn
from leadgate.services.delivery import (
    LEASE,
    Delivery,
    MessageNotFound,
    MessagePending,
    deliver_due,
    replay,
)
from leadgate.services.ingest import ingest_touchpoints
from leadgate.services.ports import Endpoint, OutboxMessage
from leadgate.services.profiles import upsert_accounts, upsert_leads
from leadgate.services.worker import run_worker
from tests.conftest import T0
from tests.integration.helpers import UowFactory, activate_simple, touch
from tests.integration.receivers import SECRET, HttpReceiver, http_receiver, smtp_server

# One team working around the clock, so due_at is simply four hours after the handoff.
CONFIG = """
calendars:
  always:
    timezone: UTC
    hours: {weekdays: "00:00-24:00", sat: "00:00-24:00", sun: "00:00-24:00"}
teams:
  sales:
    strategy: round_robin
    calendar: always
    manager: boss@seller.io
    members:
      - {id: ann@seller.io}
      - {id: bob@seller.io}
routing:
  default_team: sales
sla:
  default: standard
  policies:
    - {id: standard, first_touch_hours: 4, warn_at: 0.5}
"""


def store_config(uow_factory: UowFactory, text: str, at: datetime) -> int:
    with uow_factory() as uow:
        version = uow.configs.add("handoff", text, now=at, actor="test").version
        uow.configs.activate("handoff", version, at)
        uow.commit()
    return version


def add_endpoint(
    uow_factory: UowFactory, name: str, kind: str, config: dict[str, Any], *events: str
) -> Endpoint:
    with uow_factory() as uow:
        endpoint = uow.outbox.add_endpoint(
            name=name, kind=kind, config=config, events=events, now=T0
        )
        uow.commit()
    return endpoint


def hand_off_leads(uow_factory: UowFactory, count: int, at: datetime = T0) -> list[int]:
    """``count`` grade-A leads that ask for a demo at ``at``: the skip-to-SQL gate hands
    each to sales in the ingest transaction."""
    upsert_accounts(uow_factory(), [AccountIn("acme.io", industry="software")], now=at)
    emails = [f"lead{i}@acme.io" for i in range(count)]
    ids = upsert_leads(
        uow_factory(), [LeadIn(email=e, seniority="vp", first_name="Hal") for e in emails], now=at
    ).ids
    ingest_touchpoints(
        uow_factory(), [touch(f"demo-{e}", "demo_request", at, email=e) for e in emails], now=at
    )
    return list(ids)


def messages(uow_factory: UowFactory) -> list[OutboxMessage]:
    with uow_factory() as uow:
        return uow.outbox.messages(limit=1000)


def attempts(uow_factory: UowFactory, message_id: int) -> list[dict[str, Any]]:
    with uow_factory() as uow:
        return uow.outbox.attempts(message_id)


@pytest.fixture
def world(uow_factory: UowFactory) -> UowFactory:
    activate_simple(uow_factory, T0)
    store_config(uow_factory, CONFIG, T0)
    return uow_factory


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with http_receiver() as server:
        yield server


@pytest.fixture
def dispatcher() -> Iterator[Dispatcher]:
    with Dispatcher(timeout=5.0) as deliver:
        yield deliver


def webhook(uow_factory: UowFactory, receiver: HttpReceiver, *events: str) -> Endpoint:
    config = {"url": receiver.url("/hook"), "secret": SECRET, "timeout": 5}
    return add_endpoint(uow_factory, "crm-hook", "webhook", config, *events)


def at(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


def test_a_lead_crossing_the_gate_is_handed_off_once_and_its_signed_alert_arrives(
    world: UowFactory, receiver: HttpReceiver, dispatcher: Dispatcher
) -> None:
    webhook(world, receiver, "handoff.created")
    (lead_id,) = hand_off_leads(world, 1)
    # More activity while the handoff is pending hands nothing off again.
    ingest_touchpoints(
        world(),
        [touch("again", "demo_request", T0 + timedelta(minutes=5), email="lead0@acme.io")],
        now=T0 + timedelta(minutes=5),
    )

    with world() as uow:
        (handoff,) = uow.handoffs.for_lead(lead_id)
        lead = uow.leads.get_many([lead_id])[lead_id]
    assert handoff.status is HandoffStatus.PENDING
    assert (handoff.owner, handoff.team) == ("ann@seller.io", "sales")
    assert handoff.due_at == T0 + timedelta(hours=4)
    assert handoff.warn_at == T0 + timedelta(hours=2)
    assert lead.owner == "ann@seller.io"  # the rep now owns the lead
    (message,) = messages(world)
    assert (message.event_type, message.lead_id, message.status) == (
        "handoff.created",
        lead_id,
        "pending",
    )

    stats = deliver_due(world, dispatcher, at(T0 + timedelta(minutes=6)))
    assert (stats.attempted, stats.delivered) == (1, 1)
    (request,) = receiver.requests
    assert request.signature_ok is True
    assert request.headers["x-leadgate-event"] == "handoff.created"
    assert request.key == message.idempotency_key
    event = request.json()
    assert event["type"] == "handoff.created"
    data = event["data"]
    assert data["handoff"]["id"] == handoff.id
    assert data["handoff"]["owner"] == "ann@seller.io"
    assert data["context"]["lead"]["email"] == "lead0@acme.io"
    assert data["context"]["lead"]["owner"] == "ann@seller.io"
    assert data["context"]["account"]["domain"] == "acme.io"
    assert [tp["name"] for tp in data["context"]["crossing_touchpoints"]] == ["demo_request"]
    assert data["context"]["score"]["grade"] == "A"

    (sent,) = messages(world)
    assert (sent.status, sent.attempts) == ("delivered", 1)
    (attempt,) = attempts(world, sent.id)
    assert (attempt["ok"], attempt["status_code"], attempt["error"]) == (True, 200, None)
    # Delivered is done: the next round sends nothing.
    assert deliver_due(world, dispatcher, at(T0 + timedelta(hours=1))).attempted == 0
    assert len(receiver.requests) == 1


def test_receiver_down_then_failing_then_back_loses_nothing_and_retries_keep_the_key(
    world: UowFactory, receiver: HttpReceiver, dispatcher: Dispatcher
) -> None:
    webhook(world, receiver, "handoff.created")
    hand_off_leads(world, 3)
    keys = {m.idempotency_key for m in messages(world)}
    assert len(keys) == 3

    receiver.stop()
    stats = deliver_due(world, dispatcher, at(T0))
    assert (stats.attempted, stats.failed, stats.delivered, stats.dead) == (3, 3, 0, 0)
    for message in messages(world):
        assert (message.status, message.attempts) == ("pending", 1)
        assert message.last_error is not None and "ConnectError" in message.last_error
        # The first retry waits 2 s, ±20 % jitter.
        wait = message.next_attempt_at - T0
        assert timedelta(seconds=1.6) <= wait <= timedelta(seconds=2.4)
        (attempt,) = attempts(world, message.id)
        assert (attempt["ok"], attempt["status_code"]) == (False, None)
        assert "ConnectError" in attempt["error"]
    # Before the backoff is over nothing is attempted.
    assert deliver_due(world, dispatcher, at(T0 + timedelta(seconds=1))).attempted == 0

    receiver.status = 503  # up again, but failing: the receiver sees the first keys
    receiver.start()
    retry_at = T0 + timedelta(seconds=3)
    assert deliver_due(world, dispatcher, at(retry_at)).failed == 3
    refused = receiver.requests
    assert {r.key for r in refused} == keys
    for message in messages(world):
        assert (message.attempts, message.last_error) == (2, "HTTP 503: receiver says no")
        # The second retry waits twice as long: 4 s ±20 %.
        wait = message.next_attempt_at - retry_at
        assert timedelta(seconds=3.2) <= wait <= timedelta(seconds=4.8)

    receiver.status = 200
    stats = deliver_due(world, dispatcher, at(T0 + timedelta(seconds=10)))
    assert (stats.attempted, stats.delivered) == (3, 3)
    delivered = receiver.delivered
    assert sorted(r.key for r in delivered) == sorted(keys)
    assert all(r.signature_ok for r in receiver.requests)
    first_body = {r.key: r.body for r in refused}
    assert all(first_body[r.key] == r.body for r in delivered)  # the same message again
    for message in messages(world):
        assert (message.status, message.attempts) == ("delivered", 3)
        assert [a["ok"] for a in attempts(world, message.id)] == [False, False, True]


class WorkerKilled(BaseException):
    """The worker process dying (SIGKILL, power cut): nothing after it runs."""


def test_a_worker_dying_mid_batch_loses_nothing_and_its_successor_resends_with_the_key(
    world: UowFactory, engine: Engine, receiver: HttpReceiver
) -> None:
    webhook(world, receiver, "handoff.created")
    hand_off_leads(world, 4)
    keys = {m.idempotency_key for m in messages(world)}

    first = Dispatcher(timeout=5.0)
    calls = 0

    def dies_after_the_third_send(endpoint: Endpoint, note: Notification) -> Delivery:
        nonlocal calls
        calls += 1
        result = first(endpoint, note)
        if calls == 3:  # sent, but killed before the attempt is written
            raise WorkerKilled
        return result

    with pytest.raises(WorkerKilled):
        deliver_due(world, dies_after_the_third_send, at(T0))
    first.close()
    assert len(receiver.delivered) == 3
    assert sorted(m.status for m in messages(world)) == [
        "delivered",
        "delivered",
        "pending",
        "pending",
    ]

    # A new worker process: its own engine, its own dispatcher.
    url = engine.url.render_as_string(hide_password=False)
    fresh = build_engine(url)
    try:

        def factory() -> SqlUnitOfWork:
            return SqlUnitOfWork(fresh)

        with Dispatcher(timeout=5.0) as second:
            # While the dead worker's lease runs, nobody else takes its messages.
            assert deliver_due(factory, second, at(T0 + LEASE / 2)).attempted == 0
            stats = deliver_due(factory, second, at(T0 + LEASE + timedelta(seconds=1)))
        assert (stats.attempted, stats.delivered) == (2, 2)
    finally:
        fresh.dispose()

    delivered = receiver.delivered
    assert {r.key for r in delivered} == keys  # nothing lost
    # The message whose acknowledgement died with the worker came twice, as one delivery
    # to a receiver that drops duplicates by key: same key, same body.
    by_key: dict[str, list[bytes]] = {}
    for request in delivered:
        by_key.setdefault(request.key, []).append(request.body)
    assert sorted(len(bodies) for bodies in by_key.values()) == [1, 1, 1, 2]
    assert all(len(set(bodies)) == 1 for bodies in by_key.values())
    assert all(m.status == "delivered" for m in messages(world))


def test_a_message_goes_dead_after_max_attempts_and_replay_sends_it_with_the_same_key(
    world: UowFactory, receiver: HttpReceiver, dispatcher: Dispatcher
) -> None:
    webhook(world, receiver, "handoff.created")
    hand_off_leads(world, 1)
    (message,) = messages(world)
    receiver.status = 500

    moments = [T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)]
    outcomes = [deliver_due(world, dispatcher, at(m), max_attempts=3) for m in moments]
    assert [(s.failed, s.dead) for s in outcomes] == [(1, 0), (1, 0), (0, 1)]
    (dead,) = messages(world)
    assert (dead.status, dead.attempts, dead.last_error) == (
        "dead",
        3,
        "HTTP 500: receiver says no",
    )
    tried = attempts(world, message.id)
    assert [(a["ok"], a["status_code"]) for a in tried] == [(False, 500)] * 3
    assert [a["attempted_at"] for a in tried] == moments
    # Dead letters stay put: later rounds leave them alone.
    assert deliver_due(world, dispatcher, at(T0 + timedelta(days=1))).attempted == 0
    assert len(receiver.requests) == 3

    receiver.status = 200
    with pytest.raises(MessageNotFound):
        replay(world(), message.id + 1000, now=T0 + timedelta(days=1))
    replay(world(), message.id, now=T0 + timedelta(days=1))
    # Queued again, it is pending: a second replay would only reset its backoff.
    with pytest.raises(MessagePending):
        replay(world(), message.id, now=T0 + timedelta(days=1))
    stats = deliver_due(world, dispatcher, at(T0 + timedelta(days=1)), max_attempts=3)
    assert stats.delivered == 1
    assert {r.key for r in receiver.requests} == {message.idempotency_key}
    assert receiver.requests[-1].answered == 200
    (done,) = messages(world)
    assert done.status == "delivered"
    assert len(attempts(world, message.id)) == 4  # the history is kept across the replay


def test_a_paused_endpoints_messages_wait_and_go_out_when_it_resumes(
    world: UowFactory, receiver: HttpReceiver, dispatcher: Dispatcher
) -> None:
    endpoint = webhook(world, receiver, "handoff.created")
    hand_off_leads(world, 2)
    with world() as uow:
        uow.outbox.set_endpoint_active(endpoint.id, False)
        uow.commit()
    later = T0 + timedelta(hours=3)
    assert deliver_due(world, dispatcher, at(later)).attempted == 0
    assert [m.status for m in messages(world)] == ["pending", "pending"]
    assert receiver.requests == []

    with world() as uow:
        uow.outbox.set_endpoint_active(endpoint.id, True)
        uow.commit()
    assert deliver_due(world, dispatcher, at(later)).delivered == 2
    assert [m.status for m in messages(world)] == ["delivered", "delivered"]


def test_answers_that_retrying_cannot_fix_go_dead_at_once_with_the_reason(
    world: UowFactory, receiver: HttpReceiver, dispatcher: Dispatcher
) -> None:
    gone = add_endpoint(world, "gone", "slack", {"url": receiver.url("/gone")}, "handoff.created")
    broken = add_endpoint(
        world,
        "broken",
        "webhook",
        {"url": receiver.url("/hook"), "secret": "short"},  # refused by the channel
        "handoff.created",
    )
    receiver.status = 410
    hand_off_leads(world, 1)
    stats = deliver_due(world, dispatcher, at(T0))
    assert (stats.attempted, stats.dead) == (2, 2)
    by_endpoint = {m.endpoint_id: m for m in messages(world)}
    assert by_endpoint[gone.id].last_error == "HTTP 410: receiver says no"
    error = by_endpoint[broken.id].last_error
    assert error is not None and error.startswith("endpoint 'broken' settings: secret: ")
    assert [r.path for r in receiver.requests] == ["/gone"]  # the broken one never sent


def test_a_channel_that_raises_is_a_failed_attempt_and_the_rest_of_the_batch_goes_out(
    world: UowFactory, receiver: HttpReceiver, dispatcher: Dispatcher
) -> None:
    webhook(world, receiver, "handoff.created")
    hand_off_leads(world, 3)
    unlucky = messages(world)[1]

    def flaky(endpoint: Endpoint, note: Notification) -> Delivery:
        if note.key == unlucky.idempotency_key:
            raise RuntimeError("channel bug")
        return dispatcher(endpoint, note)

    stats = deliver_due(world, flaky, at(T0))
    assert (stats.attempted, stats.delivered, stats.failed) == (3, 2, 1)
    failed = next(m for m in messages(world) if m.id == unlucky.id)
    assert failed.status == "pending" and failed.attempts == 1
    assert failed.last_error == "RuntimeError: channel bug"
    assert failed.next_attempt_at < T0 + LEASE  # retried by backoff, not after the lease
    assert deliver_due(world, dispatcher, at(T0 + timedelta(seconds=5))).delivered == 1
    assert len({r.key for r in receiver.delivered}) == 3


def test_a_late_failure_from_a_worker_whose_lease_ran_out_does_not_undo_a_delivery(
    world: UowFactory, receiver: HttpReceiver, dispatcher: Dispatcher
) -> None:
    webhook(world, receiver, "handoff.created")
    hand_off_leads(world, 1)

    def hangs_past_its_lease(endpoint: Endpoint, note: Notification) -> Delivery:
        # While this worker hangs, its lease ends and another worker delivers the message.
        assert deliver_due(world, dispatcher, at(T0 + LEASE + timedelta(seconds=1))).delivered
        return DeliveryResult(
            ok=False, status=None, error="timed out (ReadTimeout)", retryable=True, duration_ms=9e4
        )

    stats = deliver_due(world, hangs_past_its_lease, at(T0))
    assert stats.failed == 1
    (message,) = messages(world)
    assert message.status == "delivered"  # not pending again, so not sent a third time
    assert message.last_error is None
    assert [a["ok"] for a in attempts(world, message.id)] == [True, False]  # both recorded
    assert deliver_due(world, dispatcher, at(T0 + timedelta(hours=1))).attempted == 0
    assert len(receiver.requests) == 1


def test_two_workers_at_once_never_send_a_message_twice(
    world: UowFactory, engine: Engine, receiver: HttpReceiver
) -> None:
    webhook(world, receiver, "handoff.created")
    hand_off_leads(world, 30)
    total = len(messages(world))
    assert total == 30
    start = threading.Barrier(2)
    errors: list[BaseException] = []
    sent: list[int] = [0, 0]

    def worker(index: int) -> None:
        try:
            with Dispatcher(timeout=5.0) as deliver:
                start.wait(timeout=10)
                while True:
                    stats = deliver_due(world, deliver, at(T0), limit=3)
                    if stats.attempted == 0:
                        return
                    sent[index] += stats.delivered
        except BaseException as exc:  # surfaced below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    keys = [r.key for r in receiver.requests]
    assert len(keys) == total and len(set(keys)) == total  # each exactly once
    assert sum(sent) == total
    with world() as uow:
        rows = uow.connection.execute(select(t.outbox.c.status, t.outbox.c.attempts)).all()
        attempt_rows = len(uow.connection.execute(select(t.delivery_attempts.c.id)).all())
    assert {tuple(row) for row in rows} == {("delivered", 1)}
    assert attempt_rows == total


def test_the_handoff_mail_arrives_over_smtp(world: UowFactory, dispatcher: Dispatcher) -> None:
    with smtp_server() as (mailbox, port):
        add_endpoint(
            world,
            "sdr-mail",
            "email",
            {
                "host": "127.0.0.1",
                "port": port,
                "security": "none",
                "from": "leadgate <alerts@leadgate.example.com>",
                "to": ["sdr@seller.io"],
                "timeout": 5,
                "local_hostname": "leadgate.test",
            },
            "handoff.created",
        )
        (lead_id,) = hand_off_leads(world, 1)
        stats = deliver_due(world, dispatcher, at(T0))
        assert stats.delivered == 1
        (mail,) = mailbox.wait_for(1)
    (message,) = messages(world)
    (envelope,) = mailbox.envelopes
    assert envelope.rcpt_tos == ["sdr@seller.io"]
    assert mail["Subject"] == "New handoff: Hal at acme.io → ann@seller.io"
    assert mail["Message-ID"] == f"<{message.idempotency_key}@leadgate.example.com>"
    assert mail["X-Leadgate-Event"] == "handoff.created"
    plain = mail.get_body(("plain",))
    assert plain is not None
    text = plain.get_content()
    assert "lead0@acme.io" in text
    assert "ann@seller.io" in text
    assert "demo_request" in text
    assert (message.status, message.lead_id) == ("delivered", lead_id)


def test_the_worker_loop_delivers_what_the_gate_queued(
    world: UowFactory, receiver: HttpReceiver, dispatcher: Dispatcher
) -> None:
    webhook(world, receiver, "handoff.created")
    hand_off_leads(world, 2)
    ticks: list[int] = []
    totals = run_worker(
        world,
        dispatcher,
        at(T0),
        should_stop=lambda: len(ticks) >= 2,
        on_tick=lambda stats, _: ticks.append(stats.attempted),
        sleep=lambda _: None,
    )
    assert ticks == [2, 0]
    assert (totals.ticks, totals.delivered) == (2, 2)
    assert len(receiver.delivered) == 2
