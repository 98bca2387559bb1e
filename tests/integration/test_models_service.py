"""Activating a model version: rescoring, stamping, and never rewriting history."""

from __future__ import annotations

from leadgate.domain.lifecycle import Stage
from leadgate.services.commands import AccountIn, LeadIn
from leadgate.services.ingest import ingest_touchpoints
from leadgate.services.models import activate_model
from leadgate.services.profiles import upsert_accounts, upsert_leads
from leadgate.services.queries import explain_lead, lead_transitions
from tests.conftest import T0
from tests.integration.helpers import SIMPLE_MODEL, UowFactory, activate_simple, days, touch


def test_activation_rescores_and_stamps_new_transitions_only(uow_factory: UowFactory) -> None:
    v1 = activate_simple(uow_factory, T0)
    upsert_accounts(uow_factory(), [AccountIn("acme.io", industry="software")], now=T0)
    (lead_id,) = upsert_leads(
        uow_factory(), [LeadIn(email="ivy@acme.io", seniority="vp")], now=T0
    ).ids
    ingest_touchpoints(
        uow_factory(), [touch("w", "webinar_attended", T0, email="ivy@acme.io")], now=T0
    )
    assert [h.model_version for h in lead_transitions(uow_factory(), lead_id)] == [v1]

    # Version 2 lowers the sales-ready threshold below the lead's 50 points.
    lowered = SIMPLE_MODEL.replace("name: simple", "name: simple-v2").replace(
        "{field: total, gte: 70}", "{field: total, gte: 45}"
    )
    at = T0 + days(1)
    result = activate_model(uow_factory(), lowered, now=at, actor="ops")
    assert (result.version, result.previous_version, result.rescored) == (v1 + 1, v1, 1)
    history = lead_transitions(uow_factory(), lead_id)
    assert [(h.to_stage, h.model_version) for h in history] == [
        (Stage.MQL, v1),
        (Stage.SQL, v1 + 1),
    ]
    stored = explain_lead(uow_factory(), lead_id).stored
    assert stored is not None and stored.model_version == v1 + 1

    again = activate_model(uow_factory(), lowered, now=at, actor="ops")
    assert again.already_active and again.version == v1 + 1
    # Going back to the first document re-activates version 1 rather than copying it.
    back = activate_model(uow_factory(), SIMPLE_MODEL, now=at, actor="ops")
    assert back.version == v1 and not back.already_active
