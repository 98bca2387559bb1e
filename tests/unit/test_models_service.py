"""Activating a model version, on the in-memory unit of work: rescoring, stamping, and
never rewriting history."""

from __future__ import annotations

from leadgate.domain.lifecycle import Stage
from leadgate.services.commands import AccountIn, LeadIn
from leadgate.services.ingest import ingest_touchpoints
from leadgate.services.models import activate_model, store_model
from leadgate.services.profiles import upsert_accounts, upsert_leads
from leadgate.services.queries import explain_lead, lead_transitions, model_versions
from tests.conftest import T0
from tests.fakes import FakeUnitOfWork
from tests.integration.helpers import SIMPLE_MODEL, days, touch

# Version 2 lowers the sales-ready threshold below the lead's 50 points.
LOWERED = SIMPLE_MODEL.replace("name: simple", "name: simple-v2").replace(
    "{field: total, gte: 70}", "{field: total, gte: 45}"
)


def test_activation_rescores_and_stamps_new_transitions_only() -> None:
    uow = FakeUnitOfWork()
    v1 = activate_model(uow, SIMPLE_MODEL, now=T0, actor="test").version
    upsert_accounts(uow, [AccountIn("acme.io", industry="software")], now=T0)
    (lead_id,) = upsert_leads(uow, [LeadIn(email="ivy@acme.io", seniority="vp")], now=T0).ids
    ingest_touchpoints(uow, [touch("w", "webinar_attended", T0, email="ivy@acme.io")], now=T0)
    assert [h.model_version for h in lead_transitions(uow, lead_id)] == [v1]

    at = T0 + days(1)
    result = activate_model(uow, LOWERED, now=at, actor="ops")
    assert (result.version, result.previous_version, result.rescored) == (v1 + 1, v1, 1)
    history = lead_transitions(uow, lead_id)
    assert [(h.to_stage, h.model_version) for h in history] == [
        (Stage.MQL, v1),
        (Stage.SQL, v1 + 1),
    ]
    stored = explain_lead(uow, lead_id).stored
    assert stored is not None and stored.model_version == v1 + 1

    again = activate_model(uow, LOWERED, now=at, actor="ops")
    assert again.already_active and again.version == v1 + 1
    # Going back to the first document re-activates version 1 rather than copying it.
    back = activate_model(uow, SIMPLE_MODEL, now=at, actor="ops")
    assert back.version == v1 and not back.already_active


def test_a_stored_candidate_is_not_active_and_the_same_text_is_not_new() -> None:
    uow = FakeUnitOfWork()
    activate_model(uow, SIMPLE_MODEL, now=T0, actor="test")
    candidate, new = store_model(uow, LOWERED, now=T0, actor="ops")
    again, new_again = store_model(uow, LOWERED, now=T0 + days(1), actor="ops")
    assert (new, new_again, again.version) == (True, False, candidate.version)
    assert [(v.name, v.is_active) for v in model_versions(uow)] == [
        ("simple", True),
        ("simple-v2", False),
    ]
