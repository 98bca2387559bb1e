"""Two OS processes writing the same lead at once on PostgreSQL: no lost touchpoint, no
duplicate, no lost score update, and one lead per email even when both create it.

Each worker has its own engine and units of work and wraps every batch in
``retry_on_conflict``, as the CLI does. A barrier makes them run each batch in lock-step,
so every batch, the last one included, races one of the other worker's.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

import pytest
from sqlalchemy import Engine, func, select

from leadgate.adapters.db import tables as t
from leadgate.adapters.db.engine import build_engine
from leadgate.adapters.db.unit_of_work import SqlUnitOfWork
from leadgate.domain.scoring import score_lead
from leadgate.services.commands import TouchpointIn
from leadgate.services.ingest import IngestResult, ingest_touchpoints
from leadgate.services.retry import retry_on_conflict
from tests.conftest import T0, _truncate_postgres
from tests.integration.helpers import activate_simple, days, touch

pytestmark = pytest.mark.postgres

WORKERS = 2
BATCHES = 40
PER_BATCH = 5
SHARED_EVERY = 4  # every fourth batch, one of its five ids is sent by both workers
ROUNDS = 10  # new leads both workers create at the same moment
NOW = T0 + days(1)
EMAIL = "racer@acme.io"
WEBINAR_POINTS = 20.0  # simple.yaml: webinar_attended, no decay, no cap
JOIN_SECONDS = 180


@dataclass(frozen=True)
class Report:
    """What one worker did, sent back to the test process."""

    worker: int
    stored: int = 0
    attempts: int = 0
    lead_ids: tuple[int, ...] = ()
    error: str | None = None


def _own_batches(worker: int) -> list[list[TouchpointIn]]:
    """Webinars only: every touchpoint adds exactly 20 points, so none can hide under a cap.

    Every SHARED_EVERY-th batch carries one id both workers send. The others (the last one
    included) share nothing: a shared id makes the second writer wait for the first one's
    commit, which would hide a missing lead lock.
    """
    batches = []
    for b in range(BATCHES):
        at = T0 + timedelta(minutes=b)
        shared = b % SHARED_EVERY == 0
        batch = [
            touch(f"w{worker}-b{b}-{i}", "webinar_attended", at, email=EMAIL)
            for i in range(PER_BATCH - shared)
        ]
        if shared:
            batch.insert(worker, touch(f"shared-b{b}", "webinar_attended", at, email=EMAIL))
        batches.append(batch)
    return batches


def _new_lead_batch(worker: int, round_: int) -> list[TouchpointIn]:
    email = f"new@race{round_}.io"
    return [
        touch(f"w{worker}-r{round_}", "page_view", T0, email=email, category="pricing"),
        touch(f"shared-r{round_}", "page_view", T0, email=email, category="pricing"),
    ]


def _counting(engine: Engine, batch: list[TouchpointIn], tries: list[int]) -> IngestResult:
    tries[0] += 1
    return ingest_touchpoints(SqlUnitOfWork(engine), batch, now=NOW)


def _ingest_worker(
    url: str, worker: int, mode: str, barrier: Barrier, reports: Queue[Report]
) -> None:
    """Runs in a spawned process: ingest this worker's batches, then report."""
    engine = build_engine(url)
    tries = [0]
    stored = 0
    lead_ids: list[int] = []
    try:
        if mode == "same_lead":
            batches = _own_batches(worker)
            for batch in batches:
                barrier.wait(timeout=60)
                result = retry_on_conflict(partial(_counting, engine, batch, tries))
                stored += result.stored
        else:
            for round_ in range(ROUNDS):
                batch = _new_lead_batch(worker, round_)
                barrier.wait(timeout=60)
                result = retry_on_conflict(partial(_counting, engine, batch, tries))
                stored += result.stored
                (lead_id,) = result.lead_ids
                lead_ids.append(lead_id)
    except BaseException as exc:
        barrier.abort()  # release the other worker at once instead of at its timeout
        reports.put(Report(worker, error=f"{type(exc).__name__}: {exc}"))
        raise
    finally:
        engine.dispose()
    reports.put(Report(worker, stored, tries[0], tuple(lead_ids)))


