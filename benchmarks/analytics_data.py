"""A synthetic two-year history for the analytics benchmark, written fast.

``history(leads, touchpoints)`` draws the same rows for a seed on every back end:
accounts, leads with recorded sources and campaigns, their touchpoints (UTM mediums and
campaigns on some, email campaigns, intent topics), and each lead's walk through the
funnel (lead → mql → sql → opportunity → customer, with recycles that requalify,
disqualifications and lost deals), with the outcomes sales records (opportunity and won
amounts, reasons). ``load_sqlite`` and ``load_postgresql`` write it as bulk loads do:
executemany in large transactions with indexes built afterwards (SQLite), COPY (PostgreSQL).

Touchpoints are inserted in time order, as a live feed stores them, so a lead's history is
spread over the table (a lead-ordered load would flatter every per-lead lookup).
"""

from __future__ import annotations

import json
import math
import random
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

START = datetime(2024, 6, 1, tzinfo=UTC)
END = datetime(2026, 6, 1, tzinfo=UTC)
SPAN = int((END - START).total_seconds())
DAY = 86_400
# The second scoring model version goes live half way (transitions carry it).
MODEL_SWITCH = SPAN // 2

INDUSTRIES = ["software", "fintech", "ecommerce", "retail", "health", "education", "media"]
REGIONS = ["NA", "EMEA", "APAC", "LATAM"]
SENIORITIES = ["ic", "manager", "director", "vp", "c_level", None]
PERSONAS = ["marketing", "sales", "revops", "engineering", "finance", None]
SOURCES = [
    ("paid_search", 0.22),
    ("organic_search", 0.2),
    ("paid_social", 0.12),
    ("email", 0.08),
    ("events", 0.06),
    ("partner", 0.05),
    ("referral", 0.07),
    (None, 0.2),
]
REPS = [f"rep{i:02d}@example.com" for i in range(40)]
RECYCLE = ["bad_timing", "no_budget", "no_response", "not_decision_maker"]
DISQUALIFY = ["bad_fit", "competitor", "student_or_job_seeker", "spam"]
LOST = ["price", "competitor", "no_decision"]

# Touchpoint names and how common each is; the properties each may carry are below.
NAMES = [
    ("page_view", 40.0),
    ("email_open", 16.0),
    ("email_click", 7.0),
    ("product_active_day", 6.0),
    ("content_download", 5.0),
    ("ad_click", 4.0),
    ("form_submit", 3.0),
    ("intent_surge", 2.0),
    ("sales_email", 2.0),
    ("webinar_registered", 2.0),
    ("webinar_attended", 1.5),
    ("sales_call", 1.5),
    ("event_attended", 0.7),
    ("demo_request", 0.6),
    ("trial_signup", 0.5),
    ("meeting_booked", 0.5),
    ("email_unsubscribe", 0.3),
    ("contact_sales", 0.2),
]
_UTM = [
    ("cpc", "gs-brand"),
    ("cpc", "gs-generic"),
    ("paid_social", "li-abm"),
    ("paid_social", "fb-retarget"),
    ("social", "organic-li"),
    ("organic", None),
    ("email", "nl-monthly"),
    ("newsletter", "nl-weekly"),
    ("referral", "g2"),
    ("partner", "partner-co"),
    ("display", "gdn-prospect"),
    ("event", "saas-summit"),
    ("podcast", "pod-q2"),
]
_PATHS = [("/", "home"), ("/pricing", "pricing"), ("/blog/x", "blog"), ("/product", "product")]


def _properties(name: str) -> list[str]:
    """The JSON property documents a touchpoint of ``name`` can carry (one drawn per row)."""
    if name == "page_view":
        plain = [{"path": p, "category": c} for p, c in _PATHS]
        tagged = [
            {"path": p, "category": c, "utm": {"medium": m, "campaign": k, "source": "x"}}
            for (p, c) in _PATHS[:2]
            for m, k in _UTM
        ]
        # About a third of page views carry a UTM tag.
        docs: list[dict[str, Any]] = plain * 13 + tagged
    elif name == "ad_click":
        docs = [{"utm": {"medium": m, "campaign": k}} for m, k in _UTM[:4]] + [{}]
    elif name in ("email_click", "email_open"):
        docs = [{"campaign": f"nl-2026-{m:02d}"} for m in range(1, 13)]
    elif name == "intent_surge":
        docs = [{"topic": t, "score": s} for t in ("crm", "ai", "abm") for s in (60, 80, 95)]
    elif name in ("webinar_registered", "webinar_attended", "event_attended"):
        docs = [{"campaign": f"webinar-{k}"} for k in range(6)]
    else:
        docs = [{}]
    return [json.dumps(d, separators=(",", ":")) for d in docs]


