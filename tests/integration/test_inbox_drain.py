"""The qualifier on real databases: several qualifiers draining one inbox at once never
process a call twice and keep each lead's calls in arrival order (SQLite serialises them
on its write lock, PostgreSQL on the inbox's advisory lock)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from leadgate.adapters.db import tables as t
from leadgate.adapters.db.unit_of_work import SqlUnitOfWork
from leadgate.domain.identity import IdentityKey, IdentityKind
from leadgate.services.commands import LeadIn, TouchpointIn, TrackedCall
from leadgate.services.inbox import capture_calls
from leadgate.services.inbox_drain import DrainResult, drain_inbox
from leadgate.services.retry import retry_on_conflict
from leadgate.services.worker import run_worker
from tests.conftest import T0

UowFactory = Callable[[], SqlUnitOfWork]

PEOPLE = 12
REQUESTS = 30
QUALIFIERS = 3


def user(person: int) -> tuple[IdentityKey, ...]:
    return (IdentityKey(IdentityKind.USER_ID, f"user-{person}"),)


def request_calls(request: int) -> list[TrackedCall]:
    """Each request: a page view for every person, and a title change for one of them
    (the last title a person got must win)."""
    at = T0 + timedelta(seconds=request)
    calls = [
        TrackedCall(
            f"r{request}-p{person}",
            user(person),
            touchpoint=TouchpointIn(
                f"r{request}-p{person}",
                "Page Viewed",
                at,
                {"path": "/pricing"},
                user_id=f"user-{person}",
            ),
        )
        for person in range(PEOPLE)
    ]
    person = request % PEOPLE
    calls.append(TrackedCall(f"r{request}-i", user(person), lead=LeadIn(title=f"title {request}")))
    return calls


def test_qualifiers_draining_at_once_process_each_call_once_in_arrival_order(
    uow_factory: UowFactory, engine: Engine, default_model: int
) -> None:
    for request in range(REQUESTS):
        capture_calls(uow_factory(), request_calls(request), now=T0 + timedelta(seconds=request))
    queued = REQUESTS * (PEOPLE + 1)
    start = threading.Barrier(QUALIFIERS)
    results: list[DrainResult] = []
    errors: list[BaseException] = []

    def qualify() -> None:
        total = DrainResult()
        try:
            start.wait()
            while True:
                result = drain_inbox(uow_factory, lambda: T0 + timedelta(minutes=5), limit=40)
                total += result
                with uow_factory() as uow:
                    if uow.inbox.counts().backlog == 0:
                        break
        except BaseException as exc:  # reported in the test's thread
            errors.append(exc)
        results.append(total)

    threads = [threading.Thread(target=qualify) for _ in range(QUALIFIERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert sum(r.drained for r in results) == queued  # none drained twice
    assert sum(r.stored for r in results) == REQUESTS * PEOPLE
    assert sum(r.duplicates for r in results) == 0
    with engine.connect() as connection:
        touchpoints = connection.execute(select(func.count()).select_from(t.touchpoints))
        assert touchpoints.scalar_one() == REQUESTS * PEOPLE
        titles = dict(
            connection.execute(
                select(t.identities.c.value, t.leads.c.title).join(
                    t.leads, t.leads.c.id == t.identities.c.lead_id
                )
            ).all()
        )
    last = {f"user-{r % PEOPLE}": f"title {r}" for r in range(REQUESTS)}
    assert titles == last
    with uow_factory() as uow:
        counts = uow.inbox.counts()
        assert (counts.backlog, counts.parked) == (0, 0)
        assert len(uow.inbox.recent(10_000)) == queued


@pytest.mark.postgres
@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_on_postgresql_a_second_qualifier_finds_the_inbox_held_and_waits_for_nothing(
    uow_factory: UowFactory, default_model: int
) -> None:
    capture_calls(uow_factory(), request_calls(0), now=T0)
    with uow_factory() as holder:
        assert len(holder.inbox.take(5)) == 5
        other = uow_factory()
        with other:
            assert other.inbox.take(5) == []  # at once, not after the holder commits
        # The holder's lock ends with its transaction.
        holder.commit()
        assert (
            retry_on_conflict(lambda: drain_inbox(uow_factory, lambda: T0, limit=100)).drained
            == PEOPLE + 1
        )


def test_the_worker_loop_drains_one_batch_a_round_and_goes_again_while_they_are_full(
    uow_factory: UowFactory, default_model: int
) -> None:
    capture_calls(uow_factory(), request_calls(0), now=T0)  # 13 calls
    ticks: list[float] = []
    sleeps: list[float] = []

    def deliver(*_: object) -> Any:
        raise AssertionError("nothing is in the outbox")

    totals = run_worker(
        uow_factory,
        deliver,
        lambda: T0,
        should_stop=lambda: len(ticks) >= 3,
        on_tick=lambda *_: ticks.append(0),
        sleep=sleeps.append,
        drain=lambda: drain_inbox(uow_factory, lambda: T0, limit=10),
    )
    assert (totals.ticks, totals.qualified, totals.parked) == (3, PEOPLE + 1, 0)
    assert len(sleeps) == 2  # not after the first, full, batch
