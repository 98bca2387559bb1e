"""Handlers of domain events, on the in-memory unit of work: a gate's stage change reaches
the endpoints that subscribed to it, in the transaction that made it."""

from __future__ import annotations

from leadgate.services.commands import AccountIn, LeadIn
from leadgate.services.ingest import ingest_touchpoints
from leadgate.services.models import activate_model
from leadgate.services.profiles import upsert_accounts, upsert_leads
from tests.conftest import T0
from tests.fakes import FakeUnitOfWork
from tests.integration.helpers import SIMPLE_MODEL, touch


def _world(events: list[str]) -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    activate_model(uow, SIMPLE_MODEL, now=T0, actor="test")
    upsert_accounts(uow, [AccountIn("acme.io", industry="software")], now=T0)
    upsert_leads(uow, [LeadIn(email="vp@acme.io", seniority="vp")], now=T0)
    with uow:
        uow.outbox.add_endpoint(
            name="ops",
            kind="webhook",
            config={"url": "https://hooks.example/ops"},
            events=events,
            now=T0,
        )
        uow.commit()
    return uow


def test_a_gate_move_is_announced_to_the_endpoints_that_want_stage_changes() -> None:
    uow = _world(["stage.changed"])
    ingest_touchpoints(uow, [touch("w1", "webinar_attended", T0, email="vp@acme.io")], now=T0)
    with uow:
        (message,) = uow.outbox.messages()
    assert message.event_type == "stage.changed"
    payload = message.notification["payload"]
    assert payload["lead"]["stage"] == "mql" and payload["account"]["domain"] == "acme.io"
    assert (payload["transition"]["from_stage"], payload["transition"]["actor"]) == (
        "lead",
        "gate:mql",
    )


def test_nothing_is_queued_for_endpoints_that_want_other_events() -> None:
    uow = _world(["sla.breached"])
    ingest_touchpoints(uow, [touch("w1", "webinar_attended", T0, email="vp@acme.io")], now=T0)
    with uow:
        assert uow.outbox.messages() == []
