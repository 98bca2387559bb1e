"""The generated workspace the analytics tests share, and the rows they check against.

The workspace is the demo's synthetic world (``generate_world``) played through the real
use cases, more coarsely than ``leadgate demo`` so that it builds in about a second on
each back end, and with what the demo leaves out: sales's answers go through
``record_feedback`` (outcomes with BANT, reasons, opportunity amounts, won deals), reps
record first touches, the SLA watcher breaches and reassigns, and a second scoring model
version is activated half way.

``Log`` reads every table back with plain ``SELECT``s, so each test can recompute its
metric in plain Python over the transition log and compare it with the report.

The tests at the bottom check that the workspace holds what the analytics tests rely on
(a silent generator change would otherwise make them check nothing).
"""

from __future__ import annotations

import atexit
import random
import shutil
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.engine import make_url

from leadgate.adapters.db import tables as t
from leadgate.adapters.db.engine import build_engine
from leadgate.adapters.db.migrate import upgrade
from leadgate.adapters.db.unit_of_work import SqlUnitOfWork
from leadgate.demo.world import DAY, DISQUALIFY_REASONS, PlannedOutcome, generate_world
from leadgate.domain.lifecycle import ActorType, Stage
from leadgate.models import default_model_text
from leadgate.services.commands import ChangeStage, LeadIn, TouchpointIn
from leadgate.services.feedback import Feedback, record_feedback, record_first_touch
from leadgate.services.ingest import ingest_touchpoints
from leadgate.services.lifecycle import change_stage
from leadgate.services.models import activate_model
from leadgate.services.profiles import upsert_accounts, upsert_leads
from leadgate.services.sla_watch import watch_slas
from tests.conftest import POSTGRES_URL

END = datetime(2026, 3, 2, tzinfo=UTC)
DAYS = 42
LEADS = 110
SEED = 11
TICK = 2  # days of traffic per ingest call
SALES = "rep@example.com"

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]

RECYCLE = ("bad_timing", "no_budget", "no_response", "not_decision_maker")
DISQUALIFY = ("bad_fit", "competitor", "student_or_job_seeker", "spam")
# Half way the MQL gate is lowered: transitions after it carry model version 2.
SECOND_MODEL = default_model_text().replace("{field: total, gte: 60}", "{field: total, gte: 50}")


@dataclass
class Workspace:
    """``log`` is read once when the workspace is built: on SQLite every transaction
    takes the write lock at BEGIN, so reading it while a report's connection is open
    would wait for that connection."""

    backend: str
    engine: Engine
    start: datetime
    end: datetime
    log: Log


@dataclass
class Log:
    """Every row of the tables analytics reads, as plain Python (times are aware UTC)."""

    leads: dict[int, Any]
    accounts: dict[int, Any]
    transitions: list[Any]  # by (occurred_at, id)
    touchpoints: dict[int, list[Any]]  # per lead, by (occurred_at, id)
    handoffs: list[Any]
    outcomes: list[Any]
    scores: dict[int, Any]
    by_lead: dict[int, list[Any]] = field(default_factory=dict)

    @classmethod
    def read(cls, engine: Engine) -> Log:
        with engine.connect() as c:

            def rows(table: Any) -> list[Any]:
                return list(c.execute(select(table)))

            touchpoints: dict[int, list[Any]] = defaultdict(list)
            for row in sorted(rows(t.touchpoints), key=lambda r: (r.occurred_at, r.id)):
                touchpoints[row.lead_id].append(row)
            transitions = sorted(rows(t.transitions), key=lambda r: (r.occurred_at, r.id))
            log = cls(
                leads={r.id: r for r in rows(t.leads)},
                accounts={r.id: r for r in rows(t.accounts)},
                transitions=transitions,
                touchpoints=dict(touchpoints),
                handoffs=rows(t.handoffs),
                outcomes=sorted(rows(t.outcomes), key=lambda r: (r.occurred_at, r.id)),
                scores={r.lead_id: r for r in rows(t.scores)},
            )
        for tr in transitions:
            log.by_lead.setdefault(tr.lead_id, []).append(tr)
        return log

    def entries(self, lead_id: int, stage: Stage) -> list[tuple[datetime, int | None, Any]]:
        """(time, transition id, model version) of each entry, creation first for lead."""
        found: list[tuple[datetime, int | None, Any]] = []
        if stage is Stage.LEAD:
            found.append((self.leads[lead_id].created_at, None, None))
        found += [
            (tr.occurred_at, tr.id, tr.model_version)
            for tr in self.by_lead.get(lead_id, [])
            if tr.to_stage == stage.value
        ]
        return found

    def first_entry(self, lead_id: int, stage: Stage) -> tuple[datetime, int | None, Any] | None:
        found = self.entries(lead_id, stage)
        return found[0] if found else None


