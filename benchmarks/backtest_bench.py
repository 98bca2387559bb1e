"""A 90-day backtest over 100 k leads and 1 M touchpoints: ``python -m benchmarks.backtest_bench``.

A year of synthetic history is written straight into a fresh database with plain INSERTs
(leads at 30 k accounts, ~10 touchpoints each, opportunities and customers for the leads
that convert), the shipped model is the active one, and ``leadgate backtest``'s use case
replays the last 90 days through a candidate (the shipped model with its MQL threshold
lowered from 60 to 50) and the active model: reading the history in chunks, gate days per
lead and model, the weekly figures. The budget is 60 s.

``--leads 20000`` runs a smaller version; ``--backend postgresql`` uses PostgreSQL
(LEADGATE_BENCH_POSTGRES_URL).
"""

from __future__ import annotations

import math
import random
import resource
import time
from datetime import timedelta
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks import synthetic
from benchmarks.databases import populated_run
from benchmarks.machine import describe
from benchmarks.synthetic import END

TOUCHES_PER_LEAD = 10


def candidate_text() -> str:
    """The shipped model with the MQL gate's threshold lowered from 60 to 50."""
    from leadgate.models import default_model_text

    text = default_model_text()
    lowered = text.replace("- {field: total, gte: 60}", "- {field: total, gte: 50}", 1)
    assert lowered != text, "the shipped model's MQL gate changed; update the benchmark"
    return lowered.replace("name: b2b-saas-default", "name: lower-mql", 1)


def populate(url: str, leads: int, seed: int = 1) -> dict[str, int]:
    """Write the synthetic history with plain INSERTs (no scoring: a backtest recomputes
    everything from the log)."""
    from leadgate.adapters.db import tables as t

    rng = random.Random(seed)
    engine = synthetic.prepared(url)

    n_accounts = max(1, leads * 3 // 10)
    accounts = synthetic.accounts(rng, n_accounts)
    lead_rows, touch_rows, transitions = [], [], []
    message = 0
    for i in range(leads):
        lead = synthetic.lead(rng, i, n_accounts)
        lead_rows.append(lead)
        created = lead["created_at"]
        # Engaged leads do more.
        count = min(80, int(rng.expovariate(1 / (TOUCHES_PER_LEAD * 1.03))) + 1)
        high_intent = 0
        for kind in rng.choices(
            range(len(synthetic.KINDS)), weights=synthetic.KIND_WEIGHTS, k=count
        ):
            when = synthetic.touch_time(rng, created)
            name, props, _ = synthetic.KINDS[kind]
            high_intent += name in ("demo_request", "trial_signup", "webinar_attended")
            message += 1
            touch_rows.append(synthetic.touchpoint(message, i + 1, name, when, props))
        logit = -3.0 + 0.3 * math.log1p(count) + 0.8 * high_intent + rng.gauss(0, 0.5)
        if rng.random() < 1 / (1 + math.exp(-logit)):
            opportunity = created + timedelta(days=rng.uniform(5, 90))
            if opportunity <= END:
                transitions.append(
                    synthetic.transition(i + 1, "sql", "opportunity", opportunity, "sales feedback")
                )
                won = opportunity + timedelta(days=rng.uniform(10, 60))
                if won <= END and rng.random() < 0.35:
                    transitions.append(
                        synthetic.transition(
                            i + 1, "opportunity", "customer", won, "sales feedback"
                        )
                    )
    synthetic.insert(
        engine,
        (
            (t.accounts, accounts),
            (t.leads, lead_rows),
            (t.touchpoints, touch_rows),
            (t.transitions, transitions),
        ),
    )
    return {"leads": leads, "touchpoints": len(touch_rows), "transitions": len(transitions)}


def run(url: str) -> dict[str, Any]:
    from leadgate.adapters.db.engine import build_engine
    from leadgate.adapters.db.unit_of_work import SqlUnitOfWork
    from leadgate.adapters.model_yaml import load_model
    from leadgate.services.backtest import run_backtest

    engine = build_engine(url)
    candidate = load_model(candidate_text(), "lower-mql.yaml")
    started, cpu = time.perf_counter(), time.process_time()
    report = run_backtest(SqlUnitOfWork(engine), candidate, now=END)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    engine.dispose()
    figures = report.figures
    return {
        "days": (figures.last - figures.first).days + 1,
        "replayed": figures.leads,
        "baseline_mql": figures.baseline.mql,
        "candidate_mql": figures.candidate.mql,
        "changes": len(figures.changes),
        "median_days": figures.timing.median_days,
        "total_s": elapsed,
        # This process's CPU time: the database server's (PostgreSQL) is not in it.
        "cpu_s": cpu,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    result, as_json = populated_run(__doc__.splitlines()[0], populate, run)
    if as_json:
        return
    console = Console()
    table = Table(
        "backend",
        "leads",
        "touchpoints",
        "days",
        "MQLs base → cand.",
        "status changes",
        "median days",
        "backtest",
        "CPU",
        "budget",
        "peak RSS",
        title="leadgate backtest: 90 days, 100 k leads, 1 M touchpoints within 60 s",
        caption=describe(),
    )
    median = result["median_days"]
    table.add_row(
        result["backend"],
        f"{result['leads']:,}",
        f"{result['touchpoints']:,}",
        str(result["days"]),
        f"{result['baseline_mql']:,} → {result['candidate_mql']:,}",
        f"{result['changes']:,}",
        f"{median:+.1f}" if median is not None else "–",
        f"{result['total_s']:.1f} s",
        f"{result['cpu_s']:.1f} s",
        "met" if result["total_s"] <= 60 else "MISSED",
        f"{result['peak_rss_mib']:.0f} MiB",
    )
    console.print(table)


if __name__ == "__main__":
    main()
