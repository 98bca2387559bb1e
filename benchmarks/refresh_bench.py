"""The scheduled refresh over many leads (``python -m benchmarks --refresh --leads N``).

``--leads`` leads (100,000 by default, up to 1,000,000) at three tenths as many accounts,
each with a few touchpoints (1 to 5, 3 on average; the backtest's leads, kinds and times
over a year, benchmarks/synthetic.py), are written straight into a fresh database with
plain INSERTs, ``CHUNK`` leads at a time so memory stays flat at any size. Then what
``leadgate refresh`` runs (leadgate/cli/ops_cmds.py; see below), on a unit of work over
the database, is timed in a fresh process each time, so its peak RSS is its own:
first as of the history's end, when no lead has a stored score yet, then as of a day
later, when every lead has one (the next day's refresh).

What ``leadgate refresh`` runs is ``refresh_all`` since the incremental write side (each
lead brought forward from its stored state; one without a state is rebuilt from its log)
and ``rescore_all`` before it (every lead recomputed from its log); ``refresh_entry``
picks the one the installed leadgate has, so the same benchmark measures both.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from benchmarks import synthetic

CHUNK = 50_000
TOUCHES = (1, 5)  # per lead, uniform


def populate(url: str, leads: int, seed: int = 1) -> dict[str, int]:
    """Accounts, leads and their touchpoints, ``CHUNK`` leads per transaction."""
    from leadgate.adapters.db import tables as t

    rng = random.Random(seed)
    engine = synthetic.prepared(url)
    n_accounts = max(1, leads * 3 // 10)
    synthetic.insert(engine, [(t.accounts, synthetic.accounts(rng, n_accounts))])
    message = 0
    for offset in range(0, leads, CHUNK):
        lead_rows: list[dict[str, Any]] = []
        touch_rows: list[dict[str, Any]] = []
        for i in range(offset, min(offset + CHUNK, leads)):
            lead = synthetic.lead(rng, i, n_accounts)
            lead_rows.append(lead)
            count = rng.randint(*TOUCHES)
            for kind in rng.choices(
                range(len(synthetic.KINDS)), weights=synthetic.KIND_WEIGHTS, k=count
            ):
                name, props, _ = synthetic.KINDS[kind]
                when = synthetic.touch_time(rng, lead["created_at"])
                message += 1
                touch_rows.append(synthetic.touchpoint(message, i + 1, name, when, props))
        synthetic.insert(engine, [(t.leads, lead_rows), (t.touchpoints, touch_rows)])
    return {"leads": leads, "accounts": n_accounts, "touchpoints": message}


def refresh_entry() -> tuple[str, Callable[..., Any]]:
    """The use case ``leadgate refresh`` calls (leadgate/cli/ops_cmds.py), and its name."""
    from leadgate.services.refresh import refresh_all

    return refresh_all.__name__, refresh_all


def time_refresh(url: str, at: datetime) -> dict[str, Any]:
    """Run ``leadgate refresh``'s use case once over the database as of ``at``, timed."""
    from leadgate.adapters.db.engine import build_engine
    from leadgate.adapters.db.unit_of_work import SqlUnitOfWork

    name, entry = refresh_entry()
    engine = build_engine(url)
    started = time.perf_counter()
    result = entry(SqlUnitOfWork(engine), now=at)
    elapsed = time.perf_counter() - started
    engine.dispose()
    return {
        "entry": name,
        "leads": result.rescored,
        "transitions": result.transitions,
        "seconds": elapsed,
    }