# ------------------------------------------------------------------------- building


def _prepare(
    backend: str, make_dir: Callable[[], Path], template: Callable[[], Path]
) -> tuple[Engine, Callable[[], None]]:
    if backend == "sqlite":
        path = make_dir() / "analytics.db"
        shutil.copy(template(), path)
        engine = build_engine(f"sqlite:///{path}")
        return engine, engine.dispose
    admin_url = make_url(POSTGRES_URL).set(drivername="postgresql+psycopg")
    name = f"leadgate_analytics_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = build_engine(admin_url.set(database=name).render_as_string(hide_password=False))
    upgrade(engine)

    def drop() -> None:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return engine, drop


def _kind_of(step: PlannedOutcome) -> str:
    return {
        Stage.SQL: "accepted",
        Stage.RECYCLED: "recycled",
        Stage.DISQUALIFIED: "disqualified",
        Stage.OPPORTUNITY: "opportunity",
        Stage.CUSTOMER: "won",
        Stage.LOST: "lost",
    }[step.to_stage]


def build(engine: Engine) -> tuple[datetime, datetime]:
    """Play the world into an empty migrated database; return its (start, end)."""
    world = generate_world(leads=LEADS, days=DAYS, seed=SEED, end=END)
    rng = random.Random(SEED)

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine)

    start = world.start
    activate_model(uow(), default_model_text(), now=start, actor="test")
    upsert_accounts(uow(), world.accounts, now=start)

    # Each lead is synced on the day of its first message (or on day 0), so leads are
    # created across the span. Messages carry the email only: identity stitching is not
    # what these tests are about, and anonymous-only messages are left out.
    first_day: dict[str, int] = {}
    messages: list[TouchpointIn] = []
    seen: set[str] = set()
    for delivery in world.deliveries:
        tp = delivery.touchpoint
        if tp.email is None or tp.message_id in seen:
            continue
        seen.add(tp.message_id)
        first_day.setdefault(tp.email, world.day_of(tp.occurred_at))
        messages.append(
            TouchpointIn(tp.message_id, tp.name, tp.occurred_at, tp.properties, email=tp.email)
        )
    messages.sort(key=lambda m: (m.occurred_at, m.message_id))
    joining: dict[int, list[LeadIn]] = defaultdict(list)
    for lead in world.leads:
        joining[first_day.get(lead.email or "", 0) // TICK].append(lead)
    plans: dict[str, list[PlannedOutcome]] = defaultdict(list)
    for step in world.outcomes:
        plans[step.email].append(step)
    done: dict[str, int] = defaultdict(int)

    ticks = DAYS // TICK
    position = 0
    for tick in range(ticks):
        tick_start = start + tick * TICK * DAY
        tick_end = tick_start + TICK * DAY
        if tick == ticks // 2:
            activate_model(uow(), SECOND_MODEL, now=tick_start, actor="test")
        if joining.get(tick):
            upsert_leads(uow(), joining[tick], now=tick_start)
        batch = []
        while position < len(messages) and messages[position].occurred_at < tick_end:
            batch.append(messages[position])
            position += 1
        if batch:
            ingest_touchpoints(uow(), batch, now=tick_end)

        with engine.connect() as c:
            fresh = c.execute(
                select(t.handoffs.c.id, t.handoffs.c.created_at).where(
                    t.handoffs.c.created_at == tick_end,
                    t.handoffs.c.owner.is_not(None),
                    t.handoffs.c.first_touch_at.is_(None),
                )
            ).all()
        for handoff_id, created in fresh:
            if rng.random() < 0.5:
                hours = rng.choice((0.25, 0.5, 2.0, 5.0, 30.0))
                record_first_touch(uow(), handoff_id, at=created + timedelta(hours=hours))
        watch_slas(uow(), now=tick_end + timedelta(hours=20))

        # Sales answers one day after the tick, on each lead whose next step is due.
        now = tick_end + DAY
        with engine.connect() as c:
            leads = c.execute(
                select(t.leads.c.id, t.leads.c.email, t.leads.c.stage, t.leads.c.stage_entered_at)
                .where(t.leads.c.stage.in_(("mql", "sql", "opportunity")))
                .order_by(t.leads.c.id)
            ).all()
        for lead_id, email, stage, entered in leads:
            plan = plans.get(email, [])
            due = next((s for s in plan[done[email] :] if s.from_stage.value == stage), None)
            if due is None or entered + due.after_days * DAY > now:
                continue
            step = due
            done[email] = plan.index(step) + 1
            kind = _kind_of(step)
            details: dict[str, Any] = {}
            reason: str | None = None
            if kind == "accepted":
                details = {"budget": rng.choice(("yes", "no")), "timeline": "Q2"}
            elif kind == "recycled":
                reason = rng.choice(RECYCLE)
            elif kind == "disqualified":
                if rng.random() < 0.3:
                    # Decided outside leadgate's feedback form: a transition, no outcome.
                    why = rng.choice(DISQUALIFY_REASONS)
                    change_stage(
                        uow(),
                        ChangeStage(lead_id, Stage.DISQUALIFIED, why, SALES, ActorType.USER),
                        now=now,
                    )
                    continue
                reason = rng.choice(DISQUALIFY)
            elif kind == "opportunity":
                if rng.random() < 0.85:
                    details = {"amount": rng.choice((5000, 12000, 24000, 60000, 150000))}
            elif kind == "won":
                if rng.random() < 0.25:
                    details = {"amount": 99000}
            elif kind == "lost":
                reason = rng.choice(("price", "competitor", "no decision"))
            record_feedback(
                uow(),
                Feedback(lead_id, kind, SALES, reason=reason, details=details),  # type: ignore[arg-type]
                now=now,
            )
    return start, END


_BUILT: dict[str, Workspace] = {}


def workspace_for(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """The workspace of a back end, built once per test process and shared by modules."""
    if backend not in _BUILT:
        engine, drop = _prepare(
            backend,
            lambda: tmp_path_factory.mktemp("analytics"),
            lambda: _template(tmp_path_factory),
        )
        atexit.register(drop)  # the PostgreSQL database outlives any one test module
        start, end = build(engine)
        _BUILT[backend] = Workspace(backend, engine, start, end, Log.read(engine))
    return _BUILT[backend]


def _template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("analytics-template") / "template.db"
    engine = build_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="module", params=BACKENDS)
def ws(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return workspace_for(request.param, tmp_path_factory)


# ------------------------------------------------------------------------- sanity


def test_the_workspace_holds_every_kind_of_fact(ws: Workspace) -> None:
    log = ws.log
    reached = {tr.to_stage for tr in log.transitions}
    assert {"mql", "sql", "opportunity", "customer", "recycled", "disqualified", "lost"} <= reached
    kinds = {o.kind for o in log.outcomes}
    assert {"accepted", "recycled", "disqualified", "opportunity", "won", "lost"} <= kinds
    amounts = [o for o in log.outcomes if o.kind == "opportunity" and "amount" in o.details]
    assert len(amounts) >= 5
    assert {h.sla_status for h in log.handoffs} >= {"met", "breached"}
    assert {h.status for h in log.handoffs} >= {"accepted", "rejected"}
    assert {tr.model_version for tr in log.transitions} >= {1, 2}
    # Leads are created across the span, not all on day 0.
    assert len({lead.created_at for lead in log.leads.values()}) > 5
    # Some disqualifications have no outcome (their reason is the transition's own).
    outcome_moments = {(o.lead_id, o.occurred_at) for o in log.outcomes}
    assert any(
        (tr.lead_id, tr.occurred_at) not in outcome_moments
        for tr in log.transitions
        if tr.to_stage == "disqualified"
    )
