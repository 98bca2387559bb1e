"""The scheduled refresh, on the in-memory unit of work: scores follow time from the stored
states alone, gates opened by time move leads (with their handoff), and nothing unchanged
is written."""

from __future__ import annotations

from collections.abc import Collection

import pytest

from leadgate.domain.lifecycle import ActorType, Stage
from leadgate.domain.routing import HandoffKind
from leadgate.domain.scoring import score_lead
from leadgate.domain.touchpoints import Touchpoint
from leadgate.services.commands import AccountIn, ChangeStage, LeadIn
from leadgate.services.ingest import ingest_touchpoints
from leadgate.services.lifecycle import change_stage
from leadgate.services.models import activate_model
from leadgate.services.profiles import upsert_accounts, upsert_leads
from leadgate.services.queries import lead_transitions
from leadgate.services.refresh import refresh_all
from tests.conftest import T0
from tests.fakes import FakeTouchpointRepository, FakeUnitOfWork
from tests.integration.helpers import SIMPLE_MODEL, days, touch


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * abs(b) + 1e-9


@pytest.fixture
def uow() -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    activate_model(uow, SIMPLE_MODEL, now=T0, actor="test")
    upsert_accounts(uow, [AccountIn("acme.io", industry="software")], now=T0)
    upsert_leads(
        uow,
        [LeadIn(email="vp@acme.io", seniority="vp"), LeadIn(email="quiet@acme.io")],
        now=T0,
    )
    return uow


def _ids(uow: FakeUnitOfWork) -> dict[str, int]:
    with uow:
        leads = uow.leads.get_many(range(1, 100))
    return {lead.email or "": lead_id for lead_id, lead in leads.items()}


def test_refreshed_scores_equal_a_recompute_from_the_log_at_the_refresh_time(
    uow: FakeUnitOfWork,
) -> None:
    ingest_touchpoints(
        uow,
        [
            touch("p1", "page_view", T0, email="vp@acme.io", category="pricing"),
            touch("p2", "page_view", T0 + days(1), email="vp@acme.io", category="pricing"),
            touch("d1", "Demo Requested", T0 + days(2), email="quiet@acme.io"),
        ],
        now=T0 + days(2),
    )
    later = T0 + days(20)  # pricing decayed over two half-lives; the demo left its window
    result = refresh_all(uow, now=later)
    with uow:
        ids = _ids(uow)
        leads = uow.leads.get_many(ids.values())
        logs = uow.touchpoints.for_leads(ids.values())
        scores = uow.scores.get_many(ids.values())
        model = uow.models.active()
    assert model is not None and result.rescored == 2
    for lead_id, lead in leads.items():
        expected = score_lead(lead, logs.get(lead_id, []), model.model, later, explain=False)
        assert _close(scores[lead_id].engagement, expected.engagement)
        assert scores[lead_id].scored_at == later
    assert scores[ids["quiet@acme.io"]].engagement == 0.0


def test_a_refresh_reads_no_touchpoint_history(
    uow: FakeUnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest_touchpoints(
        uow,
        [touch(f"p{i}", "page_view", T0, email="vp@acme.io", category="pricing") for i in range(2)],
        now=T0,
    )
    reads: list[int] = []
    original = FakeTouchpointRepository.for_leads

    def counting(
        self: FakeTouchpointRepository, lead_ids: Collection[int]
    ) -> dict[int, list[Touchpoint]]:
        reads.append(len(lead_ids))
        return original(self, lead_ids)

    monkeypatch.setattr(FakeTouchpointRepository, "for_leads", counting)
    result = refresh_all(uow, now=T0 + days(3))
    assert result.rescored == 1  # the decayed pricing visits
    assert reads == []


def test_a_recycled_lead_that_met_the_gates_during_its_cooldown_requalifies_at_refresh(
    uow: FakeUnitOfWork,
) -> None:
    ids = _ids(uow)
    vp = ids["vp@acme.io"]
    ingest_touchpoints(uow, [touch("w1", "webinar_attended", T0, email="vp@acme.io")], now=T0)
    assert lead_transitions(uow, vp)[-1].to_stage is Stage.MQL
    recycled_at = T0 + days(1)
    change_stage(
        uow,
        ChangeStage(vp, Stage.RECYCLED, "timing", "rep@x.io", ActorType.USER, at=recycled_at),
        now=recycled_at,
    )
    # Engagement during the 7-day cool-down: the gate is met but may not move it yet.
    ingest_touchpoints(
        uow, [touch("w2", "webinar_attended", T0 + days(2), email="vp@acme.io")], now=T0 + days(2)
    )
    refresh_all(uow, now=T0 + days(5))
    assert lead_transitions(uow, vp)[-1].to_stage is Stage.RECYCLED
    result = refresh_all(uow, now=T0 + days(9))
    last = lead_transitions(uow, vp)[-1]
    assert result.transitions == 1
    assert (last.from_stage, last.to_stage, last.actor) == (Stage.RECYCLED, Stage.MQL, "gate:mql")
    assert last.occurred_at == T0 + days(9)


def test_a_demo_request_dated_in_the_future_moves_the_lead_once_its_time_comes(
    uow: FakeUnitOfWork,
) -> None:
    vp = _ids(uow)["vp@acme.io"]
    ingest_touchpoints(uow, [touch("d1", "demo_request", T0 + days(1), email="vp@acme.io")], now=T0)
    assert lead_transitions(uow, vp) == []
    refresh_all(uow, now=T0 + days(1))
    (moved,) = lead_transitions(uow, vp)
    assert (moved.to_stage, moved.actor) == (Stage.SQL, "gate:skip_to_sql")
    with uow:
        (handoff,) = uow.handoffs.for_lead(vp)
    assert (handoff.kind, handoff.created_at) == (HandoffKind.GATE, T0 + days(1))


def test_a_refresh_writes_no_score_that_time_did_not_change(uow: FakeUnitOfWork) -> None:
    ingest_touchpoints(uow, [touch("w1", "webinar_attended", T0, email="vp@acme.io")], now=T0)
    with uow:
        before = uow.scores.get_many(_ids(uow).values())
    result = refresh_all(uow, now=T0 + days(3))  # undecayed webinar, no engagement elsewhere
    with uow:
        after = uow.scores.get_many(_ids(uow).values())
    assert result.rescored == 0 and after == before
