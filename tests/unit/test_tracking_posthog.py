"""PostHog capture events (as posthog-python and posthog-js send them) parsed field by
field into leadgate's calls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from leadgate.adapters.tracking.payload import Rejected
from leadgate.adapters.tracking.posthog import parse_event
from leadgate.domain.identity import IdentityKey, IdentityKind
from leadgate.services.commands import AccountIn, LeadIn, TrackedCall

RECEIVED = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SKEW = timedelta(minutes=5)


def parse(event: Any, sent_at: datetime | None = None) -> tuple[TrackedCall, datetime | None]:
    return parse_event(event, received_at=RECEIVED, sent_at=sent_at, max_skew=SKEW)


def refused(event: Any) -> Rejected:
    with pytest.raises(Rejected) as info:
        parse(event)
    return info.value


def user(value: str) -> IdentityKey:
    return IdentityKey(IdentityKind.USER_ID, value)


def test_a_custom_event_is_a_touchpoint_without_posthogs_bookkeeping() -> None:
    call, clamped = parse(
        {
            "event": "Demo Requested",
            "distinct_id": "d-1",
            "uuid": "0190-aaaa",
            "timestamp": "2026-03-01T09:30:00Z",
            "properties": {
                "plan": "pro",
                "$lib": "posthog-python",
                "$session_id": "s",
                "utm_source": "google",
                "utm_campaign": "spring",
            },
        }
    )
    assert clamped is None
    assert call.message_id == "0190-aaaa"
    assert call.keys == (user("d-1"),)
    tp = call.touchpoint
    assert tp is not None
    assert tp.name == "Demo Requested"
    assert tp.message_id == "0190-aaaa"
    assert tp.user_id == "d-1"
    assert tp.occurred_at == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    assert tp.properties == {
        "plan": "pro",
        "utm_source": "google",
        "utm_campaign": "spring",
        "utm": {"source": "google", "campaign": "spring"},
    }
    assert call.lead is None and call.account is None


def test_the_distinct_id_may_be_in_the_properties() -> None:
    call, _ = parse({"event": "x", "properties": {"distinct_id": "d-2"}})
    assert call.keys == (user("d-2"),)


def test_an_event_without_a_uuid_gets_a_stable_derived_id() -> None:
    event = {"event": "x", "distinct_id": "d", "timestamp": "2026-03-01T09:30:00Z"}
    first, _ = parse(dict(event))
    again, _ = parse(dict(event))
    assert first.message_id == again.message_id
    assert first.message_id.startswith("lg-")


def test_a_pageview_becomes_a_page_view_with_the_path_from_the_url() -> None:
    call, _ = parse(
        {
            "event": "$pageview",
            "distinct_id": "d",
            "properties": {"$current_url": "https://www.acme-site.com/pricing/enterprise?x=1"},
        }
    )
    tp = call.touchpoint
    assert tp is not None
    assert tp.name == "page_view"
    assert tp.properties == {
        "url": "https://www.acme-site.com/pricing/enterprise?x=1",
        "path": "/pricing/enterprise?x=1",
    }


def test_a_pageview_path_prefers_pathname_and_a_bare_host_is_the_root() -> None:
    call, _ = parse(
        {
            "event": "$pageview",
            "distinct_id": "d",
            "properties": {"$current_url": "https://acme.io/a", "$pathname": "/pricing"},
        }
    )
    assert call.touchpoint is not None
    assert call.touchpoint.properties["path"] == "/pricing"
    call, _ = parse(
        {"event": "$pageview", "distinct_id": "d", "properties": {"$current_url": "https://a.io"}}
    )
    assert call.touchpoint is not None
    assert call.touchpoint.properties["path"] == "/"


def test_identify_sets_traits_and_joins_the_anonymous_id() -> None:
    call, _ = parse(
        {
            "event": "$identify",
            "distinct_id": "u-1",
            "properties": {
                "$anon_distinct_id": "anon-9",
                "$set": {"email": "Ann@Acme.io", "title": "VP", "plan": "pro"},
                "$set_once": {"title": "Intern", "first_name": "Ann"},
            },
        }
    )
    assert call.keys == (
        IdentityKey(IdentityKind.EMAIL, "ann@acme.io"),
        user("u-1"),
        user("anon-9"),
    )
    assert call.touchpoint is None
    # $set overwrites; $set_once only fills what $set leaves empty.
    assert call.lead == LeadIn(first_name="Ann", title="VP", traits={"plan": "pro"})


def test_set_at_the_top_level_is_read_like_set_in_properties() -> None:
    call, _ = parse({"event": "$set", "distinct_id": "u-1", "$set": {"seniority": "vp"}})
    assert call.lead == LeadIn(seniority="vp")
    assert call.touchpoint is None


def test_set_with_a_company_names_the_account() -> None:
    call, _ = parse(
        {
            "event": "$set",
            "distinct_id": "u-1",
            "properties": {"$set": {"company": {"domain": "acme.io", "industry": "fintech"}}},
        }
    )
    assert call.account == AccountIn(domain="acme.io", industry="fintech")


def test_groupidentify_sets_account_traits_and_names_no_person() -> None:
    call, _ = parse(
        {
            "event": "$groupidentify",
            "distinct_id": "$company_acme.io",
            "properties": {
                "$group_type": "company",
                "$group_key": "acme.io",
                "$group_set": {"name": "Acme", "employees": "1,200", "industry": "software"},
            },
        }
    )
    assert call.keys == ()
    assert call.touchpoint is None and call.lead is None
    assert call.account == AccountIn(
        domain="acme.io", name="Acme", employees=1200, industry="software"
    )


def test_groupidentify_needs_a_domain() -> None:
    problem = refused(
        {
            "event": "$groupidentify",
            "distinct_id": "x",
            "properties": {"$group_key": "company-42", "$group_set": {"name": "Acme"}},
        }
    )
    assert problem.code == "missing_domain"
    assert "$group_set" in problem.message


def test_create_alias_ties_two_distinct_ids() -> None:
    call, _ = parse(
        {
            "event": "$create_alias",
            "distinct_id": "anon-1",
            "properties": {"distinct_id": "anon-1", "alias": "u-1"},
        }
    )
    assert call.keys == (user("anon-1"), user("u-1"))
    assert call.touchpoint is None and call.lead is None


def test_groups_on_an_event_link_the_lead_to_a_domain_account() -> None:
    call, _ = parse(
        {
            "event": "Signed Up",
            "distinct_id": "u",
            "properties": {"$groups": {"company": "acme.io"}},
        }
    )
    assert call.account == AccountIn(domain="acme.io")
    for key in ("42", "a" * 251 + ".io"):  # not a domain, or too long to be one
        call, _ = parse(
            {"event": "Signed Up", "distinct_id": "u", "properties": {"$groups": {"team": key}}}
        )
        assert call.account is None


def test_sent_at_corrects_the_timestamp_and_the_future_is_clamped() -> None:
    call, clamped = parse(
        {"event": "x", "distinct_id": "d", "timestamp": "2026-03-02T14:59:00Z"},
        sent_at=datetime(2026, 3, 2, 15, 0, tzinfo=UTC),
    )
    assert clamped is None
    assert call.touchpoint is not None
    assert call.touchpoint.occurred_at == RECEIVED - timedelta(minutes=1)
    call, clamped = parse({"event": "x", "distinct_id": "d", "timestamp": "2026-04-01T00:00:00Z"})
    assert clamped == datetime(2026, 4, 1, tzinfo=UTC)
    assert call.touchpoint is not None
    assert call.touchpoint.occurred_at == RECEIVED
    assert call.touchpoint.properties["$clock_clamped_from"] == "2026-04-01T00:00:00+00:00"


@pytest.mark.parametrize(
    ("event", "code", "names"),
    [
        (["not", "an", "object"], "invalid_message", "JSON object"),
        ({"distinct_id": "d"}, "missing_event", "event"),
        ({"event": "x"}, "missing_identity", "distinct_id"),
        ({"event": "x", "distinct_id": "d", "properties": [1]}, "invalid_field", "properties"),
        (
            {"event": "$set", "distinct_id": "d", "properties": {"$set": "vip"}},
            "invalid_field",
            "$set",
        ),
        (
            {"event": "$set", "distinct_id": "d", "properties": {"$set": {"email": "nope"}}},
            "invalid_email",
            "$set.email",
        ),
        (
            {"event": "$groupidentify", "distinct_id": "d", "properties": {"$group_set": 1}},
            "invalid_field",
            "$group_set",
        ),
        ({"event": "x", "distinct_id": "d", "timestamp": "noon"}, "invalid_timestamp", "noon"),
        ({"event": "x", "distinct_id": "d" * 321}, "invalid_field", "distinct_id: 321 characters"),
        ({"event": "x", "distinct_id": "d", "uuid": "u" * 256}, "invalid_field", "uuid"),
        ({"event": "e" * 101, "distinct_id": "d"}, "invalid_field", "event"),
        (
            {
                "event": "$identify",
                "distinct_id": "d",
                "properties": {"$anon_distinct_id": "a" * 321},
            },
            "invalid_field",
            "properties.$anon_distinct_id",
        ),
        (
            {"event": "$set", "distinct_id": "d", "properties": {"$set": {"title": "t" * 256}}},
            "invalid_trait",
            "$set.title",
        ),
        ({"event": "x", "distinct_id": "d\x00"}, "invalid_field", "distinct_id: contains a NUL"),
        (
            {"event": "x", "distinct_id": "d", "properties": {"p": "x" * 40_000}},
            "message_too_large",
            "32 KB",
        ),
    ],
)
def test_a_bad_event_is_refused_naming_the_problem(event: Any, code: str, names: str) -> None:
    problem = refused(event)
    assert problem.code == code
    assert names in problem.message
