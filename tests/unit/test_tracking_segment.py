"""Segment messages (as Segment's and RudderStack's clients send them) parsed field by
field, and traits mapped onto lead and account fields."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from leadgate.adapters.tracking.payload import MAX_MESSAGE_BYTES, Rejected, Skipped
from leadgate.adapters.tracking.segment import Envelope, Parsed, parse_message
from leadgate.adapters.tracking.traits import account_from_traits, lead_from_traits
from leadgate.domain.identity import IdentityKey, IdentityKind
from leadgate.services.commands import AccountIn, LeadIn

RECEIVED = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
ENVELOPE = Envelope(received_at=RECEIVED, max_skew=timedelta(minutes=5))


def parse(
    message: dict[str, Any], envelope: Envelope = ENVELOPE, kind: str | None = None
) -> Parsed:
    return parse_message(message, envelope, kind)


def refused(message: Any, envelope: Envelope = ENVELOPE, kind: str | None = None) -> Rejected:
    with pytest.raises(Rejected) as info:
        parse_message(message, envelope, kind)
    return info.value


def email(value: str) -> IdentityKey:
    return IdentityKey(IdentityKind.EMAIL, value)


def user(value: str) -> IdentityKey:
    return IdentityKey(IdentityKind.USER_ID, value)


def anon(value: str) -> IdentityKey:
    return IdentityKey(IdentityKind.ANONYMOUS_ID, value)


# track ---------------------------------------------------------------------------------


def test_a_track_call_becomes_a_touchpoint_named_as_sent() -> None:
    parsed = parse(
        {
            "type": "track",
            "event": "Demo Requested",
            "userId": "u-1",
            "anonymousId": "a-1",
            "messageId": "m-1",
            "timestamp": "2026-03-01T09:30:00Z",
            "properties": {"plan": "pro", "seats": 12},
        }
    )
    call = parsed.call
    assert call.message_id == "m-1"
    assert call.keys == (user("u-1"), anon("a-1"))
    assert call.lead is None and call.account is None
    tp = call.touchpoint
    assert tp is not None
    # The alias table maps the name when it is stored; the parser keeps it as sent.
    assert tp.name == "Demo Requested"
    assert tp.message_id == "m-1"
    assert tp.occurred_at == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    assert tp.properties == {"plan": "pro", "seats": 12}
    assert (tp.user_id, tp.anonymous_id, tp.email) == ("u-1", "a-1", None)
    assert parsed.clamped_from is None


def test_the_endpoint_decides_the_type_for_single_calls() -> None:
    parsed = parse({"event": "Signed Up", "userId": "u-1", "messageId": "m"}, kind="track")
    assert parsed.call.touchpoint is not None
    assert parsed.call.touchpoint.name == "Signed Up"


def test_the_type_is_read_case_insensitively() -> None:
    parsed = parse({"type": "Track", "event": "x", "userId": "u"})
    assert parsed.call.touchpoint is not None


def test_numeric_ids_are_read_as_text() -> None:
    parsed = parse({"type": "track", "event": "x", "userId": 42, "messageId": 7})
    assert parsed.call.keys == (user("42"),)
    assert parsed.call.message_id == "7"


def test_an_email_in_context_traits_identifies_a_track_call() -> None:
    parsed = parse(
        {
            "type": "track",
            "event": "x",
            "anonymousId": "a-1",
            "context": {"traits": {"email": " Ann@Acme.IO "}},
        }
    )
    assert parsed.call.keys == (email("ann@acme.io"), anon("a-1"))
    assert parsed.call.touchpoint is not None
    assert parsed.call.touchpoint.email == "Ann@Acme.IO"  # normalised when stored


def test_the_campaign_in_context_becomes_utm() -> None:
    parsed = parse(
        {
            "type": "track",
            "event": "x",
            "userId": "u",
            "context": {"campaign": {"name": "spring", "source": "google", "medium": "cpc"}},
        }
    )
    assert parsed.call.touchpoint is not None
    assert parsed.call.touchpoint.properties["utm"] == {
        "campaign": "spring",
        "source": "google",
        "medium": "cpc",
    }


def test_batch_context_applies_and_the_message_context_wins() -> None:
    envelope = Envelope(
        received_at=RECEIVED,
        max_skew=timedelta(minutes=5),
        context={"campaign": {"name": "batch-wide"}, "traits": {"email": "ann@acme.io"}},
    )
    inherits = parse({"type": "track", "event": "x", "userId": "u"}, envelope)
    assert inherits.call.touchpoint is not None
    assert inherits.call.touchpoint.properties["utm"] == {"campaign": "batch-wide"}
    assert inherits.call.keys[0] == email("ann@acme.io")
    own = parse(
        {"type": "track", "event": "x", "userId": "u", "context": {"campaign": {"name": "own"}}},
        envelope,
    )
    assert own.call.touchpoint is not None
    assert own.call.touchpoint.properties["utm"] == {"campaign": "own"}


def test_batch_integrations_apply_and_the_message_integrations_win() -> None:
    off = Envelope(received_at=RECEIVED, max_skew=timedelta(0), integrations={"All": False})
    with pytest.raises(Skipped) as info:
        parse({"type": "track", "event": "x", "userId": "u"}, off)
    assert info.value.code == "integration_disabled"
    back_on = parse(
        {"type": "track", "event": "x", "userId": "u", "integrations": {"leadgate": True}}, off
    )
    assert back_on.call.touchpoint is not None


def test_a_message_without_an_id_gets_one_derived_from_its_content() -> None:
    message = {"type": "track", "event": "x", "userId": "u", "timestamp": "2026-03-01T09:00:00Z"}
    first, retry = parse(dict(message)), parse(dict(message))
    assert first.call.message_id == retry.call.message_id
    assert first.call.message_id.startswith("lg-")
    other = parse({**message, "timestamp": "2026-03-01T09:00:01Z"})
    assert other.call.message_id != first.call.message_id


def test_sent_at_corrects_the_timestamp() -> None:
    # The client's clock is an hour fast; the event happened a minute before sending.
    parsed = parse(
        {
            "type": "track",
            "event": "x",
            "userId": "u",
            "timestamp": "2026-03-02T12:59:00Z",
            "sentAt": "2026-03-02T13:00:00Z",
        }
    )
    assert parsed.call.touchpoint is not None
    assert parsed.call.touchpoint.occurred_at == RECEIVED - timedelta(minutes=1)


def test_the_batch_sent_at_applies_when_the_message_has_none() -> None:
    envelope = Envelope(
        received_at=RECEIVED,
        max_skew=timedelta(minutes=5),
        sent_at=datetime(2026, 3, 2, 13, 0, tzinfo=UTC),
    )
    parsed = parse(
        {"type": "track", "event": "x", "userId": "u", "timestamp": "2026-03-02T12:58:00Z"},
        envelope,
    )
    assert parsed.call.touchpoint is not None
    assert parsed.call.touchpoint.occurred_at == RECEIVED - timedelta(minutes=2)


def test_original_timestamp_is_read_when_timestamp_is_missing() -> None:
    parsed = parse(
        {"type": "track", "event": "x", "userId": "u", "originalTimestamp": "2026-03-01T08:00Z"}
    )
    assert parsed.call.touchpoint is not None
    assert parsed.call.touchpoint.occurred_at == datetime(2026, 3, 1, 8, tzinfo=UTC)


def test_a_future_timestamp_is_clamped_and_flagged_on_the_touchpoint() -> None:
    parsed = parse(
        {"type": "track", "event": "x", "userId": "u", "timestamp": "2026-03-09T12:00:00Z"}
    )
    assert parsed.clamped_from == datetime(2026, 3, 9, 12, tzinfo=UTC)
    tp = parsed.call.touchpoint
    assert tp is not None
    assert tp.occurred_at == RECEIVED
    assert tp.properties["$clock_clamped_from"] == "2026-03-09T12:00:00+00:00"


# page and screen -----------------------------------------------------------------------


def test_a_page_call_becomes_a_page_view_with_its_details() -> None:
    parsed = parse(
        {
            "type": "page",
            "anonymousId": "a-1",
            "name": "Pricing",
            "properties": {"title": "Plans"},
            "context": {
                "page": {
                    "path": "/pricing",
                    "url": "https://acme.io/pricing?ref=nav",
                    "title": "ignored: the call's own title wins",
                    "referrer": "https://google.com/",
                    "search": "?ref=nav",
                }
            },
        }
    )
    tp = parsed.call.touchpoint
    assert tp is not None
    assert tp.name == "page_view"
    assert tp.properties == {
        "title": "Plans",
        "path": "/pricing",
        "url": "https://acme.io/pricing?ref=nav",
        "referrer": "https://google.com/",
        "search": "?ref=nav",
        "name": "Pricing",
    }


def test_a_page_path_is_taken_from_its_url() -> None:
    parsed = parse(
        {"type": "page", "userId": "u", "properties": {"url": "https://acme.io/pricing/team"}}
    )
    assert parsed.call.touchpoint is not None
    assert parsed.call.touchpoint.properties["path"] == "/pricing/team"


def test_a_page_category_sent_by_the_client_is_kept() -> None:
    from_call = parse({"type": "page", "userId": "u", "category": "Docs", "properties": {}})
    assert from_call.call.touchpoint is not None
    assert from_call.call.touchpoint.properties["category"] == "Docs"
    from_props = parse({"type": "page", "userId": "u", "properties": {"category": "blog"}})
    assert from_props.call.touchpoint is not None
    assert from_props.call.touchpoint.properties["category"] == "blog"


def test_a_screen_call_becomes_a_screen_view() -> None:
    parsed = parse({"type": "screen", "userId": "u", "name": "Settings"})
    assert parsed.call.touchpoint is not None
    assert parsed.call.touchpoint.name == "screen_view"
    assert parsed.call.touchpoint.properties == {"name": "Settings"}


# identify, group, alias ----------------------------------------------------------------


def test_identify_sets_lead_traits_and_links_all_three_ids() -> None:
    parsed = parse(
        {
            "type": "identify",
            "userId": "u-1",
            "anonymousId": "a-1",
            "messageId": "m",
            "traits": {
                "email": "Ann@Acme.io",
                "firstName": "Ann",
                "lastName": "Lee",
                "title": "VP Marketing",
                "plan": "pro",
            },
        }
    )
    call = parsed.call
    assert call.keys == (email("ann@acme.io"), user("u-1"), anon("a-1"))
    assert call.touchpoint is None
    assert call.lead == LeadIn(
        first_name="Ann", last_name="Lee", title="VP Marketing", traits={"plan": "pro"}
    )
    assert call.account is None


def test_identify_reads_rudderstack_traits_from_context() -> None:
    parsed = parse(
        {
            "type": "identify",
            "userId": "u-1",
            "context": {"traits": {"email": "ann@acme.io", "title": "CTO"}},
            "traits": {"title": "VP"},
        }
    )
    assert parsed.call.keys[0] == email("ann@acme.io")
    assert parsed.call.lead is not None
    assert parsed.call.lead.title == "VP"  # the message's own traits win


def test_identify_with_a_company_names_the_account() -> None:
    parsed = parse(
        {
            "type": "identify",
            "userId": "u-1",
            "traits": {"company": {"name": "Acme", "website": "https://www.acme.io/"}},
        }
    )
    assert parsed.call.account == AccountIn(domain="acme.io", name="Acme")


def test_group_sets_account_traits() -> None:
    parsed = parse(
        {
            "type": "group",
            "userId": "u-1",
            "groupId": "g-77",
            "traits": {"domain": "acme.io", "industry": "software", "employees": "1,200"},
        }
    )
    assert parsed.call.keys == (user("u-1"),)
    assert parsed.call.touchpoint is None and parsed.call.lead is None
    assert parsed.call.account == AccountIn(domain="acme.io", industry="software", employees=1200)


def test_a_group_id_that_is_a_domain_keys_the_account() -> None:
    parsed = parse({"type": "group", "userId": "u", "groupId": "Acme.io", "traits": {}})
    assert parsed.call.account == AccountIn(domain="acme.io")


def test_alias_ties_the_previous_id_to_the_user() -> None:
    parsed = parse({"type": "alias", "previousId": "a-1", "userId": "u-1"})
    assert set(parsed.call.keys) == {user("u-1"), user("a-1"), anon("a-1")}
    assert parsed.call.keys[0] == user("u-1")
    assert parsed.call.touchpoint is None


# refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "code", "names"),
    [
        ("a string", "invalid_message", "JSON object"),
        ({"event": "x", "userId": "u"}, "missing_type", "type is required"),
        ({"type": "purchase", "userId": "u"}, "invalid_type", "'purchase'"),
        ({"type": "track", "event": "x"}, "missing_identity", "userId or anonymousId"),
        ({"type": "track", "event": "x", "userId": "  "}, "missing_identity", "userId"),
        ({"type": "track", "userId": "u"}, "missing_event", "event is required"),
        ({"type": "track", "userId": "u", "event": ""}, "missing_event", "event"),
        (
            {"type": "identify", "userId": "u", "traits": {"email": "not-an-email"}},
            "invalid_email",
            "traits.email",
        ),
        (
            {"type": "track", "event": "x", "userId": "u", "timestamp": "last tuesday"},
            "invalid_timestamp",
            "timestamp",
        ),
        (
            {"type": "track", "event": "x", "userId": "u", "sentAt": "soon"},
            "invalid_timestamp",
            "sentAt",
        ),
        (
            {"type": "track", "event": "x", "userId": "u", "properties": ["a"]},
            "invalid_field",
            "properties",
        ),
        ({"type": "page", "userId": "u", "properties": "x"}, "invalid_field", "properties"),
        ({"type": "track", "event": "x", "userId": "u", "context": 3}, "invalid_field", "context"),
        (
            {"type": "identify", "userId": "u", "traits": "vip"},
            "invalid_field",
            "traits",
        ),
        ({"type": "group", "userId": "u", "groupId": "g-1"}, "missing_domain", "traits.domain"),
        (
            {"type": "group", "userId": "u", "traits": {"website": "not a domain"}},
            "invalid_domain",
            "traits.domain",
        ),
        (
            {"type": "group", "userId": "u", "traits": {"domain": "acme.io", "employees": "lots"}},
            "invalid_trait",
            "traits.employees",
        ),
        ({"type": "alias", "userId": "u"}, "missing_identity", "previousId"),
        ({"type": "alias", "userId": "u", "previousId": "p" * 321}, "invalid_field", "previousId"),
        ({"type": "track", "event": "e" * 101, "userId": "u"}, "invalid_field", "event: 101"),
        ({"type": "track", "event": "x", "anonymousId": "a" * 321}, "invalid_field", "anonymousId"),
        (
            {"type": "track", "event": "x", "userId": "u", "messageId": "m" * 256},
            "invalid_field",
            "messageId: 256 characters; the limit is 255",
        ),
        (
            {"type": "track", "event": "x", "userId": "u", "context": {"traits": {"email": "x"}}},
            "invalid_email",
            "email",
        ),
        (
            {
                "type": "track",
                "event": "x",
                "anonymousId": "a",
                "context": {"traits": {"email": "a" * 250 + "@b.io"}},
            },
            "invalid_email",
            "context.traits.email",
        ),
        (
            {"type": "identify", "userId": "u", "traits": {"department": "d" * 101}},
            "invalid_trait",
            "traits.department: 101 characters; the limit is 100",
        ),
        (
            {"type": "track", "event": "x\x00", "userId": "u"},
            "invalid_field",
            "event: contains a NUL",
        ),
        ({"type": "alias", "anonymousId": "a", "previousId": "p"}, "missing_identity", "userId"),
        (
            {"type": "track", "event": "x", "userId": "u", "properties": {"p": "x" * 40_000}},
            "message_too_large",
            "32 KB",
        ),
    ],
)
def test_a_bad_message_is_refused_naming_the_problem(message: Any, code: str, names: str) -> None:
    problem = refused(message)
    assert problem.code == code
    assert names in problem.message


def test_the_size_limit_counts_the_whole_message() -> None:
    fits = {"type": "track", "event": "x", "userId": "u", "properties": {"p": ""}}
    room = MAX_MESSAGE_BYTES - len(orjson.dumps(fits))
    parse({**fits, "properties": {"p": "x" * room}})
    assert refused({**fits, "properties": {"p": "x" * (room + 1)}}).code == "message_too_large"


# traits → lead -------------------------------------------------------------------------


def test_lead_traits_are_matched_in_any_case_style() -> None:
    lead, account = lead_from_traits(
        {
            "first_name": "Ann",
            "LastName": "Lee",
            "Job Title": "Head of Growth",
            "seniority": "vp",
            "department": "marketing",
            "persona": "champion",
            "country": "DE",
            "source": "webinar",
            "campaign": "spring",
            "owner": "rep@us.io",
        }
    )
    assert lead == LeadIn(
        first_name="Ann",
        last_name="Lee",
        title="Head of Growth",
        seniority="vp",
        department="marketing",
        persona="champion",
        country="DE",
        source_channel="webinar",
        source_campaign="spring",
        owner="rep@us.io",
    )
    assert account is None


@pytest.mark.parametrize(
    ("name", "first", "last"),
    [("Ann Lee", "Ann", "Lee"), ("Ann", "Ann", None), ("Mary Ann Smith", "Mary", "Ann Smith")],
)
def test_a_full_name_is_split(name: str, first: str, last: str | None) -> None:
    lead, _ = lead_from_traits({"name": name})
    assert (lead.first_name, lead.last_name) == (first, last)


def test_explicit_first_and_last_names_beat_the_full_name() -> None:
    lead, _ = lead_from_traits({"name": "Annie L", "firstName": "Ann"})
    assert (lead.first_name, lead.last_name) == ("Ann", None)


def test_ids_are_not_kept_as_traits_and_the_rest_are_in_snake_case() -> None:
    lead, _ = lead_from_traits(
        {
            "email": "ann@acme.io",
            "id": "u-1",
            "userId": "u-1",
            "planName": "pro",
            "Trial Days": 14,
            "nothing": None,
        }
    )
    assert lead.traits == {"plan_name": "pro", "trial_days": 14}


def test_a_country_in_the_address_is_used() -> None:
    lead, _ = lead_from_traits({"address": {"city": "Berlin", "country": "DE"}})
    assert lead.country == "DE"
    assert "address" not in lead.traits


def test_a_company_object_names_the_account_and_a_company_name_is_a_trait() -> None:
    _, account = lead_from_traits(
        {"company": {"name": "Acme", "domain": "acme.io", "employee_count": 250, "plan": "x"}}
    )
    assert account == AccountIn(domain="acme.io", name="Acme", employees=250, traits={"plan": "x"})
    lead, account = lead_from_traits({"company": "Acme Inc"})
    assert account is None
    assert lead.traits == {"company": "Acme Inc"}


def test_a_company_without_a_domain_names_no_account() -> None:
    _, account = lead_from_traits({"company": {"name": "Acme"}})
    assert account is None


def test_a_bad_number_in_the_company_names_the_field() -> None:
    with pytest.raises(Rejected) as info:
        lead_from_traits({"company": {"domain": "acme.io", "employees": "many"}})
    assert info.value.code == "invalid_trait"
    assert info.value.message.startswith("traits.company.employees:")


# traits → account ----------------------------------------------------------------------


def test_account_traits_map_to_firmographics() -> None:
    account = account_from_traits(
        {
            "website": "https://www.Acme.io/about",
            "companyName": "Acme",
            "industry": "software",
            "numberOfEmployees": "1,200",
            "annualRevenue": "12,500,000.50",
            "address": {"country": "US"},
            "region": "NA",
            "techStack": "Salesforce, HubSpot",
            "owner": "rep@us.io",
            "plan": "enterprise",
        },
        "traits",
    )
    assert account == AccountIn(
        domain="acme.io",
        name="Acme",
        industry="software",
        employees=1200,
        annual_revenue=12_500_000.5,
        country="US",
        region="NA",
        technographics=("salesforce", "hubspot"),
        owner="rep@us.io",
        traits={"plan": "enterprise"},
    )


def test_technographics_may_be_a_list() -> None:
    account = account_from_traits({"domain": "acme.io", "technologies": ["Slack", " "]}, "traits")
    assert account is not None
    assert account.technographics == ("slack",)


def test_a_group_key_that_is_not_a_domain_is_not_used() -> None:
    with pytest.raises(Rejected) as info:
        account_from_traits({}, "traits", fallback_domain="group-77")
    assert info.value.code == "missing_domain"


@pytest.mark.parametrize(
    ("traits", "field"),
    [
        ({"employees": "1.2k"}, "traits.employees"),
        ({"employees": True}, "traits.employees"),
        ({"employees": "NaN"}, "traits.employees"),
        ({"employees": "inf"}, "traits.employees"),
        ({"employees": -5}, "traits.employees"),
        ({"employees": 10**12}, "traits.employees"),
        ({"annual_revenue": "a lot"}, "traits.annual_revenue"),
        ({"revenue": "Infinity"}, "traits.annual_revenue"),
        ({"technographics": 5}, "traits.technographics"),
    ],
)
def test_a_bad_firmographic_is_refused_naming_the_field(traits: dict[str, Any], field: str) -> None:
    with pytest.raises(Rejected) as info:
        account_from_traits({"domain": "acme.io", **traits}, "traits")
    assert info.value.code == "invalid_trait"
    assert info.value.message.startswith(f"{field}:")
