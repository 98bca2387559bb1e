"""The demo world: deterministic, plausible, and with intent that really shows in behaviour."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from leadgate.demo.world import DAY, World, generate_world
from leadgate.domain.identity import FREE_MAIL_DOMAINS, normalise_domain, normalise_email
from leadgate.domain.lifecycle import TRANSITIONS, Stage

END = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world(leads=1500, days=60, seed=11, end=END)


def test_same_seed_same_world_and_another_seed_another() -> None:
    first = generate_world(leads=200, days=30, seed=3, end=END)
    again = generate_world(leads=200, days=30, seed=3, end=END)
    other = generate_world(leads=200, days=30, seed=4, end=END)
    assert first == again
    assert first.leads != other.leads
    assert first.touchpoints != other.touchpoints


def test_sizes_are_as_asked(world: World) -> None:
    assert len(world.leads) == 1500
    assert len(world.accounts) == 500
    assert 8 <= len(world.touchpoints) / len(world.leads) <= 12
    assert world.start == END - 60 * DAY


def test_identities_are_valid_and_unique(world: World) -> None:
    domains = [account.domain for account in world.accounts]
    assert len(set(domains)) == len(domains)
    assert all(normalise_domain(domain) == domain for domain in domains)
    assert not set(domains) & FREE_MAIL_DOMAINS
    emails = [lead.email for lead in world.leads]
    assert len(set(emails)) == len(emails)
    assert all(email and normalise_email(email) == email for email in emails)


def test_free_mail_share_is_about_twelve_percent(world: World) -> None:
    free = sum(1 for lead in world.leads if (lead.email or "").split("@")[1] in FREE_MAIL_DOMAINS)
    assert 0.09 <= free / len(world.leads) <= 0.15


def test_corporate_leads_work_at_generated_accounts(world: World) -> None:
    domains = {account.domain for account in world.accounts}
    for lead in world.leads:
        domain = (lead.email or "").split("@")[1]
        assert domain in domains or domain in FREE_MAIL_DOMAINS


def test_message_ids_are_unique_except_identical_resends(world: World) -> None:
    by_id: dict[str, list[object]] = {}
    for touchpoint in world.touchpoints:
        by_id.setdefault(touchpoint.message_id, []).append(touchpoint)
    resent = {mid: copies for mid, copies in by_id.items() if len(copies) > 1}
    assert 1 <= len(resent) <= len(by_id) * 0.01
    for copies in resent.values():
        assert all(copy == copies[0] for copy in copies)


def test_a_few_messages_arrive_a_day_late(world: World) -> None:
    late = [d for d in world.deliveries if d.day != world.day_of(d.touchpoint.occurred_at)]
    assert 1 <= len(late) <= len(world.deliveries) * 0.01
    assert all(d.day == world.day_of(d.touchpoint.occurred_at) + 1 for d in late)
    assert [d.day for d in world.deliveries] == sorted(d.day for d in world.deliveries)


def test_timestamps_are_aware_and_inside_the_span(world: World) -> None:
    for touchpoint in world.touchpoints:
        assert touchpoint.occurred_at.utcoffset() == timedelta(0)
        assert world.start <= touchpoint.occurred_at < world.end


def test_every_message_carries_an_identity_and_some_only_a_cookie(world: World) -> None:
    assert all(tp.email or tp.anonymous_id for tp in world.touchpoints)
    cookie_only = [tp for tp in world.touchpoints if tp.email is None]
    assert cookie_only
    assert {tp.name for tp in cookie_only} <= {"page_view", "Page Viewed"}


def test_inbound_leads_are_stitched_by_one_message_with_cookie_and_email(world: World) -> None:
    inbound = {email for email, truth in world.truth.items() if truth.identified_on is not None}
    assert 0.08 <= len(inbound) / len(world.leads) <= 0.2
    first_seen: dict[str, int] = {}
    for delivery in world.deliveries:
        touchpoint = delivery.touchpoint
        if touchpoint.email in inbound and touchpoint.email not in first_seen:
            first_seen[touchpoint.email] = delivery.day
            assert touchpoint.anonymous_id is not None
            assert world.truth[touchpoint.email].identified_on == delivery.day
    assert set(first_seen) == inbound


def test_aliases_are_exercised(world: World) -> None:
    names = Counter(tp.name for tp in world.touchpoints)
    assert names["Page Viewed"] > 0
    assert names["Demo Requested"] > 0
    assert names["page_view"] > names["Page Viewed"]


def test_high_intent_leads_ask_for_demos_far_more_often(world: World) -> None:
    demos = Counter(
        tp.email for tp in world.touchpoints if tp.name in ("demo_request", "Demo Requested")
    )
    ranked = sorted(world.truth, key=lambda email: world.truth[email].intent)
    quarter = len(ranked) // 4
    bottom = sum(demos[email] for email in ranked[:quarter]) / quarter
    top = sum(demos[email] for email in ranked[-quarter:]) / quarter
    assert top > 0.1
    assert top > 2 * bottom


def test_high_intent_leads_visit_pricing_more(world: World) -> None:
    pricing = Counter(
        tp.email for tp in world.touchpoints if tp.properties.get("category") == "pricing"
    )
    ranked = sorted(world.truth, key=lambda email: world.truth[email].intent)
    quarter = len(ranked) // 4
    assert sum(pricing[e] for e in ranked[-quarter:]) > 3 * sum(
        pricing[e] for e in ranked[:quarter]
    )


def test_intent_follows_fit(world: World) -> None:
    ranked = sorted(world.truth.values(), key=lambda truth: truth.fit)
    quarter = len(ranked) // 4
    low = sum(t.intent for t in ranked[:quarter]) / quarter
    high = sum(t.intent for t in ranked[-quarter:]) / quarter
    assert high > 2 * low


def test_planned_outcomes_are_allowed_moves_with_known_reasons(world: World) -> None:
    emails = {lead.email for lead in world.leads}
    for outcome in world.outcomes:
        assert outcome.email in emails
        assert outcome.to_stage in TRANSITIONS[outcome.from_stage]
        assert outcome.after_days > 0
        assert outcome.reason


def test_good_intent_leads_are_planned_to_win_more(world: World) -> None:
    won = {o.email for o in world.outcomes if o.to_stage is Stage.CUSTOMER}
    ranked = sorted(world.truth, key=lambda email: world.truth[email].intent)
    quarter = len(ranked) // 4
    assert sum(e in won for e in ranked[-quarter:]) > 2 * sum(e in won for e in ranked[:quarter])


def test_end_must_be_aware_and_sizes_positive() -> None:
    with pytest.raises(ValueError, match="time zone"):
        generate_world(leads=10, days=7, seed=1, end=datetime(2026, 3, 1))
    with pytest.raises(ValueError, match="at least one"):
        generate_world(leads=0, days=7, seed=1, end=END)


def test_tiny_worlds_work() -> None:
    world = generate_world(leads=1, days=1, seed=5, end=END)
    assert len(world.leads) == 1
    assert len(world.accounts) == 1
