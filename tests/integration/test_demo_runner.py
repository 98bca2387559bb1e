"""The demo runner on SQLite: the world goes through the real use cases and makes sense."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from leadgate.adapters.db import tables as t
from leadgate.adapters.db.engine import build_engine
from leadgate.adapters.db.migrate import upgrade
from leadgate.adapters.db.unit_of_work import SqlUnitOfWork
from leadgate.demo.runner import SALES_ACTOR, DemoSummary, run_demo
from leadgate.demo.world import generate_world
from leadgate.models import default_model_text
from leadgate.services.models import activate_model

LEADS = 300
DAYS = 30
SEED = 7
END = datetime(2026, 3, 2, tzinfo=UTC)

pytestmark = pytest.mark.slow  # two demo runs of a few seconds each


@dataclass(frozen=True)
class Run:
    engine: Engine
    summary: DemoSummary


def _run(path: Path) -> Run:
    engine = build_engine(f"sqlite:///{path}")
    upgrade(engine)
    start = END - timedelta(days=DAYS)
    activate_model(SqlUnitOfWork(engine), default_model_text(), now=start, actor="test")
    summary = run_demo(lambda: SqlUnitOfWork(engine), leads=LEADS, days=DAYS, seed=SEED, end=END)
    return Run(engine, summary)


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return _run(tmp_path_factory.mktemp("demo") / "first.db")


def _stages(engine: Engine) -> Counter[str]:
    with engine.connect() as connection:
        rows = connection.execute(select(t.leads.c.stage, func.count()).group_by(t.leads.c.stage))
        return Counter({str(stage): int(count) for stage, count in rows})


def _scores(engine: Engine) -> list[tuple[object, ...]]:
    c = t.scores.c
    with engine.connect() as connection:
        rows = connection.execute(
            select(t.leads.c.email, c.fit, c.engagement, c.total, c.grade)
            .join(t.leads, t.leads.c.id == c.lead_id)
            .order_by(t.leads.c.email)
        )
        return [tuple(row) for row in rows]


def test_summary_counts_what_the_world_sent(first: Run) -> None:
    world = generate_world(leads=LEADS, days=DAYS, seed=SEED, end=END)
    unique = {tp.message_id for tp in world.touchpoints}
    summary = first.summary
    assert summary.accounts == len(world.accounts) == 100
    assert summary.leads == LEADS
    assert summary.messages == len(world.deliveries)
    assert summary.touchpoints == len(unique)
    assert summary.duplicates == len(world.deliveries) - len(unique) > 0
    assert summary.sales_decisions > 0
    assert summary.transitions > summary.sales_decisions
    with first.engine.connect() as connection:
        stored = connection.execute(select(func.count()).select_from(t.touchpoints)).scalar_one()
    assert stored == summary.touchpoints


def test_anonymous_visitors_are_stitched_to_their_leads(first: Run) -> None:
    # Every cookie-only message belongs to a lead that later identified itself, so no
    # anonymous leads are left over and every lead has its email.
    with first.engine.connect() as connection:
        leads = connection.execute(select(func.count()).select_from(t.leads)).scalar_one()
        nameless = connection.execute(
            select(func.count()).select_from(t.leads).where(t.leads.c.email.is_(None))
        ).scalar_one()
        linked = connection.execute(
            select(func.count(func.distinct(t.identities.c.lead_id))).where(
                t.identities.c.kind == "anonymous_id"
            )
        ).scalar_one()
    assert leads == LEADS
    assert nameless == 0
    assert linked > 0


def test_the_funnel_fills(first: Run) -> None:
    with first.engine.connect() as connection:
        by_stage = select(t.transitions.c.to_stage, func.count()).group_by(t.transitions.c.to_stage)
        reached: Counter[str] = Counter(
            {str(stage): int(count) for stage, count in connection.execute(by_stage)}
        )
        overrides = connection.execute(
            select(func.count()).select_from(t.transitions).where(t.transitions.c.override)
        ).scalar_one()
    assert reached["mql"] > 0
    assert reached["sql"] > 0
    assert reached["opportunity"] > 0
    assert reached["customer"] > 0
    assert reached["disqualified"] + reached["recycled"] > 0
    assert overrides == 0  # sales only ever makes moves the transition table allows
    stages = _stages(first.engine)
    assert stages["lead"] < LEADS


def test_sales_decisions_are_recorded_as_a_user(first: Run) -> None:
    with first.engine.connect() as connection:
        rows = connection.execute(
            select(t.transitions.c.actor_type, t.transitions.c.reason).where(
                t.transitions.c.actor == SALES_ACTOR
            )
        ).all()
    assert len(rows) == first.summary.sales_decisions
    assert {row.actor_type for row in rows} == {"user"}


def test_customers_qualified_on_better_fit_and_engagement(first: Run) -> None:
    """The world's hidden intent shows in the model's numbers: customers looked better when
    they qualified than leads sales later disqualified, or leads that never qualified."""
    tr = t.transitions.c
    with first.engine.connect() as connection:
        current = dict(connection.execute(select(t.leads.c.id, t.leads.c.stage)).all())
        latest = select(t.scores.c.lead_id, t.scores.c.fit, t.scores.c.engagement)
        scores = {row.lead_id: (row.fit, row.engagement) for row in connection.execute(latest)}
        qualified: dict[int, tuple[float, float]] = {}
        for row in connection.execute(
            select(tr.lead_id, tr.fit, tr.engagement)
            .where(tr.from_stage == "lead", tr.to_stage.in_(("mql", "sql")))
            .order_by(tr.occurred_at, tr.id)
        ):
            qualified.setdefault(row.lead_id, (row.fit, row.engagement))
    customers = [qualified[i] for i, stage in current.items() if stage == "customer"]
    others = [qualified[i] for i, stage in current.items() if stage == "disqualified"]
    others += [scores[i] for i in current if i not in qualified]
    assert len(customers) >= 3
    assert len(others) >= 30

    def mean(values: list[float]) -> float:
        return sum(values) / len(values)

    assert mean([fit for fit, _ in customers]) > mean([fit for fit, _ in others])
    assert mean([eng for _, eng in customers]) > mean([eng for _, eng in others])


def test_same_seed_into_a_fresh_database_gives_the_same_result(first: Run, tmp_path: Path) -> None:
    second = _run(tmp_path / "second.db")
    assert _stages(second.engine) == _stages(first.engine)
    assert _scores(second.engine) == _scores(first.engine)
    assert second.summary.transitions == first.summary.transitions