@dataclass(frozen=True, slots=True)
class History:
    """Rows ready to write; times are whole seconds since ``START``."""

    accounts: list[tuple[Any, ...]]
    leads: list[tuple[Any, ...]]
    transitions: list[tuple[Any, ...]]
    outcomes: list[tuple[Any, ...]]
    tp_lead: np.ndarray
    tp_time: np.ndarray
    tp_name: np.ndarray
    tp_props: np.ndarray
    names: list[str]
    props: list[str]


def stamp(seconds: int) -> str:
    """A time as SQLAlchemy stores a naive UTC DateTime on SQLite (and PostgreSQL parses)."""
    return (START + timedelta(seconds=int(seconds))).strftime("%Y-%m-%d %H:%M:%S.000000")


def _walk(rng: random.Random, created: int) -> list[tuple[str, str, int]]:
    """One lead's transitions (from, to, seconds) up to END."""
    moves: list[tuple[str, str, int]] = []
    stage, at, cycles = "lead", created, 0

    def go(to: str, mean_days: float) -> bool:
        nonlocal stage, at
        when = at + int(rng.expovariate(1 / (mean_days * DAY))) + 60
        if when >= SPAN:
            return False
        moves.append((stage, to, when))
        stage, at = to, when
        return True

    # Each stage's exits: (next stage, probability, mean days until it).
    exits: dict[str, list[tuple[str, float, float]]] = {
        "lead": [("mql", 0.25, 20), ("sql", 0.03, 6)],
        "mql": [("sql", 0.35, 8), ("recycled", 0.3, 15), ("disqualified", 0.1, 10)],
        "sql": [("opportunity", 0.45, 10), ("recycled", 0.13, 12), ("disqualified", 0.12, 8)],
        "opportunity": [("customer", 0.3, 45), ("lost", 0.45, 40)],
        "recycled": [("mql", 0.35, 60)],
        "lost": [("recycled", 0.2, 30)],
    }
    while stage in exits:
        draw, moved = rng.random(), False
        for to, p, days in exits[stage]:
            if draw < p:
                if to == "mql" and stage == "recycled":
                    cycles += 1
                    if cycles > 3:
                        return moves
                moved = go(to, days)
                break
            draw -= p
        if not moved:
            return moves
    return moves


