"""The storage contract the use cases rely on, checked on every implementation: the in-memory
fake of the service tests (``tests/fakes.py``) and the SQL unit of work on SQLite and
PostgreSQL. The same checks run on each, so a fake that drifted from the SQL repositories
fails here rather than letting a unit test pass that the product would fail.

Each subclass of ``Contract`` says how to make a unit of work; ``new_uow()`` is a new unit
of work on the same database, as each use case call gets one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine

from leadgate.adapters.db.unit_of_work import SqlUnitOfWork
from leadgate.adapters.handoff_yaml import load_handoff_config
from leadgate.adapters.model_yaml import ModelInvalid
from leadgate.domain.accounts import Account
from leadgate.domain.handoffs import Handoff, HandoffStatus
from leadgate.domain.identity import IdentityKey, IdentityKind
from leadgate.domain.keys import KeyKind, Scope
from leadgate.domain.leads import Lead
from leadgate.domain.lifecycle import ActorType, Stage, Transition
from leadgate.domain.routing import HandoffKind
from leadgate.domain.touchpoints import Touchpoint
from leadgate.domain.users import Role
from leadgate.models.handoff import default_handoff_text
from leadgate.services.errors import ConcurrentUpdate
from leadgate.services.ports import (
    Endpoint,
    InboxCounts,
    Outcome,
    ParkedCall,
    QueuedCall,
    StageChange,
    StoredLeadState,
    StoredScore,
    StoredTouchpoint,
    UnitOfWork,
)
from leadgate.services.predictive_ports import NewPredictiveModel, StoredProbability
from tests.conftest import T0
from tests.fakes import FakeDatabase, FakeUnitOfWork
from tests.integration.helpers import SIMPLE_MODEL

NewUow = Callable[[], UnitOfWork]

HOUR = timedelta(hours=1)
EMAIL = IdentityKey(IdentityKind.EMAIL, "ann@acme.io")
COOKIE = IdentityKey(IdentityKind.ANONYMOUS_ID, "cookie-1")
LEASE = timedelta(seconds=60)


def stored(
    message_id: str, lead_id: int, at: datetime = T0, **properties: object
) -> StoredTouchpoint:
    return StoredTouchpoint(
        Touchpoint(message_id, "page_view", at, dict(properties)), lead_id, "Page Viewed", T0
    )


def transition(lead_id: int, to: Stage, at: datetime, reason: str = "r") -> Transition:
    return Transition(lead_id, Stage.LEAD, to, at, ActorType.RULE, "gate:mql", reason, fit=1.5)


def score(lead_id: int, total: float, at: datetime = T0) -> StoredScore:
    return StoredScore(lead_id, 1, 10.0, total - 10.0, total, "A", True, False, at)


def handoff(
    lead_id: int,
    owner: str | None,
    at: datetime = T0,
    status: HandoffStatus = HandoffStatus.PENDING,
) -> Handoff:
    return Handoff(
        lead_id=lead_id,
        kind=HandoffKind.GATE,
        team="sales",
        owner=owner,
        routing_reason="round robin",
        created_at=at,
        sla_policy="standard",
        due_at=at + 4 * HOUR,
        warn_at=at + 3 * HOUR,
        status=status,
        context={"lead": {"email": "x@acme.io"}, "pages": [["/pricing", 2]]},
    )


def endpoint(uow: UnitOfWork, name: str, events: tuple[str, ...] = ("*",)) -> Endpoint:
    return uow.outbox.add_endpoint(
        name=name, kind="webhook", config={"url": "http://127.0.0.1:9/"}, events=events, now=T0
    )


class Contract:
    """The checks; a subclass provides the ``new_uow`` fixture."""

    # --- the unit of work ----------------------------------------------------------

    def test_a_commit_is_seen_by_the_next_unit_of_work_and_no_commit_is_a_rollback(
        self, new_uow: NewUow
    ) -> None:
        with new_uow() as uow:
            (kept,) = uow.leads.create([Lead(email="kept@acme.io")], T0)
            uow.commit()
        with new_uow() as uow:
            uow.leads.create([Lead(email="dropped@acme.io")], T0)
        with pytest.raises(RuntimeError), new_uow() as uow:
            uow.leads.create([Lead(email="failed@acme.io")], T0)
            raise RuntimeError("the use case failed")
        with new_uow() as uow:
            assert uow.leads.count() == 1
            assert uow.leads.get_many([kept])[kept].email == "kept@acme.io"

    def test_an_inner_block_joins_the_outer_transaction_and_the_outer_one_decides(
        self, new_uow: NewUow
    ) -> None:
        uow = new_uow()
        with uow:
            with uow:  # a use case called inside another: its commit does nothing
                uow.leads.create([Lead(email="inner@acme.io")], T0)
                uow.commit()
            assert uow.leads.count() == 1  # still the same transaction
        with new_uow() as other:
            assert other.leads.count() == 0

    def test_a_rollback_inside_the_block_undoes_what_came_before_it(self, new_uow: NewUow) -> None:
        with new_uow() as uow:
            uow.leads.create([Lead(email="first@acme.io")], T0)
            uow.commit()
            uow.leads.create([Lead(email="second@acme.io")], T0)
            uow.rollback()
            assert uow.leads.count() == 1
            uow.leads.create([Lead(email="third@acme.io")], T0)
            uow.commit()
        with new_uow() as uow:
            emails = {lead.email for lead in uow.leads.get_many([1, 2, 3, 4]).values()}
        assert emails == {"first@acme.io", "third@acme.io"}

    def test_a_unique_key_taken_twice_ends_the_transaction_as_a_concurrent_update(
        self, new_uow: NewUow
    ) -> None:
        with pytest.raises(ConcurrentUpdate), new_uow() as uow:
            uow.leads.create([Lead(email="same@acme.io")], T0)
            uow.leads.create([Lead(email="same@acme.io")], T0)
        with new_uow() as uow:
            assert uow.leads.count() == 0

    def test_committing_outside_a_block_is_refused(self, new_uow: NewUow) -> None:
        with pytest.raises(RuntimeError, match="not open"):
            new_uow().commit()

    # --- accounts, leads and identities --------------------------------------------

    def test_accounts_are_created_once_per_domain_and_upserts_merge_traits(
        self, new_uow: NewUow
    ) -> None:
        with new_uow() as uow:
            first = uow.accounts.ensure({"acme.io", "beta.io"}, T0)
            assert uow.accounts.ensure({"acme.io"}, T0) == {"acme.io": first["acme.io"]}
            uow.accounts.upsert(
                [
                    Account(
                        "acme.io",
                        industry="software",
                        technographics=["hubspot"],
                        traits={"plan": "pro"},
                    )
                ],
                T0,
            )
            uow.accounts.upsert(
                [
                    Account(
                        "acme.io", employees=50, technographics=["salesforce"], traits={"tier": 1}
                    )
                ],
                T0,
            )
            (lead_id,) = uow.leads.create([Lead(account_id=first["acme.io"])], T0)
            uow.commit()
        with new_uow() as uow:
            assert uow.accounts.find({"acme.io", "gamma.io"}) == {"acme.io": first["acme.io"]}
            account = uow.leads.get_many([lead_id])[lead_id].account
        assert account is not None
        assert (account.domain, account.industry, account.employees) == ("acme.io", "software", 50)
        assert account.technographics == ["hubspot", "salesforce"]
        assert account.traits == {"plan": "pro", "tier": 1}

    def test_new_leads_get_ascending_ids_in_the_order_given(self, new_uow: NewUow) -> None:
        with new_uow() as uow:
            ids = uow.leads.create([Lead(email="a@acme.io"), Lead(email="b@acme.io")], T0)
            more = uow.leads.create([Lead(email="c@acme.io")], T0)
            leads = uow.leads.get_many([*ids, *more, 999])
        assert ids[0] < ids[1] < more[0]
        assert [leads[i].email for i in [*ids, *more]] == ["a@acme.io", "b@acme.io", "c@acme.io"]
        assert all(
            lead.stage is Stage.LEAD and lead.stage_entered_at == T0 for lead in leads.values()
        )
        assert 999 not in leads

    def test_a_key_already_linked_keeps_its_lead(self, new_uow: NewUow) -> None:
        with new_uow() as uow:
            ann, bob = uow.leads.create([Lead(email="ann@acme.io"), Lead()], T0)
            uow.leads.add_identities([(ann, EMAIL), (ann, COOKIE)], T0)
            uow.leads.add_identities([(bob, COOKIE)], T0)
            uow.commit()
        other = IdentityKey(IdentityKind.USER_ID, "u-9")
        with new_uow() as uow:
            assert uow.leads.resolve([EMAIL, COOKIE, other]) == {EMAIL: ann, COOKIE: ann}

    def test_a_profile_update_writes_what_is_given_and_merges_traits(self, new_uow: NewUow) -> None:
        with new_uow() as uow:
            account_id = uow.accounts.ensure({"acme.io"}, T0)["acme.io"]
            (lead_id,) = uow.leads.create(
                [Lead(email="ann@acme.io", title="CTO", traits={"plan": "free", "seats": 3})], T0
            )
            uow.leads.update_profiles(
                [Lead(id=lead_id, country="DE", account_id=account_id, traits={"plan": "pro"})],
                T0 + HOUR,
            )
            uow.leads.update_profiles([Lead(id=999, country="FR")], T0)  # no such lead
            uow.commit()
        with new_uow() as uow:
            lead = uow.leads.get_many([lead_id])[lead_id]
        assert (lead.email, lead.title, lead.country) == ("ann@acme.io", "CTO", "DE")
        assert lead.account is not None and lead.account.domain == "acme.io"
        assert lead.traits == {"plan": "pro", "seats": 3}

    def test_the_latest_stage_change_of_a_lead_wins_with_its_reset_point(
        self, new_uow: NewUow
    ) -> None:
        with new_uow() as uow:
            (lead_id,) = uow.leads.create([Lead()], T0)
            uow.leads.set_stages(
                [
                    StageChange(lead_id, Stage.MQL, T0 + HOUR, None),
                    StageChange(lead_id, Stage.RECYCLED, T0 + 2 * HOUR, T0 + 2 * HOUR),
                ],
                T0 + 2 * HOUR,
            )
            uow.commit()
        with new_uow() as uow:
            lead = uow.leads.get_many([lead_id])[lead_id]
            assert (lead.stage, lead.stage_entered_at, lead.engagement_reset_at) == (
                Stage.RECYCLED,
                T0 + 2 * HOUR,
                T0 + 2 * HOUR,
            )
            uow.leads.set_stages([StageChange(lead_id, Stage.MQL, T0 + 3 * HOUR, None)], T0)
            assert uow.leads.get_many([lead_id])[lead_id].engagement_reset_at is None

    def test_lead_ids_come_in_ascending_chunks_and_by_account(self, new_uow: NewUow) -> None:
        with new_uow() as uow:
            accounts = uow.accounts.ensure({"acme.io", "beta.io"}, T0)
            ids = uow.leads.create(
                [
                    Lead(account_id=accounts["acme.io"]),
                    Lead(),
                    Lead(account_id=accounts["beta.io"]),
                    Lead(account_id=accounts["acme.io"]),
                    Lead(),
                ],
                T0,
            )
            assert list(uow.leads.id_chunks(2)) == [ids[:2], ids[2:4], ids[4:]]
            assert sorted(uow.leads.ids_for_accounts([accounts["acme.io"]])) == [ids[0], ids[3]]
            assert uow.leads.count() == 5

    def test_a_merge_moves_the_history_to_the_survivor_and_the_old_ids_redirect(
        self, new_uow: NewUow
    ) -> None:
        with new_uow() as uow:
            anonymous, known, older = uow.leads.create(
                [
                    Lead(first_name="Ann", source_channel="ads", traits={"plan": "pro"}),
                    Lead(email="ann@acme.io", source_channel="seo", traits={"tier": 1}),
                    Lead(),
                ],
                T0,
            )
            uow.leads.add_identities([(anonymous, COOKIE), (known, EMAIL)], T0)
            uow.touchpoints.add([stored("m-1", anonymous), stored("m-2", known)])
            uow.transitions.add([transition(anonymous, Stage.MQL, T0)])
            uow.scores.upsert([score(anonymous, 40.0), score(known, 20.0)])
            uow.lead_states.upsert(
                [StoredLeadState(i, 1, {"n": i}, T0) for i in (anonymous, known)]
            )
            uow.merges.merge([(older, anonymous)], T0)
            uow.merges.merge([(anonymous, known)], T0 + HOUR)
            uow.commit()
        with new_uow() as uow:
            assert uow.leads.resolve([COOKIE, EMAIL]) == {COOKIE: known, EMAIL: known}
            history = uow.touchpoints.for_leads([anonymous, known])
            assert set(history) == {known}
            assert sorted(tp.message_id for tp in history[known]) == ["m-1", "m-2"]
            assert [tr.lead_id for tr in uow.transitions.for_lead(known)] == [known]
            assert uow.leads.get_many([anonymous]) == {}
            survivor = uow.leads.get_many([known])[known]
            # Empty fields are filled from the merged lead; the survivor's own values stay.
            assert (survivor.first_name, survivor.source_channel) == ("Ann", "seo")
            assert survivor.traits == {"plan": "pro", "tier": 1}
            assert set(uow.scores.get_many([anonymous, known])) == {known}
            assert uow.lead_states.get_many([anonymous, known]) == {}
            assert uow.merges.merged_into(anonymous) == known
            assert uow.merges.merged_into(older) == known  # an earlier redirect follows
            assert uow.merges.merged_into(known) is None
            (new,) = uow.leads.create([Lead()], T0)
            assert new > max(anonymous, known, older)  # a merged id is never given again

    # --- touchpoints, scores, lead states, transitions ----------------------------

    def test_a_touchpoint_is_stored_once_per_message_id(self, new_uow: NewUow) -> None:
        with new_uow() as uow:
            (lead_id,) = uow.leads.create([Lead()], T0)
            assert uow.touchpoints.add([stored("m-1", lead_id), stored("m-1", lead_id)]) == 1
            assert uow.touchpoints.add([stored("m-1", lead_id), stored("m-2", lead_id)]) == 1
            assert uow.touchpoints.add([]) == 0
            assert uow.touchpoints.known({"m-1", "m-2", "m-3"}) == {"m-1", "m-2"}
            assert len(uow.touchpoints.for_leads([lead_id])[lead_id]) == 2

    def test_a_leads_touchpoints_come_back_with_their_properties_in_utc(
        self, new_uow: NewUow
    ) -> None:
        berlin = timezone(timedelta(hours=2))
        with new_uow() as uow:
            ann, bob = uow.leads.create([Lead(), Lead()], T0)
            uow.touchpoints.add(
                [
                    stored("m-1", ann, T0.astimezone(berlin), path="/pricing", utm={"c": "x"}),
                    stored("m-2", ann, T0 + HOUR, tags=["a", "b"]),
                ]
            )
            uow.commit()
        with new_uow() as uow:
            found = uow.touchpoints.for_leads([ann, bob])
        assert set(found) == {ann}  # a lead without touchpoints is left out
        by_id = {tp.message_id: tp for tp in found[ann]}
        first = by_id["m-1"]
        assert (first.occurred_at, first.occurred_at.utcoffset()) == (T0, timedelta(0))
        assert (first.name, first.lead_id) == ("page_view", ann)
        assert first.properties == {"path": "/pricing", "utm": {"c": "x"}}
        assert by_id["m-2"].properties == {"tags": ["a", "b"]}

    def test_a_score_upsert_overwrites_and_the_later_row_of_a_lead_wins(
        self, new_uow: NewUow
    ) -> None:
        with new_uow() as uow:
            ann, bob = uow.leads.create([Lead(), Lead()], T0)
            uow.scores.upsert([score(ann, 30.0), score(bob, 50.0)])
            uow.scores.upsert([score(ann, 40.0, T0 + HOUR), score(ann, 45.0, T0 + 2 * HOUR)])
            uow.commit()
        with new_uow() as uow:
            found = uow.scores.get_many([ann, bob, 999])
        assert {i: s.total for i, s in found.items()} == {ann: 45.0, bob: 50.0}
        assert found[ann] == score(ann, 45.0, T0 + 2 * HOUR)

    def test_lead_states_are_written_read_and_forgotten(self, new_uow: NewUow) -> None:
        document = {"rules": {"pricing": [1.5, 2]}, "last": "m-3", "seen": None}
        with new_uow() as uow:
            ann, bob = uow.leads.create([Lead(), Lead()], T0)
            uow.lead_states.upsert(
                [
                    StoredLeadState(ann, 1, {"old": True}, T0),
                    StoredLeadState(ann, 2, document, T0 + HOUR),
                    StoredLeadState(bob, 2, {}, T0),
                ]
            )
            uow.commit()
        with new_uow() as uow:
            assert uow.lead_states.get_many([ann, 999]) == {
                ann: StoredLeadState(ann, 2, document, T0 + HOUR)
            }
            uow.lead_states.delete([ann])
            assert set(uow.lead_states.get_many([ann, bob])) == {bob}

    def test_a_refresh_page_gives_each_lead_with_its_stage_state_and_score(
        self, new_uow: NewUow
    ) -> None:
        with new_uow() as uow:
            ann, bob, cat = uow.leads.create([Lead(), Lead(), Lead()], T0)
            uow.leads.set_stages([StageChange(bob, Stage.RECYCLED, T0 + HOUR, T0 + HOUR)], T0)
            uow.lead_states.upsert([StoredLeadState(bob, 2, {"as_of": 7}, T0)])
            uow.scores.upsert([score(bob, 45.0), score(cat, 12.5)])
            uow.commit()
        with new_uow() as uow:
            first = uow.lead_states.page(0, 2)
            rest = uow.lead_states.page(first[-1].lead_id, 2)
        assert [f.lead_id for f in first] == [ann, bob] and [f.lead_id for f in rest] == [cat]
        assert (first[0].stage, first[0].state, first[0].score) == (Stage.LEAD, None, None)
        recycled = first[1]
        assert (recycled.stage, recycled.stage_entered_at) == (Stage.RECYCLED, T0 + HOUR)
        assert recycled.engagement_reset_at == T0 + HOUR
        assert recycled.state == StoredLeadState(bob, 2, {"as_of": 7}, T0)
        assert recycled.score == score(bob, 45.0)
        assert rest[0].state is None and rest[0].score == score(cat, 12.5)

    def test_a_leads_transitions_come_oldest_first(self, new_uow: NewUow) -> None:
        with new_uow() as uow:
            ann, bob = uow.leads.create([Lead(), Lead()], T0)
            uow.transitions.add(
                [
                    transition(ann, Stage.SQL, T0 + 2 * HOUR, "second"),
                    transition(ann, Stage.MQL, T0, "first"),
                    transition(bob, Stage.MQL, T0, "bob's"),
                    transition(ann, Stage.RECYCLED, T0 + 2 * HOUR, "third"),
                ]
            )
            uow.commit()
        with new_uow() as uow:
            found = uow.transitions.for_lead(ann)
        assert [tr.reason for tr in found] == ["first", "second", "third"]
        assert found[0] == transition(ann, Stage.MQL, T0, "first")

    # --- scoring model versions ----------------------------------------------------

    def test_the_same_model_document_is_one_version_and_one_version_is_active(
        self, new_uow: NewUow
    ) -> None:
        other = SIMPLE_MODEL.replace("name: simple", "name: simple-v2")
        with new_uow() as uow:
            first = uow.models.add(SIMPLE_MODEL, now=T0, created_by="ann")
            assert uow.models.add(SIMPLE_MODEL, now=T0 + HOUR, created_by="bob") == first
            second = uow.models.add(other, now=T0, created_by="bob")
            assert uow.models.active() is None
            uow.models.activate(first.version, T0)
            activated = uow.models.activate(second.version, T0 + HOUR)
            uow.commit()
        assert (first.name, second.name, second.version) == (
            "simple",
            "simple-v2",
            first.version + 1,
        )
        assert (activated.is_active, activated.activated_at) == (True, T0 + HOUR)
        with new_uow() as uow:
            active = uow.models.active()
            assert active is not None and active.version == second.version
            assert active.model.name == "simple-v2" and active.document == other
            assert [(v.version, v.is_active) for v in uow.models.all()] == [
                (first.version, False),
                (second.version, True),
            ]
            assert uow.models.get(999) is None

    def test_an_invalid_model_is_refused_and_an_unknown_version_cannot_be_activated(
        self, new_uow: NewUow
    ) -> None:
        with new_uow() as uow:
            with pytest.raises(ModelInvalid):
                uow.models.add("name: broken\nfit: 3\n", now=T0, created_by="ann")
            with pytest.raises(KeyError):
                uow.models.activate(999, T0)
            assert uow.models.all() == []

    # --- handoffs, outcomes, configuration -----------------------------------------

    def test_handoffs_are_listed_by_id_with_filters_and_a_cursor(self, new_uow: NewUow) -> None:
        with new_uow() as uow:
            ann, bob = uow.leads.create([Lead(), Lead()], T0)
            first = uow.handoffs.add(handoff(ann, "rep@x.io"))
            second = uow.handoffs.add(handoff(bob, None))
            third = uow.handoffs.add(handoff(ann, "rep@x.io", status=HandoffStatus.ACCEPTED))
            uow.handoffs.save(replace(second, owner="new@x.io"))
            uow.commit()
        assert first.id is not None and second.id is not None and third.id is not None
        assert first.id < second.id < third.id
        with new_uow() as uow:
            assert uow.handoffs.get(first.id) == first
            assert (uow.handoffs.get(second.id) or first).owner == "new@x.io"
            assert uow.handoffs.get(999) is None
            assert [h.id for h in uow.handoffs.listing()] == [first.id, second.id, third.id]
            assert [h.id for h in uow.handoffs.listing(owner="rep@x.io", status="pending")] == [
                first.id
            ]
            assert [h.id for h in uow.handoffs.listing(after_id=first.id, limit=1)] == [second.id]
            assert [h.id for h in uow.handoffs.for_lead(ann)] == [first.id, third.id]
            assert {i: h.id for i, h in uow.handoffs.pending_for([ann, bob, 999]).items()} == {
                ann: first.id,
                bob: second.id,
            }
            assert uow.handoffs.open_counts() == {"rep@x.io": 1, "new@x.io": 1}

    def test_the_queue_deadlines_and_first_touches_follow_the_handoffs(
        self, new_uow: NewUow
    ) -> None:
        with new_uow() as uow:
            ann, bob, cem = uow.leads.create([Lead(), Lead(), Lead()], T0)
            later = uow.handoffs.add(handoff(ann, None, T0 + HOUR))
            sooner = uow.handoffs.add(handoff(bob, None, T0))
            owned = uow.handoffs.add(handoff(cem, "rep@x.io", T0))
            uow.touchpoints.add(
                [
                    stored("before", cem, T0 - HOUR),
                    StoredTouchpoint(Touchpoint("call", "sales_call", T0 + HOUR), cem, "call", T0),
                ]
            )
            uow.commit()
        with new_uow() as uow:
            assert [h.id for h in uow.handoffs.queued()] == [sooner.id, later.id]
            assert [h.id for h in uow.handoffs.queued(limit=1)] == [sooner.id]
            # The warning time of the T0 handoffs has come, not their deadline.
            assert {h.id for h in uow.handoffs.sla_due(T0 + 3 * HOUR)} == {sooner.id, owned.id}
            uow.handoffs.save(replace(owned, warned_at=T0 + 3 * HOUR))
            assert {h.id for h in uow.handoffs.sla_due(T0 + 3 * HOUR)} == {sooner.id}
            assert owned.id in {h.id for h in uow.handoffs.sla_due(T0 + 5 * HOUR)}
            ((touched, touches),) = uow.handoffs.touched({"sales_call", "page_view"})
            assert touched.id == owned.id
            assert [tp.message_id for tp in touches] == ["call"]  # not the one before it

    def test_outcomes_nurture_tracks_and_routing_state_are_kept(self, new_uow: NewUow) -> None:
        with new_uow() as uow:
            ann, bob = uow.leads.create([Lead(), Lead()], T0)
            pushed = uow.handoffs.add(handoff(ann, "rep@x.io"))
            first = uow.handoffs.add_outcome(
                Outcome(ann, "accepted", "rep@x.io", T0, pushed.id, details={"need": "yes"})
            )
            second = uow.handoffs.add_outcome(
                Outcome(ann, "lost", "ae@x.io", T0 + HOUR, reason="price", note="too dear")
            )
            uow.handoffs.set_nurture_track(ann, "long_term", T0)
            uow.handoffs.save_routing_state({"_all": {"sales": {"next": 2}}}, T0)
            uow.commit()
        with new_uow() as uow:
            found = uow.handoffs.outcomes_for(ann)
            assert [(o.id, o.kind, o.handoff_id) for o in found] == [
                (first, "accepted", pushed.id),
                (second, "lost", None),
            ]
            assert found[0].details == {"need": "yes"}
            assert (found[1].reason, found[1].note, found[1].occurred_at) == (
                "price",
                "too dear",
                T0 + HOUR,
            )
            assert uow.handoffs.outcomes_for(bob) == []
            assert uow.handoffs.nurture_tracks([ann, bob]) == {ann: "long_term"}
            assert uow.handoffs.routing_state() == {"_all": {"sales": {"next": 2}}}
            uow.handoffs.save_routing_state({"_all": {"sales": {"next": 3}}}, T0)
            assert uow.handoffs.routing_state(lock=True) == {"_all": {"sales": {"next": 3}}}

    def test_configuration_versions_are_one_per_text_and_one_is_active(
        self, new_uow: NewUow
    ) -> None:
        default = load_handoff_config(default_handoff_text())
        with new_uow() as uow:
            assert uow.configs.handoff_config().routing == default.routing
            first = uow.configs.add("handoff", default_handoff_text(), now=T0, actor="ann")
            assert uow.configs.add("handoff", default_handoff_text(), now=T0, actor="bob") == first
            second = uow.configs.add(
                "handoff", "# another\n" + default_handoff_text(), now=T0, actor="bob"
            )
            uow.configs.activate("handoff", first.version, T0)
            uow.configs.activate("handoff", second.version, T0)
            with pytest.raises(LookupError):
                uow.configs.activate("handoff", 999, T0)
            uow.commit()
        with new_uow() as uow:
            assert [(c.version, c.is_active) for c in uow.configs.all("handoff")] == [
                (1, False),
                (2, True),
            ]
            active = uow.configs.active("handoff")
            assert active is not None and active.document.startswith("# another")
            assert uow.configs.active("other") is None

    # --- the outbox and audiences --------------------------------------------------

    def test_a_notification_is_queued_once_per_endpoint_and_key(self, new_uow: NewUow) -> None:
        with new_uow() as uow:
            every = endpoint(uow, "every")
            some = endpoint(uow, "some", ("handoff.created", "lead.recycled"))
            paused = endpoint(uow, "paused")
            uow.outbox.set_endpoint_active(paused.id, False)
            subscribed = uow.outbox.subscribers("handoff.created")
            assert [e.name for e in subscribed] == ["every", "some"]
            assert [e.name for e in uow.outbox.subscribers("stage.changed")] == ["every"]
            for _ in range(2):
                uow.outbox.enqueue(
                    [e.id for e in subscribed],
                    event_type="handoff.created",
                    key="handoff-1",
                    notification={"payload": {"id": 1}},
                    lead_id=None,
                    now=T0,
                )
            uow.commit()
        with new_uow() as uow:
            messages = uow.outbox.messages()
            assert [(m.endpoint_id, m.status, m.attempts) for m in messages] == [
                (every.id, "pending", 0),
                (some.id, "pending", 0),
            ]
            assert messages[0].notification == {"payload": {"id": 1}}
            assert uow.outbox.pending_count() == 2
            assert [m.id for m in uow.outbox.messages(after_id=messages[0].id)] == [messages[1].id]
            assert uow.outbox.messages(endpoint_id=some.id, status="dead") == []
            assert (uow.outbox.endpoint(some.id) or every).events == (
                "handoff.created",
                "lead.recycled",
            )
            assert [e.active for e in uow.outbox.endpoints()] == [True, True, False]

    def test_a_claimed_message_is_left_alone_until_its_lease_ends(self, new_uow: NewUow) -> None:
        with new_uow() as uow:
            live, paused = endpoint(uow, "live"), endpoint(uow, "paused")
            uow.outbox.set_endpoint_active(paused.id, False)
            for i, at in enumerate([T0 + HOUR, T0, T0 + 2 * HOUR]):
                uow.outbox.enqueue(
                    [live.id, paused.id],
                    event_type="x",
                    key=f"k-{i}",
                    notification={"n": i},
                    lead_id=None,
                    now=at,
                )
            uow.commit()
        with new_uow() as uow:
            first = uow.outbox.claim(T0 + 3 * HOUR, limit=2, lease=LEASE)
            uow.commit()
        assert [m.notification["n"] for m in first] == [1, 0]  # oldest due first, live only
        with new_uow() as uow:
            rest = uow.outbox.claim(T0 + 3 * HOUR, limit=10, lease=LEASE)
            assert [m.notification["n"] for m in rest] == [2]
            assert uow.outbox.claim(T0 + 3 * HOUR + LEASE / 2, limit=10, lease=LEASE) == []
            back = uow.outbox.claim(T0 + 3 * HOUR + 2 * LEASE, limit=10, lease=LEASE)
            assert sorted(m.notification["n"] for m in back) == [0, 1, 2]

    def test_a_late_failure_never_undoes_a_delivery_and_replay_sends_again(
        self, new_uow: NewUow
    ) -> None:
        with new_uow() as uow:
            live = endpoint(uow, "live")
            uow.outbox.enqueue(
                [live.id], event_type="x", key="k", notification={}, lead_id=None, now=T0
            )
            (message,) = uow.outbox.claim(T0, limit=10, lease=LEASE)
            uow.outbox.record_attempt(
                message.id,
                at=T0,
                ok=True,
                status_code=200,
                error=None,
                duration_ms=5.0,
                status="delivered",
                next_attempt_at=T0,
            )
            uow.outbox.record_attempt(
                message.id,
                at=T0 + HOUR,
                ok=False,
                status_code=None,
                error="timed out",
                duration_ms=9000.0,
                status="pending",
                next_attempt_at=T0 + 2 * HOUR,
            )
            uow.commit()
        with new_uow() as uow:
            settled = uow.outbox.message(message.id)
            assert settled is not None
            assert (settled.status, settled.attempts, settled.delivered_at) == ("delivered", 1, T0)
            attempts = uow.outbox.attempts(message.id)
            assert [(a["ok"], a["status_code"], a["error"]) for a in attempts] == [
                (True, 200, None),
                (False, None, "timed out"),
            ]
            assert uow.outbox.pending_count() == 0
            assert uow.outbox.replay(message.id, T0 + 3 * HOUR)
            assert not uow.outbox.replay(999, T0)
            again = uow.outbox.message(message.id)
            assert again is not None
            assert (again.status, again.attempts, again.next_attempt_at) == (
                "pending",
                0,
                T0 + 3 * HOUR,
            )
            assert again.idempotency_key == "k"

    def test_audience_members_join_and_leave(self, new_uow: NewUow) -> None:
        conditions = [{"field": "grade", "op": "in", "value": ["A", "B"]}]
        with new_uow() as uow:
            ann, bob, cem = uow.leads.create([Lead(), Lead(), Lead()], T0)
            audience = uow.audiences.add("hot", conditions, None, T0)
            uow.audiences.update_members(audience.id, [ann, bob], [], T0)
            uow.audiences.update_members(audience.id, [cem], [ann], T0 + HOUR)
            uow.commit()
        assert audience.conditions == tuple(conditions) and audience.refreshed_at is None
        with new_uow() as uow:
            assert uow.audiences.members(audience.id) == {bob, cem}
            found = uow.audiences.by_name("hot")
            assert found is not None and found.refreshed_at == T0 + HOUR
            assert uow.audiences.get(audience.id) == found
            assert uow.audiences.by_name("cold") is None
            assert [a.name for a in uow.audiences.all()] == ["hot"]

    # --- the inbox ------------------------------------------------------------------

    def test_the_inbox_hands_out_waiting_calls_in_arrival_order_and_holds_an_event_once(
        self, new_uow: NewUow
    ) -> None:
        paris = timezone(timedelta(hours=1))
        document = {"v": 1, "id": "e1", "nested": {"list": [1, "zwei", None, 2.5]}, "big": 2**70}
        with new_uow() as uow:
            uow.inbox.append(
                [
                    QueuedCall("e1", True, T0.astimezone(paris), document),
                    QueuedCall("i1", False, T0 + HOUR, {"v": 1, "id": "i1"}),
                    QueuedCall("i1", False, T0 + HOUR, {"v": 1, "id": "i1", "again": True}),
                    QueuedCall("e2", True, T0 + 2 * HOUR, {"v": 1, "id": "e2"}),
                ]
            )
            uow.commit()
        with new_uow() as uow:
            assert uow.inbox.queued({"e1", "e2", "i1", "other"}) == {"e1", "e2"}
            assert uow.inbox.backlog_bound() == 4
            first, second = uow.inbox.take(2)
            assert (first.message_id, first.received_at, first.document) == ("e1", T0, document)
            assert first.received_at.tzinfo == UTC
            assert (second.message_id, second.document) == ("i1", {"v": 1, "id": "i1"})
            assert first.id < second.id
            assert [e.message_id for e in uow.inbox.take(10)] == ["e1", "i1", "i1", "e2"]
        with pytest.raises(ConcurrentUpdate), new_uow() as uow:
            uow.inbox.append([QueuedCall("e2", True, T0, {})])  # a retry racing its first try
        with new_uow() as uow:
            assert uow.inbox.counts() == InboxCounts(4, T0, 0)

    def test_inbox_calls_drained_or_parked_leave_the_queue_and_drained_ones_are_purged(
        self, new_uow: NewUow
    ) -> None:
        with new_uow() as uow:
            uow.inbox.append(
                [QueuedCall(f"e{i}", True, T0 + i * HOUR, {"v": 1, "n": i}) for i in range(1, 5)]
            )
            uow.commit()
        with new_uow() as uow:
            one, two, three, four = (e.id for e in uow.inbox.take(10))
            uow.inbox.done([one, three], T0 + 5 * HOUR)
            uow.inbox.park({two: "refused: domain", three: "too late: drained"}, T0 + 5 * HOUR)
            uow.commit()
        with new_uow() as uow:
            assert [e.id for e in uow.inbox.take(10)] == [four]
            assert uow.inbox.backlog_bound() == 1
            assert uow.inbox.counts() == InboxCounts(1, T0 + 4 * HOUR, 1)
            assert uow.inbox.recent(1) == [(T0 + 3 * HOUR, T0 + 5 * HOUR)]
            assert sorted(uow.inbox.recent(10)) == [
                (T0 + HOUR, T0 + 5 * HOUR),
                (T0 + 3 * HOUR, T0 + 5 * HOUR),
            ]
            (parked,) = uow.inbox.parked()
            assert parked == ParkedCall(
                two, "e2", T0 + 2 * HOUR, T0 + 5 * HOUR, "refused: domain", {"v": 1, "n": 2}
            )
            assert uow.inbox.parked(after_id=two) == []
            assert uow.inbox.queued({"e1", "e2", "e3", "e4"}) == {"e1", "e2", "e3", "e4"}
            assert uow.inbox.purge(T0 + 5 * HOUR) == 0
            assert uow.inbox.purge(T0 + 6 * HOUR) == 2
            uow.commit()
        with new_uow() as uow:
            assert uow.inbox.queued({"e1", "e2", "e3", "e4"}) == {"e2", "e4"}
            assert uow.inbox.recent(10) == []
            assert uow.inbox.counts() == InboxCounts(1, T0 + 4 * HOUR, 1)
            uow.inbox.done([four], T0 + 7 * HOUR)
            assert (uow.inbox.take(10), uow.inbox.backlog_bound()) == ([], 0)
            assert uow.inbox.counts() == InboxCounts(0, None, 1)

    # --- predictive scoring, users, API keys ---------------------------------------

    def test_one_predictive_version_is_active_and_activating_forgets_probabilities(
        self, new_uow: NewUow
    ) -> None:
        def model(target: str) -> NewPredictiveModel:
            return NewPredictiveModel(
                T0,
                "ann",
                target,
                90.0,
                "logistic",
                {"auc": 0.8},
                {"names": ["fit"]},
                T0 - 30 * 24 * HOUR,
                T0,
                1,
                b"artefact-" + target.encode(),
            )

        with new_uow() as uow:
            ann, bob = uow.leads.create([Lead(), Lead()], T0)
            first = uow.predictive.add(model("sql"))
            second = uow.predictive.add(model("customer"))
            uow.predictive.activate(first.version, T0)
            uow.predictive.upsert_scores([StoredProbability(ann, first.version, 0.25, T0)])
            assert set(uow.predictive.scores([ann, bob])) == {ann}
            uow.predictive.activate(second.version, T0 + HOUR)
            assert uow.predictive.scores([ann, bob]) == {}
            with pytest.raises(KeyError):
                uow.predictive.activate(999, T0)
            uow.commit()
        assert (first.version, second.version, first.is_active) == (1, 2, False)
        with new_uow() as uow:
            assert [(m.version, m.is_active) for m in uow.predictive.all()] == [
                (1, False),
                (2, True),
            ]
            got = uow.predictive.get(2)
            assert got is not None and (got.metrics, got.features) == (
                {"auc": 0.8},
                {"names": ["fit"]},
            )
            assert got.activated_at == T0 + HOUR
            uow.predictive.deactivate()
            assert not any(m.is_active for m in uow.predictive.all())
            assert uow.predictive.active() is None
            assert uow.predictive.created_at([ann, 999]) == {ann: T0}

    def test_milestones_and_account_activity_are_read_for_training(self, new_uow: NewUow) -> None:
        with new_uow() as uow:
            account_id = uow.accounts.ensure({"acme.io"}, T0)["acme.io"]
            ann, bob, solo = uow.leads.create(
                [Lead(account_id=account_id), Lead(account_id=account_id), Lead()], T0
            )
            uow.transitions.add([transition(ann, Stage.MQL, T0 + 2 * HOUR)])
            uow.handoffs.add_outcome(Outcome(ann, "won", "ae@x.io", T0 + HOUR))
            uow.touchpoints.add(
                [
                    stored("a-1", ann, T0),
                    StoredTouchpoint(
                        Touchpoint("b-1", "intent_surge", T0 + HOUR, {"score": 80}), bob, "i", T0
                    ),
                    stored("b-2", bob, T0 + 5 * HOUR),
                    stored("s-1", solo, T0),
                ]
            )
            uow.commit()
        with new_uow() as uow:
            milestones = uow.predictive.milestones([ann, bob])
            activity = uow.predictive.account_activity(None, T0, T0 + 2 * HOUR)
            assert uow.predictive.account_activity([999]) == {}
        assert set(milestones) == {ann}
        assert [(m.occurred_at, m.stage, m.outcome) for m in milestones[ann]] == [
            (T0 + HOUR, None, "won"),
            (T0 + 2 * HOUR, "mql", None),
        ]
        assert set(activity) == {account_id}  # a lead without an account is left out
        assert activity[account_id].lead_ids == [ann, bob]
        assert activity[account_id].intent == [None, 80.0]

    def test_users_are_found_by_name_with_their_hash_and_can_be_disabled(
        self, new_uow: NewUow
    ) -> None:
        with new_uow() as uow:
            ann = uow.users.add(
                username="ann", password_hash="h1", role=Role.ADMIN, rep=None, now=T0
            )
            bob = uow.users.add(
                username="bob", password_hash="h2", role=Role.SALES, rep="bob@x.io", now=T0
            )
            uow.commit()
        with new_uow() as uow:
            assert uow.users.by_name("ann") == (ann, "h1")
            assert uow.users.by_name("nobody") is None
            disabled = uow.users.set_disabled(bob.id, True)
            assert disabled is not None and disabled.disabled and disabled.rep == "bob@x.io"
            uow.users.set_password(ann.id, "h3")
            assert uow.users.by_name("ann") == (ann, "h3")
            assert [u.username for u in uow.users.all()] == ["ann", "bob"]
            assert uow.users.get(bob.id) == disabled
            assert uow.users.get(999) is None
        with pytest.raises(ConcurrentUpdate), new_uow() as uow:
            uow.users.add(username="ann", password_hash="h", role=Role.SALES, rep=None, now=T0)

    def test_an_api_key_is_found_by_its_hash_and_revoked_once(self, new_uow: NewUow) -> None:
        scopes = frozenset({Scope.READ, Scope.WRITE})
        with new_uow() as uow:
            key = uow.keys.add(
                name="crm",
                kind=KeyKind.SECRET,
                prefix="lg_sk_abc",
                key_hash="h",
                scopes=scopes,
                now=T0,
            )
            assert uow.keys.by_hash("h") == key
            assert uow.keys.by_hash("other") is None
            revoked = uow.keys.revoke(key.id, T0 + HOUR)
            assert uow.keys.revoke(key.id, T0 + 2 * HOUR) == revoked
            assert uow.keys.revoke(999, T0) is None
            assert [k.revoked_at for k in uow.keys.all()] == [T0 + HOUR]
        assert revoked is not None and revoked.scopes == scopes and not revoked.active


_: UnitOfWork = FakeUnitOfWork()  # what mypy checks the fake against


class TestFakeUnitOfWork(Contract):
    @pytest.fixture
    def new_uow(self) -> NewUow:
        database = FakeDatabase()
        return lambda: FakeUnitOfWork(database)


class TestSqlUnitOfWork(Contract):
    """On SQLite and PostgreSQL (the ``engine`` fixture)."""

    @pytest.fixture
    def new_uow(self, engine: Engine) -> NewUow:
        return lambda: SqlUnitOfWork(engine)
