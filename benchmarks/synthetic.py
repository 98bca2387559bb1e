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
# (name, properties, weight): the touchpoints of a year of history, mostly page views and
# email, few high-intent events.
KINDS: list[tuple[str, dict[str, Any], int]] = [
    ("page_view", {"category": "blog"}, 30),
    ("page_view", {"category": "product"}, 15),
    ("page_view", {"category": "pricing"}, 8),
    ("page_view", {"category": "careers"}, 2),
    ("email_open", {}, 15),
    ("email_click", {}, 6),
    ("content_download", {"asset_type": "ebook"}, 4),
    ("webinar_attended", {}, 2),
    ("form_submit", {}, 2),
    ("demo_request", {}, 1),
    ("trial_signup", {}, 1),
    ("email_unsubscribe", {}, 1),
]
KIND_WEIGHTS = [k[2] for k in KINDS]


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


def lead(rng: random.Random, index: int, n_accounts: int) -> dict[str, Any]:
    """Lead ``index`` (id ``index + 1``), created some time in the year, at one of the
    accounts, with a seniority, department and source."""
    created = START + timedelta(seconds=rng.random() * DAYS * 86_400)
    account = rng.randrange(n_accounts)
    seniority = rng.choice(["ic", "manager", "director", "vp", "c_level", "student"])
    return {
        "id": index + 1,
        "email": f"lead{index}@company{account}.com",
        "account_id": account + 1,
        "seniority": seniority,
        "department": rng.choice(["marketing", "sales", "it", "finance"]),
        "source_channel": rng.choice(["organic", "paid_search", "referral", "event"]),
        "stage": "lead",
        "stage_entered_at": created,
        "traits": {},
        "created_at": created,
        "updated_at": created,
    }


def touch_time(rng: random.Random, created: datetime) -> datetime:
    """When one of a lead's touchpoints happened: mostly in the months after it arrived
    (sometimes a little before: imported history), never after ``END``."""
    when = created + timedelta(days=rng.uniform(-10, 150))
    if when > END:
        when = END - timedelta(seconds=rng.random() * 30 * 86_400)
    return when


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