def _run_workers(url: str, mode: str) -> list[Report]:
    """Start both workers together and return their reports, ordered by worker."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(WORKERS)
    reports: Queue[Report] = ctx.Queue()
    processes = [
        ctx.Process(target=_ingest_worker, args=(url, worker, mode, barrier, reports))
        for worker in range(WORKERS)
    ]
    for process in processes:
        process.start()
    try:
        collected = [reports.get(timeout=JOIN_SECONDS) for _ in processes]
        for process in processes:
            process.join(timeout=JOIN_SECONDS)
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()
                process.join()
    errors = [r.error for r in collected if r.error]
    assert not errors, f"a worker failed: {errors}"
    assert [p.exitcode for p in processes] == [0] * WORKERS
    return sorted(collected, key=lambda r: r.worker)


@pytest.fixture
def pg_engine(postgres_database: str) -> Iterator[Engine]:
    """An engine on the session's database, emptied first."""
    engine = build_engine(postgres_database)
    _truncate_postgres(engine)
    yield engine
    engine.dispose()


def _uow_factory(engine: Engine) -> Callable[[], SqlUnitOfWork]:
    return lambda: SqlUnitOfWork(engine)


def test_two_processes_ingesting_for_one_lead_lose_nothing(
    pg_engine: Engine, postgres_database: str
) -> None:
    activate_simple(_uow_factory(pg_engine), T0)
    first = ingest_touchpoints(
        SqlUnitOfWork(pg_engine),
        [touch("seed", "webinar_attended", T0 - days(1), email=EMAIL)],
        now=T0,
    )
    (lead_id,) = first.lead_ids

    reports = _run_workers(postgres_database, "same_lead")

    sent = {"seed"} | {
        tp.message_id for worker in range(WORKERS) for batch in _own_batches(worker) for tp in batch
    }
    shared = BATCHES // SHARED_EVERY
    assert len(sent) == 1 + WORKERS * (BATCHES * PER_BATCH - shared) + shared
    with pg_engine.connect() as connection:
        rows = connection.execute(select(t.touchpoints.c.message_id, t.touchpoints.c.lead_id))
        stored = [(row.message_id, row.lead_id) for row in rows]
        leads = connection.execute(select(func.count()).select_from(t.leads)).scalar_one()
    message_ids = [message_id for message_id, _ in stored]
    assert len(message_ids) == len(set(message_ids)), "a message id was stored twice"
    assert set(message_ids) == sent, "touchpoints were lost"
    assert {owner for _, owner in stored} == {lead_id}
    assert leads == 1
    # Each shared id counted as stored by exactly one worker.
    assert sum(r.stored for r in reports) == len(sent) - 1

    with SqlUnitOfWork(pg_engine) as uow:
        score = uow.scores.get_many([lead_id])[lead_id]
        lead = uow.leads.get_many([lead_id])[lead_id]
        history = uow.touchpoints.for_leads([lead_id])[lead_id]
        active = uow.models.active()
    assert active is not None
    recomputed = score_lead(lead, history, active.model, score.scored_at, explain=False)
    assert score.scored_at == NOW
    # No lost update: the score kept is the one the whole log gives.
    assert (score.fit, score.engagement, score.total) == (
        recomputed.fit,
        recomputed.engagement,
        recomputed.total,
    )
    assert score.engagement == WEBINAR_POINTS * len(sent)


def test_two_processes_creating_the_same_new_lead_make_one(
    pg_engine: Engine, postgres_database: str
) -> None:
    activate_simple(_uow_factory(pg_engine), T0)

    reports = _run_workers(postgres_database, "new_lead")

    # Both workers succeeded in every round and agree on the lead each email belongs to.
    assert [len(r.lead_ids) for r in reports] == [ROUNDS] * WORKERS
    assert reports[0].lead_ids == reports[1].lead_ids
    assert len(set(reports[0].lead_ids)) == ROUNDS
    # Neither had to start again: the second to claim the new email waited for the first
    # to commit, then found the lead (before keys were claimed, one attempt lost the
    # unique-key race and was retried).
    assert sum(r.attempts for r in reports) == WORKERS * ROUNDS
    assert sum(r.stored for r in reports) == ROUNDS * (WORKERS + 1)
    with pg_engine.connect() as connection:
        emails = list(connection.execute(select(t.leads.c.email)).scalars())
        per_lead = dict(
            connection.execute(
                select(t.touchpoints.c.lead_id, func.count()).group_by(t.touchpoints.c.lead_id)
            ).all()
        )
        domains = list(connection.execute(select(t.accounts.c.domain)).scalars())
    assert sorted(emails) == sorted(f"new@race{r}.io" for r in range(ROUNDS))
    assert sorted(domains) == sorted(f"race{r}.io" for r in range(ROUNDS))
    # Own ids of both workers plus the shared one, all on the one lead.
    assert per_lead == dict.fromkeys(reports[0].lead_ids, WORKERS + 1)
    with SqlUnitOfWork(pg_engine) as uow:
        scores = uow.scores.get_many(reports[0].lead_ids)
    assert sorted(scores) == sorted(reports[0].lead_ids)