def history(leads: int, touchpoints: int, seed: int = 5) -> History:
    """Draw the whole history (about 2.5 GB of Python objects at 1M/20M)."""
    rng = random.Random(seed)
    npr = np.random.default_rng(seed)
    n_accounts = max(1, leads // 4)
    accounts = []
    for a in range(n_accounts):
        accounts.append(
            (
                a + 1,
                f"company{a}.example",
                f"Company {a}",
                rng.choice(INDUSTRIES),
                max(1, int(rng.lognormvariate(4.5, 1.5))),
                rng.choice(REGIONS),
                "[]",
                "{}",
                stamp(0),
                stamp(0),
            )
        )
    # Lead arrivals grow over the two years (the daily rate doubles).
    u = npr.random(leads)
    created_all = np.sort((SPAN * (np.sqrt(1 + 3 * u) - 1)).astype(np.int64))
    sources, weights = zip(*SOURCES, strict=True)
    lead_rows, transitions, outcomes = [], [], []
    for i in range(leads):
        created = int(created_all[i])
        account = rng.randrange(n_accounts) + 1 if rng.random() < 0.9 else None
        source = rng.choices(sources, weights)[0]
        campaign = f"{source}-{rng.randrange(12)}" if source and rng.random() < 0.8 else None
        moves = _walk(rng, created)
        stage, entered = (moves[-1][1], moves[-1][2]) if moves else ("lead", created)
        owner = rng.choice(REPS) if any(m[1] == "sql" for m in moves) else None
        lead_rows.append(
            (
                i + 1,
                f"lead{i}@company{account or 0}.example",
                account,
                rng.choice(SENIORITIES),
                rng.choice(PERSONAS),
                source,
                campaign,
                owner,
                stage,
                stamp(entered),
                "{}",
                stamp(created),
                stamp(entered),
            )
        )
        amount = round(rng.lognormvariate(10, 0.8), 2)
        for from_stage, to_stage, at in moves:
            by_rule = to_stage in ("mql", "sql") and from_stage != "recycled"
            version = (1 if at < MODEL_SWITCH else 2) if by_rule else None
            transitions.append(
                (
                    i + 1,
                    from_stage,
                    to_stage,
                    stamp(at),
                    "rule" if by_rule else "user",
                    "gate" if by_rule else (owner or "marketing@example.com"),
                    "gate passed" if by_rule else "feedback",
                    version,
                    False,
                )
            )
            kind, details, reason = _outcome(rng, to_stage, amount)
            if kind:
                outcomes.append(
                    (i + 1, kind, reason, details, owner or "rep@example.com", stamp(at))
                )

    counts = _touch_counts(npr, leads, touchpoints)
    tp_lead = np.repeat(np.arange(1, leads + 1, dtype=np.int64), counts)
    # Activity starts a little before the lead is known and fades over months.
    offsets = (npr.exponential(60 * DAY, tp_lead.size) - 14 * DAY).astype(np.int64)
    tp_time = np.clip(created_all[tp_lead - 1] + offsets, 0, SPAN - 1)
    order = np.argsort(tp_time, kind="stable")
    names = [n for n, _ in NAMES]
    p = np.array([w for _, w in NAMES])
    tp_name = npr.choice(len(names), size=tp_lead.size, p=p / p.sum()).astype(np.int16)
    # Property documents: each name has its own list; offsets into one flat list.
    per_name = [_properties(n) for n in names]
    starts = np.cumsum([0] + [len(d) for d in per_name])[:-1]
    sizes = np.array([len(d) for d in per_name])
    pick = (npr.random(tp_lead.size) * sizes[tp_name]).astype(np.int64)
    tp_props = (starts[tp_name] + pick).astype(np.int32)
    return History(
        accounts,
        lead_rows,
        transitions,
        outcomes,
        tp_lead[order],
        tp_time[order],
        tp_name[order],
        tp_props[order],
        names,
        [doc for docs in per_name for doc in docs],
    )


def _outcome(rng: random.Random, to_stage: str, amount: float) -> tuple[str | None, str, Any]:
    """The outcome sales records with a move (kind, details JSON, reason)."""
    if to_stage == "opportunity":
        return "opportunity", json.dumps({"amount": amount}), None
    if to_stage == "customer":
        won = {"amount": round(amount * rng.uniform(0.8, 1.2), 2)} if rng.random() < 0.7 else {}
        return "won", json.dumps(won), None
    if to_stage == "recycled":
        return "recycled", "{}", rng.choice(RECYCLE)
    if to_stage == "disqualified":
        return "disqualified", "{}", rng.choice(DISQUALIFY)
    if to_stage == "lost":
        return "lost", "{}", rng.choice(LOST)
    return None, "{}", None


def _touch_counts(npr: np.random.Generator, leads: int, total: int) -> np.ndarray:
    """Touchpoints per lead: skewed (most leads do little, a few do a lot), summing to
    exactly ``total``."""
    sigma = 1.0
    raw = npr.lognormal(math.log(max(total / leads, 1.0)) - sigma**2 / 2, sigma, leads)
    counts = np.maximum(1, np.round(raw * total / raw.sum())).astype(np.int64)
    diff = int(total - counts.sum())
    while diff:
        pick = npr.integers(0, leads, abs(diff))
        if diff > 0:
            np.add.at(counts, pick, 1)
        else:
            counts[pick] = np.maximum(1, counts[pick] - 1)
        diff = int(total - counts.sum())
    return counts


def touchpoint_rows(h: History, chunk: int = 200_000) -> Iterator[list[tuple[Any, ...]]]:
    """Touchpoint rows (id, message_id, lead_id, name, original_name, occurred_at,
    received_at, properties) in time order, ``chunk`` at a time."""
    base = np.datetime64(START.replace(tzinfo=None), "s")
    for offset in range(0, h.tp_lead.size, chunk):
        end = min(offset + chunk, h.tp_lead.size)
        times = np.datetime_as_string(base + h.tp_time[offset:end], unit="s").tolist()
        leads = h.tp_lead[offset:end].tolist()
        names = h.tp_name[offset:end].tolist()
        props = h.tp_props[offset:end].tolist()
        rows = []
        for k in range(end - offset):
            at = times[k].replace("T", " ") + ".000000"
            name = h.names[names[k]]
            id_ = offset + k + 1
            rows.append((id_, f"bench-{id_:09d}", leads[k], name, name, at, at, h.props[props[k]]))
        yield rows


Progress = Callable[[str, int], None]

_TOUCH_COLUMNS = (
    "id, message_id, lead_id, name, original_name, occurred_at, received_at, properties"
)
_INSERTS = {
    "accounts": "INSERT INTO accounts (id, domain, name, industry, employees, region, "
    "technographics, traits, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
    "leads": "INSERT INTO leads (id, email, account_id, seniority, persona, source_channel, "
    "source_campaign, owner, stage, stage_entered_at, traits, created_at, updated_at) "
    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
    "transitions": "INSERT INTO transitions (lead_id, from_stage, to_stage, occurred_at, "
    "actor_type, actor, reason, model_version, override) VALUES (?,?,?,?,?,?,?,?,?)",
    "outcomes": "INSERT INTO outcomes (lead_id, kind, reason, details, actor, occurred_at) "
    "VALUES (?,?,?,?,?,?)",
}


def load_sqlite(path: str, h: History, progress: Progress) -> None:
    """Bulk-load into a migrated SQLite file: no journal, no fsync, foreign keys off, the
    secondary touchpoint and transition indexes dropped during the load and rebuilt after
    (one sort each instead of 20 million random B-tree inserts)."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA foreign_keys=OFF")
    db.execute("PRAGMA cache_size=-1048576")  # 1 GiB while loading
    db.execute("PRAGMA temp_store=MEMORY")
    indexes = db.execute(
        "SELECT name, sql FROM sqlite_master WHERE type='index' AND sql IS NOT NULL "
        "AND tbl_name IN ('touchpoints', 'transitions', 'outcomes')"
    ).fetchall()
    for name, _ in indexes:
        db.execute(f'DROP INDEX "{name}"')
    for table in ("accounts", "leads", "transitions", "outcomes"):
        db.execute("BEGIN")
        db.executemany(_INSERTS[table], getattr(h, table))
        db.execute("COMMIT")
        progress(table, len(getattr(h, table)))
    insert = f"INSERT INTO touchpoints ({_TOUCH_COLUMNS}) VALUES (?,?,?,?,?,?,?,?)"
    for rows in touchpoint_rows(h):
        db.execute("BEGIN")
        db.executemany(insert, rows)
        db.execute("COMMIT")
        progress("touchpoints", len(rows))
    for name, sql in indexes:
        db.execute(sql)
        progress(f"index {name}", 0)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("ANALYZE")
    progress("analyze", 0)
    db.close()


def load_postgresql(url: str, h: History, progress: Progress) -> None:
    """Bulk-load into a migrated PostgreSQL database with COPY, foreign-key triggers off
    for the session (the rows are consistent by construction), secondary indexes of the
    big tables dropped during the load and rebuilt after; then VACUUM ANALYZE (what
    autovacuum would do), which also sets the visibility map for index-only scans."""
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    conninfo = f"host={u.host} port={u.port or 5432} user={u.username} dbname={u.database}"
    with psycopg.connect(conninfo, autocommit=True) as db:
        db.execute("SET session_replication_role = replica")
        db.execute("SET maintenance_work_mem = '1GB'")
        indexes = db.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN "
            "('touchpoints', 'transitions', 'outcomes') AND indexname LIKE 'ix_%'"
        ).fetchall()
        for name, _ in indexes:
            db.execute(f'DROP INDEX "{name}"')
        columns = {
            "accounts": "id, domain, name, industry, employees, region, technographics, "
            "traits, created_at, updated_at",
            "leads": "id, email, account_id, seniority, persona, source_channel, "
            "source_campaign, owner, stage, stage_entered_at, traits, created_at, updated_at",
            "transitions": "lead_id, from_stage, to_stage, occurred_at, actor_type, actor, "
            "reason, model_version, override",
            "outcomes": "lead_id, kind, reason, details, actor, occurred_at",
        }
        for table, cols in columns.items():
            with db.cursor() as cur, cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for row in getattr(h, table):
                    copy.write_row(row)
            progress(table, len(getattr(h, table)))
        for rows in touchpoint_rows(h):
            copy_sql = f"COPY touchpoints ({_TOUCH_COLUMNS}) FROM STDIN"
            with db.cursor() as cur, cur.copy(copy_sql) as copy:
                for row in rows:
                    copy.write_row(row)
            progress("touchpoints", len(rows))
        for table in ("accounts", "leads", "transitions", "outcomes", "touchpoints"):
            db.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 1) FROM {table}))"
            )
        for name, sql in indexes:
            db.execute(sql)
            progress(f"index {name}", 0)
        db.execute("VACUUM ANALYZE")
        progress("vacuum analyze", 0)
