"""DESIGN.md's equality: the score kept after each touchpoint, a full recompute from the log,
and a replay "as of t" agree, for random streams with out-of-order times and duplicates.

The reference is written here from the formula, independently of leadgate.domain.scoring.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from leadgate.adapters.db import tables as t
from leadgate.adapters.db.repositories import checksum
from leadgate.domain.scoring import score_lead
from leadgate.services.commands import AccountIn, LeadIn
from leadgate.services.ingest import ingest_touchpoints
from leadgate.services.profiles import upsert_accounts, upsert_leads
from leadgate.services.rescore import rescore_all
from tests.conftest import T0
from tests.integration.helpers import SIMPLE_MODEL, UowFactory, activate_simple, touch

EMAILS = ["a@acme.io", "b@acme.io", "c@other.io"]
KINDS = ["pricing", "blog", "webinar", "demo", "unsubscribe"]


@dataclass(frozen=True)
class Event:
    lead: int
    kind: str
    hours: int  # occurred at T0 + hours


def reference_engagement(events: list[tuple[str, datetime]], at: datetime) -> float:
    """simple.yaml by hand: pricing 10 (cap 30, half-life 10 d), webinar 20 (no decay),
    demo 30 (last 14 days, half-life 10 d), unsubscribe -20 (no decay)."""

    def decay(when: datetime) -> float:
        return float(0.5 ** ((at - when).total_seconds() / 86400 / 10))

    counted = [(kind, when) for kind, when in events if when <= at]
    pricing = sum(10 * decay(w) for k, w in counted if k == "pricing")
    webinar = sum(20.0 for k, _ in counted if k == "webinar")
    demo = sum(30 * decay(w) for k, w in counted if k == "demo" and (at - w) <= timedelta(days=14))
    unsubscribe = sum(-20.0 for k, _ in counted if k == "unsubscribe")
    return min(30.0, pricing) + webinar + demo + unsubscribe


def close(got: float, want: float) -> bool:
    """Equal within the incremental state's tolerance: 1e-9 relative plus 1e-9 absolute
    (its decayed sums are anchored differently from score_lead's, so rounding differs)."""
    return abs(got - want) <= 1e-9 * abs(want) + 1e-9


def _stored(engine: Engine) -> dict[str, tuple[float, float, float, datetime]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                t.leads.c.email,
                t.scores.c.fit,
                t.scores.c.engagement,
                t.scores.c.total,
                t.scores.c.scored_at,
            ).join(t.scores, t.scores.c.lead_id == t.leads.c.id)
        )
        return {row.email: (row.fit, row.engagement, row.total, row.scored_at) for row in rows}


def _reset(engine: Engine) -> None:
    with engine.begin() as connection:
        for table in reversed(t.metadata.sorted_tables):
            connection.execute(table.delete())


events_strategy = st.lists(
    st.builds(Event, st.integers(0, 2), st.sampled_from(KINDS), st.integers(-300, 900)),
    min_size=1,
    max_size=25,
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    events=events_strategy,
    batch_sizes=st.lists(st.integers(1, 5), min_size=25, max_size=25),
    duplicates=st.sets(st.integers(0, 24), max_size=6),
    data=st.data(),
)
def test_stored_equals_recompute_equals_as_of(
    engine: Engine,
    uow_factory: UowFactory,
    events: list[Event],
    batch_sizes: list[int],
    duplicates: set[int],
    data: st.DataObject,
) -> None:
    _reset(engine)
    activate_simple(uow_factory, T0)
    upsert_accounts(uow_factory(), [AccountIn("acme.io", industry="software")], now=T0)
    upsert_leads(uow_factory(), [LeadIn(email="a@acme.io", seniority="vp")], now=T0)
    fit = {"a@acme.io": 30.0, "b@acme.io": 10.0, "c@other.io": 0.0}

    messages = [
        touch(
            f"m{i}",
            "page_view"
            if e.kind in ("pricing", "blog")
            else {
                "webinar": "webinar_attended",
                "demo": "Demo Requested",
                "unsubscribe": "email_unsubscribe",
            }[e.kind],
            T0 + timedelta(hours=e.hours),
            email=EMAILS[e.lead],
            category="pricing" if e.kind == "pricing" else "blog",
        )
        for i, e in enumerate(events)
    ]
    # Re-sends of earlier messages: same message id, never counted twice.
    stream = messages + [messages[i] for i in sorted(duplicates) if i < len(messages)]
    stream = data.draw(st.permutations(stream))

    received: dict[str, list[tuple[str, datetime]]] = {email: [] for email in EMAILS}
    seen: set[str] = set()
    now = T0
    position = 0
    for size in batch_sizes:
        batch = stream[position : position + size]
        if not batch:
            break
        position += size
        now += timedelta(hours=data.draw(st.integers(1, 96)))
        ingest_touchpoints(uow_factory(), batch, now=now)
        for message in batch:
            if message.message_id not in seen:
                seen.add(message.message_id)
                kind = events[int(message.message_id[1:])].kind
                received[message.email or ""].append((kind, message.occurred_at))
        # Kept after each batch: equal to the formula over what was received by then.
        for email, (fit_, engagement, total, scored_at) in _stored(engine).items():
            expected = reference_engagement(received[email], scored_at)
            assert abs(engagement - expected) < 1e-9, (email, engagement, expected)
            assert fit_ == fit[email] and total == fit_ + engagement

    kept = _stored(engine)
    end = now + timedelta(days=3)
    rescore_all(uow_factory(), now=end)
    rebuilt = _stored(engine)
    with uow_factory() as uow:
        active = uow.models.active()
        assert active is not None and active.checksum == checksum(SIMPLE_MODEL)
        ids = {
            lead.email: lead_id
            for lead_id, lead in uow.leads.get_many(
                [lid for chunk in uow.leads.id_chunks(100) for lid in chunk]
            ).items()
        }
        leads = uow.leads.get_many(ids.values())
        logs = uow.touchpoints.for_leads(ids.values())
    for email, lead_id in ids.items():
        # A full recompute from the log at a lead's scored_at equals what ingest kept ...
        _, engagement, total, scored_at = kept[email]
        replay = score_lead(leads[lead_id], logs.get(lead_id, []), active.model, scored_at)
        assert close(engagement, replay.engagement) and close(total, replay.total)
        # ... and the rebuilt score equals the replay as of the rescore time.
        at_end = score_lead(leads[lead_id], logs.get(lead_id, []), active.model, end)
        assert close(rebuilt[email][1], at_end.engagement)
        assert close(rebuilt[email][2], at_end.total)
        assert abs(at_end.engagement - reference_engagement(received[email], end)) < 1e-9
