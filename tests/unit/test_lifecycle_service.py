"""Stage decisions by people, on the in-memory unit of work: recycle and requalify,
overrides outside the transition table, unknown leads. (The storage they rely on is
checked on SQLite and PostgreSQL by tests/integration/test_repository_contract.py.)"""

from __future__ import annotations

import pytest

from leadgate.domain.lifecycle import ActorType, Stage
from leadgate.services.commands import AccountIn, ChangeStage, LeadIn
from leadgate.services.errors import InvalidInput, LeadNotFound
from leadgate.services.ingest import ingest_touchpoints
from leadgate.services.lifecycle import change_stage
from leadgate.services.models import activate_model
from leadgate.services.profiles import upsert_accounts, upsert_leads
from leadgate.services.queries import explain_lead, lead_transitions
from leadgate.services.rescore import rescore_all
from tests.conftest import T0
from tests.fakes import FakeUnitOfWork
from tests.integration.helpers import SIMPLE_MODEL, days, touch


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


@pytest.fixture
def mql_lead(uow: FakeUnitOfWork) -> int:
    """A grade-A lead that became MQL at T0 with a webinar (no decay, 20 points)."""
    activate_model(uow, SIMPLE_MODEL, now=T0, actor="test")
    upsert_accounts(uow, [AccountIn("acme.io", industry="software")], now=T0)
    (lead_id,) = upsert_leads(uow, [LeadIn(email="hal@acme.io", seniority="vp")], now=T0).ids
    ingest_touchpoints(uow, [touch("w1", "webinar_attended", T0, email="hal@acme.io")], now=T0)
    return lead_id


def test_recycle_resets_engagement_and_requalifies_after_cooldown(
    uow: FakeUnitOfWork, mql_lead: int
) -> None:
    recycled_at = T0 + days(1)
    transition = change_stage(
        uow,
        ChangeStage(mql_lead, Stage.RECYCLED, "timing", "rep@x.io", ActorType.USER, at=recycled_at),
        now=recycled_at,
    )
    # The snapshot is the score the decision was made on; afterwards engagement is reset.
    assert transition.total == 50 and transition.engagement == 20
    after = explain_lead(uow, mql_lead)
    assert after.stored is not None and after.stored.engagement == 0

    # New engagement within the 7-day cool-down: no requalification yet.
    ingest_touchpoints(
        uow,
        [touch("w2", "webinar_attended", recycled_at + days(2), email="hal@acme.io")],
        now=recycled_at + days(2),
    )
    assert explain_lead(uow, mql_lead).lead.stage is Stage.RECYCLED
    # After the cool-down the scheduled refresh requalifies it: a lead can qualify again.
    rescore_all(uow, now=recycled_at + days(8))
    stages = [(h.from_stage, h.to_stage) for h in lead_transitions(uow, mql_lead)]
    assert stages == [
        (Stage.LEAD, Stage.MQL),
        (Stage.MQL, Stage.RECYCLED),
        (Stage.RECYCLED, Stage.MQL),
    ]


def test_moves_outside_the_table_need_an_override_with_a_reason(
    uow: FakeUnitOfWork, mql_lead: int
) -> None:
    with pytest.raises(InvalidInput, match="not in the transition table"):
        change_stage(uow, ChangeStage(mql_lead, Stage.CUSTOMER, "signed", "ann"), now=T0)
    done = change_stage(
        uow,
        ChangeStage(mql_lead, Stage.CUSTOMER, "signed offline", "ann", override=True),
        now=T0 + days(1),
    )
    assert done.override
    last = lead_transitions(uow, mql_lead)[-1]
    assert (last.from_stage, last.to_stage, last.reason, last.actor, last.override) == (
        Stage.MQL,
        Stage.CUSTOMER,
        "signed offline",
        "ann",
        True,
    )


def test_unknown_lead_is_reported(uow: FakeUnitOfWork, mql_lead: int) -> None:
    with pytest.raises(LeadNotFound, match="no lead with id 999"):
        change_stage(uow, ChangeStage(999, Stage.SQL, "x", "ann"), now=T0)
