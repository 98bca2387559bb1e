"""The identity plan: which lead each message belongs to, what to create, merge and link,
decided from facts alone (no database; the integration tests check it is carried out)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from leadgate.domain.identity import IdentityKey, IdentityKind
from leadgate.domain.identity_plan import (
    IdentityFacts,
    IdentityPlan,
    LeadRef,
    NewLead,
    PendingLead,
    plan_identities,
)


def email(value: str) -> IdentityKey:
    return IdentityKey(IdentityKind.EMAIL, value)


def user(value: str) -> IdentityKey:
    return IdentityKey(IdentityKind.USER_ID, value)


def crm(value: str) -> IdentityKey:
    return IdentityKey(IdentityKind.EXTERNAL_ID, value)


def anon(value: str) -> IdentityKey:
    return IdentityKey(IdentityKind.ANONYMOUS_ID, value)


def alias(user_id: str, previous_id: str) -> tuple[IdentityKey, ...]:
    """The keys of an alias call: the previous id read both as a user and anonymous id."""
    return (user(user_id), user(previous_id), anon(previous_id))


def plan(
    *messages: tuple[IdentityKey, ...],
    known: Mapping[IdentityKey, int] | None = None,
    with_email: Sequence[int] = (),
) -> IdentityPlan:
    return plan_identities(IdentityFacts(messages, known or {}, frozenset(with_email)))


NEW = PendingLead(0)
ANN, BOB = email("ann@acme.io"), email("bob@acme.io")


# -- examples ---------------------------------------------------------------------------


def test_an_empty_batch_plans_nothing() -> None:
    assert plan() == IdentityPlan(leads=(), new_leads=(), merges=(), links=())


def test_a_message_with_only_new_keys_creates_one_lead_with_all_of_them() -> None:
    result = plan((ANN, user("u-1"), anon("a-1")))
    assert result == IdentityPlan(
        leads=(NEW,),
        new_leads=(NewLead((ANN, user("u-1"), anon("a-1")), "ann@acme.io"),),
        merges=(),
        links=((NEW, ANN), (NEW, user("u-1")), (NEW, anon("a-1"))),
    )


def test_a_known_key_decides_the_lead_and_its_new_keys_are_linked_to_it() -> None:
    result = plan((ANN, anon("a-1")), known={ANN: 4}, with_email=[4])
    assert result == IdentityPlan(leads=(4,), new_leads=(), merges=(), links=((4, anon("a-1")),))


def test_an_anonymous_lead_gains_the_email_it_is_identified_with_instead_of_moving() -> None:
    result = plan((ANN, user("u-1"), anon("a-1")), known={anon("a-1"): 7})
    assert result == IdentityPlan(
        leads=(7,), new_leads=(), merges=(), links=((7, ANN), (7, user("u-1")))
    )


def test_an_anonymous_lead_tied_to_an_identified_one_is_merged_into_it() -> None:
    result = plan((ANN, anon("a-1")), known={ANN: 2, anon("a-1"): 9}, with_email=[2])
    assert (result.leads, result.merges, result.links) == ((2,), ((9, 2),), ())


def test_the_identified_lead_survives_even_when_the_anonymous_id_is_named_first() -> None:
    # PostHog's $create_alias sends the previous, anonymous id as distinct_id.
    result = plan(
        alias("ph-anon", "u-ann"), known={user("ph-anon"): 1, user("u-ann"): 2}, with_email=[2]
    )
    assert (result.leads, result.merges) == ((2,), ((1, 2),))
    assert result.links == ((2, anon("u-ann")),)


def test_an_identify_whose_user_id_lead_is_anonymous_merges_it_into_the_cookies_lead() -> None:
    result = plan(
        (user("ph-anon"), anon("cookie")),
        known={user("ph-anon"): 1, anon("cookie"): 2},
        with_email=[2],
    )
    assert (result.leads, result.merges) == ((2,), ((1, 2),))


def test_two_leads_with_emails_are_never_merged_and_the_stronger_key_decides() -> None:
    result = plan(
        (user("u-ann"), anon("a-bob")),
        (anon("a-bob"),),
        known={user("u-ann"): 1, anon("a-bob"): 2},
        with_email=[1, 2],
    )
    assert result == IdentityPlan(leads=(1, 2), new_leads=(), merges=(), links=())


def test_a_new_email_on_the_cookie_of_a_lead_with_another_email_is_a_new_person() -> None:
    result = plan((BOB, user("u-bob"), anon("laptop")), known={anon("laptop"): 1}, with_email=[1])
    # The new person takes only the ids nobody has yet; the laptop stays with Ann.
    assert result == IdentityPlan(
        leads=(NEW,),
        new_leads=(NewLead((BOB, user("u-bob")), "bob@acme.io"),),
        merges=(),
        links=((NEW, BOB), (NEW, user("u-bob"))),
    )


def test_a_new_email_with_the_user_id_of_a_lead_with_an_email_is_that_persons_new_email() -> None:
    new = email("ann@new.io")
    result = plan((new, user("u-ann")), known={user("u-ann"): 1}, with_email=[1])
    assert result == IdentityPlan(leads=(1,), new_leads=(), merges=(), links=((1, new),))


def test_two_emails_on_one_new_cookie_in_one_batch_are_two_people() -> None:
    result = plan((anon("kiosk"),), (ANN, anon("kiosk")), (BOB, anon("kiosk")), (anon("kiosk"),))
    assert result.new_leads == (
        NewLead((anon("kiosk"), ANN), "ann@acme.io"),
        NewLead((BOB,), "bob@acme.io"),
    )
    # The cookie stays with the first person it identified.
    assert result.leads == (PendingLead(0), PendingLead(0), PendingLead(1), PendingLead(0))
    assert result.merges == ()


def test_a_second_email_on_a_known_anonymous_lead_in_one_batch_is_a_new_person() -> None:
    # The lead gains Ann's email with the first message, so Bob's cannot join it too.
    result = plan((ANN, anon("kiosk")), (BOB, anon("kiosk")), known={anon("kiosk"): 3})
    assert result.leads == (3, NEW)
    assert result.new_leads == (NewLead((BOB,), "bob@acme.io"),)
    assert result.links == ((3, ANN), (NEW, BOB))


def test_a_chain_of_new_links_in_one_batch_ends_on_one_new_lead_without_merges() -> None:
    result = plan(
        (anon("a-1"),),
        (user("u-1"),),
        (ANN, user("u-1")),
        (ANN, anon("a-1")),
        (anon("a-1"),),
    )
    assert result.leads == (NEW,) * 5
    assert result.new_leads == (NewLead((anon("a-1"), user("u-1"), ANN), "ann@acme.io"),)
    assert result.merges == ()


def test_a_chain_through_a_known_anonymous_lead_creates_nothing() -> None:
    result = plan(
        (anon("a-1"),),
        (user("u-1"),),
        (ANN, user("u-1")),
        (ANN, anon("a-1")),
        known={anon("a-1"): 5},
    )
    assert result.leads == (5,) * 4
    assert (result.new_leads, result.merges) == ((), ())
    assert sorted(key.value for _, key in result.links) == ["ann@acme.io", "u-1"]


def test_a_chain_that_joins_two_known_anonymous_leads_merges_one_into_the_other() -> None:
    result = plan(
        (ANN, anon("phone")),
        (ANN, anon("laptop")),
        known={anon("phone"): 1, anon("laptop"): 2},
    )
    assert result == IdentityPlan(leads=(1, 1), new_leads=(), merges=((2, 1),), links=((1, ANN),))


def test_keys_of_a_merged_lead_move_with_it_and_are_not_linked_again() -> None:
    result = plan(
        (ANN, anon("a-1")),
        (anon("a-2"),),
        known={ANN: 1, anon("a-1"): 2, anon("a-2"): 2},
        with_email=[1],
    )
    assert result.leads == (1, 1)
    assert (result.merges, result.links) == (((2, 1),), ())


def test_a_lead_merged_twice_ends_on_the_last_survivor_without_a_chain() -> None:
    result = plan(
        alias("u-1", "cookie-1"),
        (ANN, user("u-1")),
        known={anon("cookie-1"): 1, user("u-1"): 2, ANN: 3},
        with_email=[3],
    )
    # The alias's lead (2) is merged by the second message: both messages end on Ann.
    assert result.leads == (3, 3)
    assert result.merges == ((1, 3), (2, 3))


def test_the_order_of_the_known_keys_does_not_change_the_plan() -> None:
    messages = ((ANN, anon("a-1")), (user("u-1"), anon("a-2")))
    known = {anon("a-1"): 1, anon("a-2"): 2, user("u-1"): 3}
    backwards = dict(reversed(known.items()))
    assert plan(*messages, known=known) == plan(*messages, known=backwards)


# -- laws -------------------------------------------------------------------------------

POOL: dict[IdentityKind, list[str]] = {
    IdentityKind.EMAIL: ["ann@acme.io", "bob@acme.io", "cat@gmail.com"],
    IdentityKind.USER_ID: ["u-1", "u-2", "u-3"],
    IdentityKind.EXTERNAL_ID: ["crm-1", "crm-2"],
    IdentityKind.ANONYMOUS_ID: ["a-1", "a-2", "a-3", "a-4"],
}
ALL_KEYS = [IdentityKey(kind, value) for kind, values in POOL.items() for value in values]
# No deadline: planning takes microseconds, but a loaded machine must not fail the test.
LAWS = settings(deadline=None)


@st.composite
def messages(draw: st.DrawFn) -> tuple[IdentityKey, ...]:
    """A message's keys as tracking calls carry them: at most one of each kind, strongest
    first, at least one."""
    kinds = draw(st.lists(st.sampled_from(list(IdentityKind)), min_size=1, max_size=4))
    return tuple(
        IdentityKey(kind, draw(st.sampled_from(POOL[kind])))
        for kind in IdentityKind
        if kind in kinds
    )


@st.composite
def facts(draw: st.DrawFn) -> IdentityFacts:
    """A batch over a small pool of keys, some of them already linked to a few leads."""
    lead_ids = list(range(1, draw(st.integers(0, 5)) + 1))
    known: dict[IdentityKey, int] = {}
    if lead_ids:
        for key in draw(st.lists(st.sampled_from(ALL_KEYS), unique=True, max_size=8)):
            known[key] = draw(st.sampled_from(lead_ids))
    with_email = draw(st.frozensets(st.sampled_from(lead_ids))) if lead_ids else frozenset()
    batch = draw(st.lists(messages(), min_size=1, max_size=8))
    return IdentityFacts(tuple(batch), known, with_email)


def survivor(result: IdentityPlan, lead: LeadRef) -> LeadRef:
    return dict(result.merges).get(lead, lead) if isinstance(lead, int) else lead


def has_email(result: IdentityPlan, given: IdentityFacts, lead: LeadRef) -> bool:
    """Whether the lead has an email once the plan is carried out."""
    if isinstance(lead, PendingLead):
        return result.new_leads[lead.index].email is not None
    return lead in given.with_email or any(
        linked == lead and key.kind is IdentityKind.EMAIL for linked, key in result.links
    )


@LAWS
@given(facts())
def test_every_message_gets_a_lead_that_exists_or_is_created(given: IdentityFacts) -> None:
    result = plan_identities(given)
    assert len(result.leads) == len(given.messages)
    existing = set(given.known.values())
    for lead in result.leads:
        assert (
            lead in existing if isinstance(lead, int) else 0 <= lead.index < len(result.new_leads)
        )
    # Every new lead is some message's lead: none is created for nothing.
    assert {lead for lead in result.leads if isinstance(lead, PendingLead)} == {
        PendingLead(i) for i in range(len(result.new_leads))
    }


@LAWS
@given(facts())
def test_each_new_key_is_linked_to_exactly_one_lead_and_known_keys_never(
    given: IdentityFacts,
) -> None:
    result = plan_identities(given)
    linked = [key for _, key in result.links]
    assert len(linked) == len(set(linked))
    assert set(linked) == {key for keys in given.messages for key in keys} - given.known.keys()
    for i, new in enumerate(result.new_leads):
        assert {(PendingLead(i), key) for key in new.keys} <= set(result.links)


@LAWS
@given(facts())
def test_no_lead_with_an_email_is_ever_merged_into_another(given: IdentityFacts) -> None:
    result = plan_identities(given)
    for merged, _ in result.merges:
        assert not has_email(result, given, merged)


@LAWS
@given(facts())
def test_merges_go_straight_from_a_known_lead_to_a_survivor(given: IdentityFacts) -> None:
    result = plan_identities(given)
    merged = [lead for lead, _ in result.merges]
    assert len(merged) == len(set(merged))
    assert set(merged) <= set(given.known.values())
    for lead, into in result.merges:
        # A known lead survives (one batch never moves a lead into one it creates) and is
        # not itself merged: no chain, no cycle.
        assert isinstance(into, int) and into in given.known.values()
        assert into != lead and into not in merged


@LAWS
@given(facts())
def test_planning_is_deterministic(given: IdentityFacts) -> None:
    backwards = IdentityFacts(
        given.messages, dict(reversed(list(given.known.items()))), given.with_email
    )
    assert plan_identities(given) == plan_identities(given) == plan_identities(backwards)


@LAWS
@given(facts())
def test_messages_sharing_a_key_share_a_lead_unless_both_leads_have_an_email(
    given: IdentityFacts,
) -> None:
    result = plan_identities(given)
    placed = list(zip(given.messages, result.leads, strict=True))
    for i, (keys, lead) in enumerate(placed):
        for other_keys, other in placed[i + 1 :]:
            if set(keys) & set(other_keys) and lead != other:
                assert has_email(result, given, lead) and has_email(result, given, other)


@LAWS
@given(facts())
def test_known_keys_keep_their_lead_unless_it_was_merged(given: IdentityFacts) -> None:
    result = plan_identities(given)
    # The plan never links a known key anew (a merged lead's keys move with it) ...
    assert not {key for _, key in result.links} & given.known.keys()
    for keys, lead in zip(given.messages, result.leads, strict=True):
        if all(key in given.known for key in keys):
            # ... so a message of known keys only ends on one of their leads, or on where
            # that lead was merged to.
            owners = {given.known[key] for key in keys}
            assert lead in {survivor(result, owner) for owner in owners}
