"""A small workspace for the dashboard tests: four leads at two accounts, touchpoints in
the last days, two handoffs (to reps of different teams) and one user per role."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from leadgate.adapters.db import tables as t
from leadgate.bootstrap import App
from leadgate.services.commands import AccountIn, LeadIn, TouchpointIn
from leadgate.services.handoffs import hand_off_manually
from leadgate.services.ingest import ingest_touchpoints
from leadgate.services.profiles import upsert_accounts, upsert_leads
from leadgate.services.users import create_user

PASSWORD = "dashboard-pass-1"


@dataclass(frozen=True)
class World:
    now: datetime
    ann: int  # an MQL handed off by hand to ``rep``: pending, acceptable
    ben: int  # a lead nobody owns
    cid: int  # skipped to SQL on a demo request, handed to ``other_rep``
    dee: int
    rep: str  # the owner of Ann's handoff; user "sam" is this rep
    other_rep: str


def _touch(mid: str, email: str, name: str, at: datetime, **properties: object) -> TouchpointIn:
    return TouchpointIn(
        message_id=mid, name=name, occurred_at=at, properties=dict(properties), email=email
    )


def build_world(app: App) -> World:
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    uow = app.uow
    upsert_accounts(
        uow(),
        [
            AccountIn(
                domain="acme.io",
                name="Acme",
                industry="software",
                employees=300,
                region="EMEA",
                country="DE",
            ),
            AccountIn(
                domain="globex.io",
                name="Globex",
                industry="fintech",
                employees=800,
                region="NA",
                country="US",
            ),
        ],
        now=now - timedelta(days=3),
    )
    upsert_leads(
        uow(),
        [
            LeadIn(
                email="ann@acme.io",
                first_name="Ann",
                last_name="Archer",
                seniority="vp",
                department="marketing",
                source_channel="paid_search",
            ),
            LeadIn(
                email="ben@acme.io",
                first_name="Ben",
                last_name="Baker",
                seniority="director",
                department="sales",
                source_channel="organic_search",
            ),
            LeadIn(
                email="cid@globex.io",
                first_name="Cid",
                last_name="Cole",
                seniority="manager",
                department="revops",
                source_channel="paid_search",
            ),
            LeadIn(
                email="dee@globex.io",
                first_name="Dee",
                last_name="Dunn",
                seniority="student",
                source_channel="referral",
            ),
        ],
        now=now - timedelta(days=3),
    )
    day = timedelta(days=1)
    ingest_touchpoints(
        uow(),
        [
            # Ann: fit 50 (A) + two recent pricing visits ≈ 69: an MQL, not sales-ready (80).
            _touch(
                "a1", "ann@acme.io", "page_view", now - 2 * day, path="/pricing", category="pricing"
            ),
            _touch(
                "a2", "ann@acme.io", "page_view", now - day, path="/pricing", category="pricing"
            ),
            _touch(
                "b1", "ben@acme.io", "page_view", now - 2 * day, path="/product", category="product"
            ),
            _touch(
                "b2", "ben@acme.io", "page_view", now - day, path="/product", category="product"
            ),
            # Cid: a demo request from an A fit skips to SQL and is handed off by the gate.
            _touch("c1", "cid@globex.io", "demo_request", now - day),
            _touch(
                "d1", "dee@globex.io", "page_view", now - day, path="/careers", category="careers"
            ),
        ],
        now=now - timedelta(hours=2),
    )
    with app.engine.connect() as connection:
        ids = dict(connection.execute(select(t.leads.c.email, t.leads.c.id)).all())
    handoff = hand_off_manually(uow(), ids["ann@acme.io"], now=now)
    with app.engine.connect() as connection:
        other = connection.execute(
            select(t.handoffs.c.owner).where(t.handoffs.c.lead_id == ids["cid@globex.io"])
        ).scalar_one()
    assert handoff.owner and other and handoff.owner != other
    for name, role, rep in (
        ("ada", "admin", None),
        ("mia", "marketing", None),
        ("sam", "sales", handoff.owner),
        ("olu", "sales", other),
    ):
        create_user(uow(), name=name, role=role, password=PASSWORD, rep=rep, now=now)
    return World(
        now,
        ids["ann@acme.io"],
        ids["ben@acme.io"],
        ids["cid@globex.io"],
        ids["dee@globex.io"],
        handoff.owner,
        other,
    )
