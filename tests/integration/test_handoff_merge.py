"""A lead handed to sales that turns out to be a known person: the merge must carry the
handoff (and its outcomes and audience memberships) over to the surviving lead.

Before the merge moved them, the database refused to delete the merged lead (FOREIGN KEY
constraint failed), so every tracking call naming both identities failed with
ConcurrentUpdate (503, retried by clients for ever).
"""

from __future__ import annotations

from datetime import timedelta

from leadgate.services.commands import LeadIn
from leadgate.services.handoffs import hand_off_manually
from leadgate.services.ingest import ingest_touchpoints
from leadgate.services.profiles import upsert_leads
from tests.conftest import T0
from tests.integration.helpers import UowFactory, activate_simple, touch


def test_a_merge_carries_the_pending_handoff_to_the_surviving_lead(
    uow_factory: UowFactory,
) -> None:
    activate_simple(uow_factory, T0)
    (known,) = upsert_leads(uow_factory(), [LeadIn(email="hal@acme.io")], now=T0).ids
    visitor = ingest_touchpoints(
        uow_factory(), [touch("p1", "page_view", T0, anonymous_id="anon-1")], now=T0
    ).lead_ids[0]
    handoff = hand_off_manually(uow_factory(), visitor, now=T0)

    # The visitor identifies: the two leads are one person, the one with the email stays.
    later = T0 + timedelta(minutes=1)
    ingest_touchpoints(
        uow_factory(),
        [touch("p2", "page_view", later, anonymous_id="anon-1", email="hal@acme.io")],
        now=later,
    )
    with uow_factory() as uow:
        assert uow.merges.merged_into(visitor) == known
        assert [h.id for h in uow.handoffs.for_lead(known)] == [handoff.id]
        assert list(uow.handoffs.pending_for([known])) == [known]
