"""Who did what, through the app in this process: anonymous history joining the identified
lead, merges, alias, group, and PostHog's person events, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from leadgate.adapters.db import tables as t
from leadgate.adapters.model_yaml import load_model
from leadgate.domain.leads import Lead
from leadgate.domain.lifecycle import Stage
from leadgate.domain.scoring import score_lead
from leadgate.domain.touchpoints import Touchpoint
from leadgate.models import default_model_text
from leadgate.services.commands import ChangeStage
from leadgate.services.lifecycle import change_stage
from tests.http.conftest import AppServer

MODEL = load_model(default_model_text())


def send(server: AppServer, path: str, body: dict[str, Any]) -> dict[str, Any]:
    with server.client(server.track_key) as http:
        response: httpx.Response = http.post(path, json=body)
    assert response.status_code == 200, response.text
    assert response.json()["rejected"] == []
    return dict(response.json())


def batch(server: AppServer, *messages: dict[str, Any]) -> dict[str, Any]:
    return send(server, "/v1/batch", {"batch": list(messages)})


def rows(server: AppServer, table: t.Table, *where: Any) -> list[Any]:
    with server.app.engine.connect() as connection:
        return list(connection.execute(select(table).where(*where)).all())


def count(server: AppServer, table: t.Table) -> int:
    with server.app.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def lead_of(server: AppServer, kind: str, value: str) -> int:
    (row,) = rows(server, t.identities, t.identities.c.kind == kind, t.identities.c.value == value)
    return int(row.lead_id)


def page(mid: str, path: str, at: datetime, **ids: Any) -> dict[str, Any]:
    return {
        "type": "page",
        "messageId": mid,
        "timestamp": at.isoformat(),
        "properties": {"path": path},
        **ids,
    }


def expected_engagement(visits: list[tuple[datetime, str, str]], at: datetime) -> float:
    """What the default model gives these (time, name, category) touchpoints at ``at``."""
    history = [
        Touchpoint(f"x{i}", name, when, {"category": category} if category else {})
        for i, (when, name, category) in enumerate(visits)
    ]
    return score_lead(Lead(id=1), history, MODEL, at, explain=False).engagement


def test_anonymous_page_views_then_identify_make_one_scored_lead(app_server: AppServer) -> None:
    now = datetime.now(UTC)
    visits = [
        (now - timedelta(days=12), "/pricing"),
        (now - timedelta(days=5), "/pricing/enterprise"),
        (now - timedelta(days=1), "/product/tour"),
    ]
    for i, (when, path) in enumerate(visits):
        batch(app_server, page(f"p{i}", path, when, anonymousId="anon-1"))
    batch(
        app_server,
        {
            "type": "identify",
            "messageId": "id-1",
            "userId": "u-1",
            "anonymousId": "anon-1",
            "traits": {"email": "ann@acme.io", "name": "Ann Lee", "title": "VP Sales"},
        },
    )
    (lead,) = rows(app_server, t.leads)
    assert (lead.email, lead.first_name, lead.last_name, lead.title) == (
        "ann@acme.io",
        "Ann",
        "Lee",
        "VP Sales",
    )
    touchpoints = rows(app_server, t.touchpoints)
    assert {r.lead_id for r in touchpoints} == {lead.id}
    assert sorted(r.occurred_at for r in touchpoints) == [w for w, _ in visits]
    (score,) = rows(app_server, t.scores)
    expected = expected_engagement(
        [
            (visits[0][0], "page_view", "pricing"),
            (visits[1][0], "page_view", "pricing"),
            (visits[2][0], "page_view", "product"),
        ],
        score.scored_at,
    )
    assert score.engagement == pytest.approx(expected)
    assert score.engagement > 10  # two pricing views and a product page, decayed


def test_an_anonymous_lead_and_a_known_lead_are_merged_on_identify(
    app_server: AppServer,
) -> None:
    now = datetime.now(UTC)
    batch(
        app_server,
        page("p1", "/pricing", now - timedelta(days=3), anonymousId="anon-1"),
        page("p2", "/pricing", now - timedelta(days=2), anonymousId="anon-1"),
        {
            "type": "identify",
            "messageId": "id-0",
            "userId": "u-1",
            "traits": {"email": "ann@acme.io", "seniority": "vp", "department": "sales"},
        },
        {
            "type": "track",
            "messageId": "t1",
            "userId": "u-1",
            "event": "Webinar Attended",
            "timestamp": (now - timedelta(days=1)).isoformat(),
        },
    )
    visitor, person = (
        lead_of(app_server, "anonymous_id", "anon-1"),
        lead_of(app_server, "user_id", "u-1"),
    )
    assert visitor != person
    change_stage(
        app_server.app.uow(),
        ChangeStage(visitor, Stage.DISQUALIFIED, "looked like a bot", "sam", override=True),
        now=now - timedelta(hours=12),
    )
    assert {r.lead_id for r in rows(app_server, t.scores)} == {visitor, person}

    batch(
        app_server,
        {
            "type": "identify",
            "messageId": "id-1",
            "anonymousId": "anon-1",
            "traits": {"email": "Ann@Acme.io"},
        },
    )
    assert [r.id for r in rows(app_server, t.leads)] == [person]
    assert {r.message_id: r.lead_id for r in rows(app_server, t.touchpoints)} == {
        "p1": person,
        "p2": person,
        "t1": person,
    }
    assert {r.lead_id for r in rows(app_server, t.identities)} == {person}
    assert count(app_server, t.identities) == 3
    transitions = rows(app_server, t.transitions)
    assert {r.lead_id for r in transitions} == {person}
    assert "looked like a bot" in {r.reason for r in transitions}
    # The visitor's pricing views took the survivor over the MQL gate (60): it was rescored.
    assert [r.to_stage for r in transitions if r.reason != "looked like a bot"] == ["mql"]
    (merge,) = rows(app_server, t.lead_merges)
    assert (merge.merged_id, merge.into_id) == (visitor, person)
    (score,) = rows(app_server, t.scores)
    assert score.lead_id == person
    expected = expected_engagement(
        [
            (now - timedelta(days=3), "page_view", "pricing"),
            (now - timedelta(days=2), "page_view", "pricing"),
            (now - timedelta(days=1), "webinar_attended", ""),
        ],
        score.scored_at,
    )
    assert score.engagement == pytest.approx(expected)


def test_alias_merges_the_previous_id(app_server: AppServer) -> None:
    now = datetime.now(UTC)
    batch(
        app_server,
        page("p1", "/pricing", now - timedelta(hours=3), anonymousId="cookie-7"),
        {
            "type": "identify",
            "messageId": "id-1",
            "userId": "u-7",
            "traits": {"email": "bo@beta.io"},
        },
    )
    visitor, person = (
        lead_of(app_server, "anonymous_id", "cookie-7"),
        lead_of(app_server, "user_id", "u-7"),
    )
    send(app_server, "/v1/alias", {"previousId": "cookie-7", "userId": "u-7", "messageId": "al-1"})
    assert [r.id for r in rows(app_server, t.leads)] == [person]
    assert [r.lead_id for r in rows(app_server, t.touchpoints)] == [person]
    assert [(r.merged_id, r.into_id) for r in rows(app_server, t.lead_merges)] == [
        (visitor, person)
    ]
    (score,) = rows(app_server, t.scores)
    assert score.lead_id == person and score.engagement > 9


def test_two_leads_with_emails_are_not_merged(app_server: AppServer) -> None:
    batch(
        app_server,
        {
            "type": "identify",
            "messageId": "i1",
            "userId": "u-ann",
            "traits": {"email": "ann@acme.io"},
        },
        {
            "type": "identify",
            "messageId": "i2",
            "anonymousId": "a-bob",
            "traits": {"email": "bob@acme.io"},
        },
    )
    response = batch(
        app_server,
        {"type": "identify", "messageId": "i3", "userId": "u-ann", "anonymousId": "a-bob"},
        {
            "type": "identify",
            "messageId": "i4",
            "anonymousId": "a-bob",
            "traits": {"email": "cat@acme.io"},
        },
    )
    assert response["accepted"] == 2
    assert {r.email for r in rows(app_server, t.leads)} == {
        "ann@acme.io",
        "bob@acme.io",
        "cat@acme.io",
    }
    assert count(app_server, t.lead_merges) == 0
    assert lead_of(app_server, "anonymous_id", "a-bob") == lead_of(
        app_server, "email", "bob@acme.io"
    )


def test_a_chain_inside_one_batch_ends_on_one_lead(app_server: AppServer) -> None:
    now = datetime.now(UTC)
    batch(
        app_server,
        page("p1", "/pricing", now - timedelta(minutes=30), anonymousId="A"),
        {
            "type": "track",
            "messageId": "t1",
            "userId": "U",
            "event": "Demo Requested",
            "context": {"traits": {"email": "ann@acme.io"}},
        },
        {
            "type": "identify",
            "messageId": "i1",
            "anonymousId": "A",
            "traits": {"email": "ann@acme.io"},
        },
        {"type": "identify", "messageId": "i2", "userId": "U", "anonymousId": "A"},
    )
    (lead,) = rows(app_server, t.leads)
    assert lead.email == "ann@acme.io"
    assert {r.lead_id for r in rows(app_server, t.touchpoints)} == {lead.id}
    assert {(r.kind, r.value) for r in rows(app_server, t.identities)} == {
        ("anonymous_id", "A"),
        ("user_id", "U"),
        ("email", "ann@acme.io"),
    }
    assert count(app_server, t.lead_merges) == 0


def test_group_sets_account_traits_links_the_lead_and_rescores_colleagues(
    app_server: AppServer,
) -> None:
    batch(
        app_server,
        {
            "type": "identify",
            "messageId": "i1",
            "userId": "u-ann",
            "traits": {"email": "ann@gmail.com", "seniority": "vp"},
        },
        {
            "type": "identify",
            "messageId": "i2",
            "userId": "u-bob",
            "traits": {"email": "bob@acme.io", "seniority": "director"},
        },
    )
    bob = lead_of(app_server, "email", "bob@acme.io")
    (before,) = rows(app_server, t.scores, t.scores.c.lead_id == bob)
    send(
        app_server,
        "/v1/group",
        {
            "userId": "u-ann",
            "groupId": "acme.io",
            "messageId": "g1",
            "traits": {
                "name": "Acme",
                "industry": "fintech",
                "employees": "1,200",
                "region": "NA",
                "technographics": ["Salesforce"],
            },
        },
    )
    (account,) = rows(app_server, t.accounts)
    assert (account.name, account.industry, account.employees, account.region) == (
        "Acme",
        "fintech",
        1200,
        "NA",
    )
    assert account.technographics == ["salesforce"]
    assert {r.account_id for r in rows(app_server, t.leads)} == {account.id}
    (after,) = rows(app_server, t.scores, t.scores.c.lead_id == bob)
    assert after.fit == before.fit + 10 + 10 + 5 + 5  # industry, size, region, CRM
    assert after.scored_at > before.scored_at


# PostHog -----------------------------------------------------------------------------------


def capture(server: AppServer, *events: dict[str, Any]) -> dict[str, Any]:
    return send(server, "/batch/", {"api_key": server.track_key, "batch": list(events)})


def test_posthog_pageviews_then_identify_join_one_lead(app_server: AppServer) -> None:
    now = datetime.now(UTC)
    capture(
        app_server,
        {
            "event": "$pageview",
            "distinct_id": "ph-anon",
            "uuid": "v1",
            "timestamp": (now - timedelta(days=2)).isoformat(),
            "properties": {"$current_url": "https://www.acme-site.com/pricing/enterprise?x=1"},
        },
        {
            "event": "$pageview",
            "distinct_id": "ph-anon",
            "uuid": "v2",
            "properties": {"$current_url": "https://www.acme-site.com/"},
        },
    )
    views = {r.message_id: r for r in rows(app_server, t.touchpoints)}
    assert {m: (r.name, r.properties.get("category")) for m, r in views.items()} == {
        "v1": ("page_view", "pricing"),
        "v2": ("page_view", None),
    }
    assert views["v1"].properties["url"] == "https://www.acme-site.com/pricing/enterprise?x=1"
    capture(
        app_server,
        {
            "event": "$identify",
            "distinct_id": "ann@acme.io",
            "uuid": "i1",
            "properties": {
                "$anon_distinct_id": "ph-anon",
                "$set": {"email": "ann@acme.io", "title": "CMO"},
            },
        },
    )
    (lead,) = rows(app_server, t.leads)
    assert (lead.email, lead.title) == ("ann@acme.io", "CMO")
    assert {r.lead_id for r in rows(app_server, t.touchpoints)} == {lead.id}
    assert {r.occurred_at for r in rows(app_server, t.touchpoints) if r.message_id == "v1"} == {
        datetime.fromisoformat((now - timedelta(days=2)).isoformat())
    }


def test_posthog_identify_merges_an_existing_anonymous_lead(app_server: AppServer) -> None:
    capture(
        app_server,
        {
            "event": "$pageview",
            "distinct_id": "ph-anon",
            "uuid": "v1",
            "properties": {"$current_url": "https://acme.io/pricing"},
        },
        {
            "event": "$set",
            "distinct_id": "u-42",
            "uuid": "s1",
            "properties": {"$set": {"email": "ann@acme.io", "seniority": "vp"}},
        },
    )
    visitor, person = (
        lead_of(app_server, "user_id", "ph-anon"),
        lead_of(app_server, "user_id", "u-42"),
    )
    capture(
        app_server,
        {
            "event": "$identify",
            "distinct_id": "u-42",
            "uuid": "i1",
            "properties": {"$anon_distinct_id": "ph-anon"},
        },
    )
    assert [r.id for r in rows(app_server, t.leads)] == [person]
    assert [(r.merged_id, r.into_id) for r in rows(app_server, t.lead_merges)] == [
        (visitor, person)
    ]
    (lead,) = rows(app_server, t.leads)
    assert lead.seniority == "vp"


@pytest.mark.parametrize("previous", ["anon-x", "u-x"], ids=["from-anonymous", "from-user"])
def test_posthog_create_alias_merges(app_server: AppServer, previous: str) -> None:
    """posthog-python's alias(previous_id, distinct_id) sends the previous id as the
    event's distinct_id and the new one as ``alias``; either way round, the anonymous lead
    is merged into the one with an email."""
    capture(
        app_server,
        {"event": "Signed Up", "distinct_id": "anon-x", "uuid": "e1"},
        {"event": "$set", "distinct_id": "u-x", "uuid": "s1", "$set": {"email": "x@beta.io"}},
    )
    visitor, person = (
        lead_of(app_server, "user_id", "anon-x"),
        lead_of(app_server, "user_id", "u-x"),
    )
    capture(
        app_server,
        {
            "event": "$create_alias",
            "distinct_id": previous,
            "uuid": "a1",
            "properties": {
                "distinct_id": previous,
                "alias": "u-x" if previous == "anon-x" else "anon-x",
            },
        },
    )
    assert [r.id for r in rows(app_server, t.leads)] == [person]
    assert [r.lead_id for r in rows(app_server, t.touchpoints)] == [person]
    assert [(r.merged_id, r.into_id) for r in rows(app_server, t.lead_merges)] == [
        (visitor, person)
    ]
    assert count(app_server, t.touchpoints) == 1  # an alias is not a touchpoint


def test_posthog_groupidentify_sets_the_account_and_creates_no_lead(
    app_server: AppServer,
) -> None:
    capture(
        app_server,
        {
            "event": "$groupidentify",
            "distinct_id": "$company_acme.io",
            "uuid": "g1",
            "properties": {
                "$group_type": "company",
                "$group_key": "acme.io",
                "$group_set": {"name": "Acme", "industry": "software", "employees": 80},
            },
        },
    )
    assert count(app_server, t.leads) == 0
    assert count(app_server, t.touchpoints) == 0
    (account,) = rows(app_server, t.accounts)
    assert (account.domain, account.name, account.industry, account.employees) == (
        "acme.io",
        "Acme",
        "software",
        80,
    )
    # A person who later sets an acme.io email joins it and gets its fit.
    capture(
        app_server,
        {
            "event": "$set",
            "distinct_id": "u-1",
            "uuid": "s1",
            "properties": {"$set": {"email": "ann@acme.io"}},
        },
    )
    (lead,) = rows(app_server, t.leads)
    assert lead.account_id == account.id
    (score,) = rows(app_server, t.scores)
    assert score.fit == 10 + 10  # software, 50-5,000 employees
