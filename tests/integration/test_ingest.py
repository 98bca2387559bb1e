"""Ingesting touchpoints on SQLite and PostgreSQL: dedup, identity, scores, gates."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select

from leadgate.adapters.db import tables as t
from leadgate.domain.lifecycle import Stage
from leadgate.services.commands import AccountIn, LeadIn
from leadgate.services.errors import InvalidInput, NoActiveModel
from leadgate.services.ingest import ingest_touchpoints
from leadgate.services.profiles import upsert_accounts, upsert_leads
from leadgate.services.queries import explain_lead, lead_transitions
from tests.conftest import T0
from tests.integration.helpers import UowFactory, activate_simple, days, touch


def _count(engine: Engine, table: t.Table) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def test_ingest_refuses_without_an_active_model(uow_factory: UowFactory) -> None:
    with pytest.raises(NoActiveModel, match="leadgate model activate"):
        ingest_touchpoints(uow_factory(), [touch("m1", "page_view", T0, email="a@acme.io")], now=T0)


def test_duplicates_are_stored_once_and_a_retried_batch_changes_nothing(
    uow_factory: UowFactory, engine: Engine
) -> None:
    activate_simple(uow_factory, T0)
    batch = [
        touch("m1", "Page Viewed", T0, email="Ann@Acme.io", category="pricing"),
        touch("m1", "Page Viewed", T0, email="Ann@Acme.io", category="pricing"),
        touch("m2", "page_view", T0, email="ann@acme.io", category="pricing"),
    ]
    first = ingest_touchpoints(uow_factory(), batch, now=T0)
    assert (first.received, first.stored, first.duplicates, first.leads_created) == (3, 2, 1, 1)
    again = ingest_touchpoints(uow_factory(), batch, now=T0)
    assert (again.stored, again.duplicates, again.leads_created) == (0, 3, 0)
    assert _count(engine, t.touchpoints) == 2
    explanation = explain_lead(uow_factory(), first.lead_ids[0])
    # Two pricing views at T0, no decay yet: 2 × 10. The alias mapped "Page Viewed".
    assert explanation.stored is not None
    assert explanation.stored.engagement == 20
    with engine.connect() as connection:
        names = set(connection.execute(select(t.touchpoints.c.name)).scalars())
        original = set(connection.execute(select(t.touchpoints.c.original_name)).scalars())
    assert names == {"page_view"}
    assert original == {"Page Viewed", "page_view"}


def test_email_is_case_insensitive_and_free_mail_creates_no_account(
    uow_factory: UowFactory, engine: Engine
) -> None:
    activate_simple(uow_factory, T0)
    ingest_touchpoints(
        uow_factory(),
        [
            touch("a", "page_view", T0, email="BOB@Example.COM"),
            touch("b", "page_view", T0, email="bob@example.com "),
            touch("c", "page_view", T0, email="carol@gmail.com"),
        ],
        now=T0,
    )
    with engine.connect() as connection:
        emails = sorted(connection.execute(select(t.leads.c.email)).scalars())
        domains = list(connection.execute(select(t.accounts.c.domain)).scalars())
    assert emails == ["bob@example.com", "carol@gmail.com"]
    assert domains == ["example.com"]


def test_anonymous_touchpoints_join_the_lead_once_identified(uow_factory: UowFactory) -> None:
    activate_simple(uow_factory, T0)
    ingest_touchpoints(
        uow_factory(),
        [
            touch("v1", "page_view", T0 - days(2), anonymous_id="cookie-1", category="pricing"),
        ],
        now=T0,
    )
    result = ingest_touchpoints(
        uow_factory(),
        [
            touch(
                "v2",
                "page_view",
                T0,
                anonymous_id="cookie-1",
                email="dee@acme.io",
                category="pricing",
            ),
            touch("v3", "page_view", T0, anonymous_id="cookie-1", category="pricing"),
        ],
        now=T0,
    )
    assert result.leads_created == 0
    (lead_id,) = result.lead_ids
    explanation = explain_lead(uow_factory(), lead_id)
    (pricing,) = [
        c for c in explanation.qualification.score.contributions if c.rule_id == "pricing"
    ]
    assert {m.message_id for m in pricing.matches} == {"v1", "v2", "v3"}
    # v1 is two days old at a 10-day half-life.
    assert pricing.points == pytest.approx(10 * 2 ** (-2 / 10) + 20)


def test_bad_input_is_refused_before_anything_is_stored(
    uow_factory: UowFactory, engine: Engine
) -> None:
    activate_simple(uow_factory, T0)
    naive = T0.replace(tzinfo=None)
    with pytest.raises(InvalidInput, match=r"touchpoint 1 \(m2\): occurred_at"):
        ingest_touchpoints(
            uow_factory(),
            [
                touch("m1", "page_view", T0, email="a@acme.io"),
                touch("m2", "page_view", naive, email="a@acme.io"),
            ],
            now=T0,
        )
    with pytest.raises(InvalidInput, match=r"touchpoint 0 \(m3\): email"):
        ingest_touchpoints(
            uow_factory(), [touch("m3", "page_view", T0, email="not-an-email")], now=T0
        )
    with pytest.raises(InvalidInput, match="no identity"):
        ingest_touchpoints(uow_factory(), [touch("m4", "page_view", T0)], now=T0)
    assert _count(engine, t.touchpoints) == 0
    assert _count(engine, t.leads) == 0


def test_gates_move_a_lead_through_mql_to_sql_with_snapshots(uow_factory: UowFactory) -> None:
    version = activate_simple(uow_factory, T0)
    upsert_accounts(uow_factory(), [AccountIn("acme.io", industry="Software")], now=T0)
    (lead_id,) = upsert_leads(
        uow_factory(), [LeadIn(email="eve@acme.io", seniority="vp")], now=T0
    ).ids
    # fit 30 (A). One webinar: total 50 → MQL. Then pricing ×2 → 70 → sales-ready → SQL.
    ingest_touchpoints(
        uow_factory(), [touch("w", "webinar_attended", T0, email="eve@acme.io")], now=T0
    )
    later = T0 + days(1)
    ingest_touchpoints(
        uow_factory(),
        [
            touch(f"p{i}", "page_view", later, email="eve@acme.io", category="pricing")
            for i in range(2)
        ],
        now=later,
    )
    history = lead_transitions(uow_factory(), lead_id)
    assert [(h.from_stage, h.to_stage) for h in history] == [
        (Stage.LEAD, Stage.MQL),
        (Stage.MQL, Stage.SQL),
    ]
    mql, sql = history
    assert (mql.total, mql.fit, mql.grade, mql.model_version) == (50, 30, "A", version)
    assert mql.actor == "gate:mql" and mql.occurred_at == T0
    assert sql.total == 70 and sql.occurred_at == later


def test_demo_request_from_a_grade_a_lead_skips_to_sql(uow_factory: UowFactory) -> None:
    activate_simple(uow_factory, T0)
    upsert_accounts(uow_factory(), [AccountIn("acme.io", industry="software")], now=T0)
    (lead_id,) = upsert_leads(
        uow_factory(), [LeadIn(email="fay@acme.io", seniority="c_level")], now=T0
    ).ids
    ingest_touchpoints(
        uow_factory(), [touch("d", "Demo Requested", T0, email="fay@acme.io")], now=T0
    )
    history = lead_transitions(uow_factory(), lead_id)
    assert [(h.from_stage, h.to_stage, h.actor) for h in history] == [
        (Stage.LEAD, Stage.SQL, "gate:skip_to_sql")
    ]


def test_a_score_that_decays_never_moves_the_stage_back(uow_factory: UowFactory) -> None:
    from leadgate.services.rescore import rescore_all

    activate_simple(uow_factory, T0)
    upsert_accounts(uow_factory(), [AccountIn("acme.io", industry="software")], now=T0)
    (lead_id,) = upsert_leads(uow_factory(), [LeadIn(email="gil@acme.io")], now=T0).ids
    ingest_touchpoints(
        uow_factory(),
        [
            touch(f"p{i}", "page_view", T0, email="gil@acme.io", category="pricing")
            for i in range(3)
        ],
        now=T0,
    )
    assert [h.to_stage for h in lead_transitions(uow_factory(), lead_id)] == [Stage.MQL]
    rescore_all(uow_factory(), now=T0 + days(100))
    explanation = explain_lead(uow_factory(), lead_id)
    assert explanation.stored is not None and explanation.stored.total < 40
    assert explanation.lead.stage is Stage.MQL
    assert len(lead_transitions(uow_factory(), lead_id)) == 1
