"""Pieces of the synthetic histories the standalone benchmarks (training, backtest) write
straight into a fresh database with plain INSERTs: no scoring, since what they measure
recomputes everything from the log."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Table

END = datetime(2026, 6, 1, tzinfo=UTC)
DAYS = 365
START = END - timedelta(days=DAYS)
_INDUSTRIES = ["software", "fintech", "ecommerce", "retail", "health", "education"]


def prepared(url: str) -> Engine:
    """A migrated database with the default scoring model active since ``START``."""
    from leadgate.adapters.db.engine import build_engine
    from leadgate.adapters.db.migrate import upgrade
    from leadgate.adapters.db.unit_of_work import SqlUnitOfWork
    from leadgate.models import default_model_text
    from leadgate.services.models import activate_model

    engine = build_engine(url)
    upgrade(engine)
    activate_model(SqlUnitOfWork(engine), default_model_text(), now=START, actor="bench")
    return engine


def accounts(rng: random.Random, count: int) -> list[dict[str, Any]]:
    """``count`` accounts with ids 1..count, domains ``company{i}.com``."""
    return [
        {
            "id": a + 1,
            "domain": f"company{a}.com",
            "industry": rng.choice(_INDUSTRIES),
            "employees": int(rng.lognormvariate(4.5, 1.3)),
            "region": rng.choice(["NA", "EMEA", "APAC"]),
            "technographics": rng.sample(["salesforce", "hubspot", "slack", "jira"], 2),
            "traits": {},
            "created_at": START,
            "updated_at": START,
        }
        for a in range(count)
    ]


def touchpoint(
    message: int, lead_id: int, name: str, when: datetime, properties: dict[str, Any]
) -> dict[str, Any]:
    return {
        "message_id": f"m{message}",
        "lead_id": lead_id,
        "name": name,
        "original_name": name,
        "occurred_at": when,
        "received_at": when,
        "properties": properties,
    }


def transition(
    lead_id: int, from_stage: str, to_stage: str, when: datetime, reason: str
) -> dict[str, Any]:
    """A stage change made by a rep."""
    return {
        "lead_id": lead_id,
        "from_stage": from_stage,
        "to_stage": to_stage,
        "occurred_at": when,
        "actor_type": "user",
        "actor": "rep",
        "reason": reason,
        "override": False,
    }


def insert(engine: Engine, rows: Sequence[tuple[Table, list[dict[str, Any]]]]) -> None:
    """Insert each table's rows, in order, 20,000 at a time in one transaction, and
    release the engine."""
    with engine.begin() as connection:
        for table, table_rows in rows:
            for offset in range(0, len(table_rows), 20_000):
                connection.execute(table.insert(), table_rows[offset : offset + 20_000])
    engine.dispose()
