"""Identity resolution and merging for tracking calls, on SQLite and PostgreSQL.

The rules (docs/tracking.md, "Identity and merging"): an anonymous lead is merged into
the identified lead a call ties it to, its touchpoints counting there at their original
times; two leads that both have an email are never merged; chains of links inside one
batch end on one lead; a group call sets the account's traits and rescores everyone at it.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from leadgate.adapters.db import tables as t
from leadgate.adapters.model_yaml import load_model
from leadgate.adapters.tracking.segment import Envelope, parse_message
from leadgate.domain.leads import Lead
from leadgate.domain.lifecycle import Stage
from leadgate.domain.scoring import score_lead
from leadgate.domain.touchpoints import Touchpoint
from leadgate.models import default_model_text
from leadgate.services.commands import ChangeStage, TrackedCall
from leadgate.services.identities import resolve_leads
from leadgate.services.lifecycle import change_stage
from leadgate.services.retry import retry_on_conflict
from leadgate.services.tracking import TrackResult, record_calls
from tests.conftest import T0
from tests.integration.helpers import UowFactory

MODEL = load_model(default_model_text())
pytestmark = pytest.mark.usefixtures("default_model")


def calls(*messages: dict[str, Any], now: datetime = T0) -> list[TrackedCall]:
    """Segment messages as the /v1/batch endpoint parses them."""
    envelope = Envelope(received_at=now, max_skew=timedelta(minutes=5))
    return [parse_message(m, envelope).call for m in messages]


def send(uow_factory: UowFactory, *messages: dict[str, Any], now: datetime = T0) -> TrackResult:
    return record_calls(uow_factory(), calls(*messages, now=now), now=now)


def page(mid: str, path: str, at: datetime, **ids: str) -> dict[str, Any]:
    return {
        "type": "page",
        "messageId": mid,
        "timestamp": at.isoformat(),
        "properties": {"path": path},
        **ids,
    }


def track(mid: str, event: str, at: datetime, **ids: Any) -> dict[str, Any]:
    return {"type": "track", "messageId": mid, "event": event, "timestamp": at.isoformat(), **ids}


def identify(mid: str, email: str | None = None, **ids: Any) -> dict[str, Any]:
    traits = ids.pop("traits", {})
    if email is not None:
        traits = {**traits, "email": email}
    return {"type": "identify", "messageId": mid, "traits": traits, **ids}


def rows(engine: Engine, table: t.Table, *where: Any) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(select(table).where(*where)).all())


def count(engine: Engine, table: t.Table) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def lead_of(engine: Engine, kind: str, value: str) -> int:
    (row,) = rows(engine, t.identities, t.identities.c.kind == kind, t.identities.c.value == value)
    return int(row.lead_id)


def engagement_of(times_and_paths: list[tuple[datetime, str]], at: datetime) -> float:
    """The engagement the default model gives pricing/product views at these times."""
    history = [
        Touchpoint(f"x{i}", "page_view", when, {"path": path, "category": category})
        for i, (when, path) in enumerate(times_and_paths)
        for category in ["pricing" if path.startswith("/pricing") else "product"]
    ]
    return score_lead(Lead(id=1), history, MODEL, at, explain=False).engagement


VISITS = [
    (T0 - timedelta(days=20), "/pricing"),
    (T0 - timedelta(days=9), "/product/tour"),
    (T0 - timedelta(days=2), "/pricing/enterprise"),
]


def test_an_anonymous_history_becomes_the_identified_leads_at_its_original_times(
    uow_factory: UowFactory, engine: Engine
) -> None:
    for i, (when, path) in enumerate(VISITS):
        send(uow_factory, page(f"p{i}", path, when, anonymousId="a-1"), now=when)
    assert count(engine, t.leads) == 1
    (anonymous,) = rows(engine, t.leads)
    assert anonymous.email is None

    result = send(
        uow_factory,
        identify(
            "id-1",
            "Ann@Acme.io",
            userId="u-1",
            anonymousId="a-1",
            traits={"title": "VP Marketing", "seniority": "vp", "department": "marketing"},
        ),
    )
    assert (result.leads_created, result.leads_merged) == (0, 0)
    # The anonymous lead simply gained the email and user id: nothing moved.
    (lead,) = rows(engine, t.leads)
    assert lead.id == anonymous.id
    assert (lead.email, lead.title, lead.seniority) == ("ann@acme.io", "VP Marketing", "vp")
    assert {(r.kind, r.value) for r in rows(engine, t.identities)} == {
        ("anonymous_id", "a-1"),
        ("user_id", "u-1"),
        ("email", "ann@acme.io"),
    }
    (account,) = rows(engine, t.accounts)
    assert (lead.account_id, account.domain) == (account.id, "acme.io")
    stored = rows(engine, t.touchpoints)
    assert sorted(r.occurred_at for r in stored) == [when for when, _ in VISITS]
    assert {r.lead_id for r in stored} == {lead.id}
    (score,) = rows(engine, t.scores)
    assert score.scored_at == T0
    assert score.engagement == pytest.approx(engagement_of(VISITS, T0))
    assert score.engagement > 0
    assert score.fit == 25  # vp (15) + marketing (10); the account has no firmographics yet


def test_two_leads_of_one_person_are_merged_with_everything_they_had(
    uow_factory: UowFactory, engine: Engine
) -> None:
    # The visitor browses anonymously ...
    for i, (when, path) in enumerate(VISITS):
        send(uow_factory, page(f"p{i}", path, when, anonymousId="a-1"), now=when)
    visitor = lead_of(engine, "anonymous_id", "a-1")
    change_stage(
        uow_factory(),
        ChangeStage(visitor, Stage.DISQUALIFIED, "bot traffic?", "sam", override=True),
        now=T0 - timedelta(days=1),
    )
    # ... and, separately, fills a form with her email on another device.
    send(
        uow_factory,
        track("f1", "Form Submitted", T0 - timedelta(hours=5), userId="u-1"),
        identify("id-0", "ann@acme.io", userId="u-1"),
        now=T0 - timedelta(hours=5),
    )
    person = lead_of(engine, "email", "ann@acme.io")
    assert person != visitor
    assert count(engine, t.scores) == 2

    # Then she identifies on the first device: the two leads are one person.
    result = send(uow_factory, identify("id-1", "ann@acme.io", anonymousId="a-1"))
    assert result.leads_merged == 1

    assert [r.id for r in rows(engine, t.leads)] == [person]
    assert {r.lead_id for r in rows(engine, t.touchpoints)} == {person}
    assert count(engine, t.touchpoints) == 4
    assert {(r.kind, r.value, r.lead_id) for r in rows(engine, t.identities)} == {
        ("anonymous_id", "a-1", person),
        ("user_id", "u-1", person),
        ("email", "ann@acme.io", person),
    }
    (moved,) = rows(engine, t.transitions)
    assert (moved.lead_id, moved.to_stage, moved.reason) == (person, "disqualified", "bot traffic?")
    (merge,) = rows(engine, t.lead_merges)
    assert (merge.merged_id, merge.into_id, merge.merged_at) == (visitor, person, T0)
    # The merged lead's score row is gone; the survivor is rescored with the whole history.
    (score,) = rows(engine, t.scores)
    assert (score.lead_id, score.scored_at) == (person, T0)
    form = 10  # form_submit, five hours old: decay is negligible but not nil
    assert score.engagement == pytest.approx(engagement_of(VISITS, T0) + form, abs=0.1)


def test_alias_merges_the_previous_id_into_the_user(
    uow_factory: UowFactory, engine: Engine
) -> None:
    send(
        uow_factory,
        page("p1", "/pricing", T0 - timedelta(days=1), anonymousId="cookie-1"),
        identify("id-1", "bob@beta.io", userId="u-9"),
        now=T0 - timedelta(days=1),
    )
    visitor, person = lead_of(engine, "anonymous_id", "cookie-1"), lead_of(engine, "user_id", "u-9")
    assert visitor != person

    result = send(uow_factory, {"type": "alias", "previousId": "cookie-1", "userId": "u-9"})
    assert result.leads_merged == 1
    assert [r.id for r in rows(engine, t.leads)] == [person]
    assert [r.lead_id for r in rows(engine, t.touchpoints)] == [person]
    assert [(r.merged_id, r.into_id) for r in rows(engine, t.lead_merges)] == [(visitor, person)]


@pytest.mark.parametrize("same_batch", [False, True], ids=["known-leads", "one-batch"])
def test_an_anonymous_lead_named_first_still_merges_into_the_identified_one(
    uow_factory: UowFactory, engine: Engine, same_batch: bool
) -> None:
    """Calls whose first id is the anonymous one (PostHog's $create_alias sends the
    previous, anonymous id as distinct_id; an identify whose userId lead is still
    anonymous while its anonymousId's lead has an email) tie the anonymous lead to the
    identified one, which survives."""
    early = T0 - timedelta(days=1)
    history = [
        page("p1", "/pricing", early, userId="ph-anon"),
        identify("id-1", "ann@acme.io", anonymousId="cookie"),
        track("t1", "Signed Up", early, userId="u-ann"),
    ]
    ties = [
        {"type": "alias", "userId": "ph-anon", "previousId": "u-ann"},  # anonymous first
        identify("id-2", userId="ph-anon", anonymousId="cookie"),
    ]
    if same_batch:
        send(uow_factory, *history, *ties)
    else:
        send(uow_factory, *history, now=early)
        send(uow_factory, *ties)
    (lead,) = rows(engine, t.leads)
    assert lead.email == "ann@acme.io"
    assert {r.lead_id for r in rows(engine, t.touchpoints)} == {lead.id}
    assert {(r.kind, r.value) for r in rows(engine, t.identities)} >= {
        ("user_id", "ph-anon"),
        ("user_id", "u-ann"),
        ("anonymous_id", "cookie"),
        ("email", "ann@acme.io"),
    }


def test_redirects_follow_a_lead_merged_twice(uow_factory: UowFactory, engine: Engine) -> None:
    send(
        uow_factory,
        page("p1", "/pricing", T0 - timedelta(days=2), anonymousId="cookie-1"),
        page("p2", "/pricing", T0 - timedelta(days=2), userId="u-1"),
        identify("id-0", "ann@acme.io", userId="u-2"),
        now=T0 - timedelta(days=2),
    )
    first, second = lead_of(engine, "anonymous_id", "cookie-1"), lead_of(engine, "user_id", "u-1")
    person = lead_of(engine, "email", "ann@acme.io")
    send(uow_factory, {"type": "alias", "previousId": "cookie-1", "userId": "u-1"})
    send(uow_factory, identify("id-1", "ann@acme.io", userId="u-1"))
    assert [r.id for r in rows(engine, t.leads)] == [person]
    assert {(r.merged_id, r.into_id) for r in rows(engine, t.lead_merges)} == {
        (first, person),
        (second, person),
    }


def test_a_new_lead_never_takes_the_id_of_a_merged_one(
    uow_factory: UowFactory, engine: Engine
) -> None:
    """The merged lead had the largest id; a lead created afterwards gets a new id, so the
    merged id still answers "merged into" and never names a different person."""
    send(uow_factory, identify("id-0", "ann@acme.io", userId="u-1"))
    send(uow_factory, page("p1", "/pricing", T0, anonymousId="cookie-9"))
    person = lead_of(engine, "email", "ann@acme.io")
    merged = lead_of(engine, "anonymous_id", "cookie-9")
    assert merged > person
    send(uow_factory, {"type": "alias", "previousId": "cookie-9", "userId": "u-1"})
    assert [r.id for r in rows(engine, t.leads)] == [person]

    send(uow_factory, identify("id-1", "bob@acme.io", userId="u-2"))
    newcomer = lead_of(engine, "email", "bob@acme.io")
    assert newcomer > merged
    assert {(r.merged_id, r.into_id) for r in rows(engine, t.lead_merges)} == {(merged, person)}


def test_two_leads_with_emails_are_never_merged(uow_factory: UowFactory, engine: Engine) -> None:
    send(
        uow_factory,
        identify("id-1", "ann@acme.io", userId="u-ann"),
        identify("id-2", "bob@acme.io", anonymousId="a-bob"),
        page("p1", "/pricing", T0 - timedelta(hours=1), anonymousId="a-bob"),
    )
    ann, bob = lead_of(engine, "email", "ann@acme.io"), lead_of(engine, "email", "bob@acme.io")

    result = send(
        uow_factory,
        identify("id-3", userId="u-ann", anonymousId="a-bob", traits={"title": "CFO"}),
        track("t1", "Demo Requested", T0, userId="u-ann", anonymousId="a-bob"),
    )
    assert result.leads_merged == 0
    assert count(engine, t.leads) == 2
    assert count(engine, t.lead_merges) == 0
    # The call joins the stronger id's lead (the user id); the cookie stays with Bob.
    assert lead_of(engine, "anonymous_id", "a-bob") == bob
    by_id = {r.id: r for r in rows(engine, t.leads)}
    assert (by_id[ann].email, by_id[ann].title) == ("ann@acme.io", "CFO")
    assert (by_id[bob].email, by_id[bob].title) == ("bob@acme.io", None)
    owners = {r.message_id: r.lead_id for r in rows(engine, t.touchpoints)}
    assert owners == {"p1": bob, "t1": ann}


def test_a_new_email_on_a_shared_cookie_is_a_new_person(
    uow_factory: UowFactory, engine: Engine
) -> None:
    """Ann identified on a shared laptop; later Bob identifies on it with his email."""
    send(
        uow_factory,
        page("p1", "/pricing", T0 - timedelta(hours=2), anonymousId="laptop"),
        identify("id-1", "ann@acme.io", anonymousId="laptop", traits={"firstName": "Ann"}),
        now=T0 - timedelta(hours=2),
    )
    ann = lead_of(engine, "email", "ann@acme.io")

    send(uow_factory, identify("id-2", "bob@acme.io", anonymousId="laptop", userId="u-bob"))
    assert count(engine, t.leads) == 2
    bob = lead_of(engine, "email", "bob@acme.io")
    assert bob != ann
    by_id = {r.id: r for r in rows(engine, t.leads)}
    assert (by_id[ann].email, by_id[ann].first_name) == ("ann@acme.io", "Ann")
    assert by_id[bob].email == "bob@acme.io"
    # What was already known stays where it was; the call's new ids go with its email.
    assert lead_of(engine, "anonymous_id", "laptop") == ann
    assert lead_of(engine, "user_id", "u-bob") == bob
    assert [r.lead_id for r in rows(engine, t.touchpoints)] == [ann]


def test_a_new_email_with_the_same_user_id_is_that_persons_new_email(
    uow_factory: UowFactory, engine: Engine
) -> None:
    """A logged-in user changes their email in the app: the user id says who it is."""
    send(
        uow_factory,
        identify("id-1", "ann@old.io", userId="u-ann", anonymousId="laptop"),
        now=T0 - timedelta(days=1),
    )
    ann = lead_of(engine, "email", "ann@old.io")
    result = send(uow_factory, identify("id-2", "ann@new.io", userId="u-ann"))
    assert result.leads_created == 0
    (lead,) = rows(engine, t.leads)
    assert (lead.id, lead.email) == (ann, "ann@new.io")
    assert lead_of(engine, "email", "ann@old.io") == lead_of(engine, "email", "ann@new.io") == ann


def test_two_emails_on_one_cookie_in_one_batch_are_two_people(
    uow_factory: UowFactory, engine: Engine
) -> None:
    result = send(
        uow_factory,
        page("p1", "/pricing", T0, anonymousId="kiosk"),
        identify("id-1", "ann@acme.io", anonymousId="kiosk"),
        identify("id-2", "bob@acme.io", anonymousId="kiosk"),
        track("t1", "Demo Requested", T0, anonymousId="kiosk"),
    )
    assert result.leads_created == 2
    ann, bob = lead_of(engine, "email", "ann@acme.io"), lead_of(engine, "email", "bob@acme.io")
    assert ann != bob
    assert {r.email for r in rows(engine, t.leads)} == {"ann@acme.io", "bob@acme.io"}
    # The cookie stays with the first person it identified.
    assert {r.message_id: r.lead_id for r in rows(engine, t.touchpoints)} == {
        "p1": ann,
        "t1": ann,
    }


@pytest.mark.parametrize("anonymous_known", [False, True], ids=["all-new", "cookie-known"])
def test_a_chain_of_links_in_one_batch_ends_on_one_lead(
    uow_factory: UowFactory, engine: Engine, anonymous_known: bool
) -> None:
    early = T0 - timedelta(days=3)
    if anonymous_known:
        send(uow_factory, page("p0", "/product", early, anonymousId="a-1"), now=early)
    result = send(
        uow_factory,
        page("p1", "/pricing", T0 - timedelta(hours=3), anonymousId="a-1"),
        track("t1", "Demo Requested", T0 - timedelta(hours=2), userId="u-1"),
        identify("id-1", "ann@acme.io", userId="u-1"),
        identify("id-2", "ann@acme.io", anonymousId="a-1"),
        track("t2", "Webinar Attended", T0 - timedelta(hours=1), anonymousId="a-1"),
    )
    assert count(engine, t.leads) == 1
    assert result.leads_created == (0 if anonymous_known else 1)
    assert result.leads_merged == 0  # pending ids were grouped before any lead was made
    (lead,) = rows(engine, t.leads)
    assert lead.email == "ann@acme.io"
    assert {r.lead_id for r in rows(engine, t.touchpoints)} == {lead.id}
    assert count(engine, t.touchpoints) == (4 if anonymous_known else 3)
    assert {(r.kind, r.value) for r in rows(engine, t.identities)} == {
        ("anonymous_id", "a-1"),
        ("user_id", "u-1"),
        ("email", "ann@acme.io"),
    }
    (score,) = rows(engine, t.scores)
    assert score.lead_id == lead.id
    assert score.engagement >= 30 + 20  # the demo request and the webinar count


def test_a_chain_that_joins_two_existing_anonymous_leads_merges_them(
    uow_factory: UowFactory, engine: Engine
) -> None:
    early = T0 - timedelta(days=1)
    send(
        uow_factory,
        page("p1", "/pricing", early, anonymousId="phone"),
        page("p2", "/pricing", early, anonymousId="laptop"),
        now=early,
    )
    phone, laptop = (
        lead_of(engine, "anonymous_id", "phone"),
        lead_of(engine, "anonymous_id", "laptop"),
    )
    result = send(
        uow_factory,
        identify("id-1", "ann@acme.io", anonymousId="phone"),
        identify("id-2", "ann@acme.io", anonymousId="laptop"),
    )
    assert result.leads_merged == 1
    (lead,) = rows(engine, t.leads)
    assert lead.id in (phone, laptop)
    assert lead.email == "ann@acme.io"
    assert {r.lead_id for r in rows(engine, t.touchpoints)} == {lead.id}


def test_group_sets_account_traits_and_rescores_everyone_at_the_account(
    uow_factory: UowFactory, engine: Engine
) -> None:
    send(
        uow_factory,
        identify("id-1", "ann@acme.io", userId="u-ann", traits={"seniority": "vp"}),
        identify("id-2", "bob@acme.io", userId="u-bob", traits={"seniority": "director"}),
        identify("id-3", "cat@gmail.com", userId="u-cat"),
        now=T0 - timedelta(hours=1),
    )
    before = {r.lead_id: r for r in rows(engine, t.scores)}
    ann, bob = lead_of(engine, "email", "ann@acme.io"), lead_of(engine, "email", "bob@acme.io")
    cat = lead_of(engine, "email", "cat@gmail.com")

    result = send(
        uow_factory,
        {
            "type": "group",
            "userId": "u-cat",
            "groupId": "acme.io",
            "traits": {"name": "Acme", "industry": "software", "employees": 250, "region": "EMEA"},
        },
    )
    (account,) = rows(engine, t.accounts)
    assert (account.domain, account.name, account.industry, account.employees, account.region) == (
        "acme.io",
        "Acme",
        "software",
        250,
        "EMEA",
    )
    by_id = {r.id: r for r in rows(engine, t.leads)}
    # The free-mail lead is linked by the group call; the others were by their email.
    assert {by_id[i].account_id for i in (ann, bob, cat)} == {account.id}
    after = {r.lead_id: r for r in rows(engine, t.scores)}
    assert result.leads_rescored == 3
    firmographics = 10 + 10 + 5  # software, 50-5000 employees, EMEA
    for lead_id in (ann, bob):
        assert after[lead_id].scored_at == T0
        assert after[lead_id].fit == before[lead_id].fit + firmographics
    assert after[cat].fit == before[cat].fit + firmographics


def test_two_writers_that_both_meet_a_new_id_end_on_one_lead(
    uow_factory: UowFactory, engine: Engine
) -> None:
    """Two requests with the same new anonymous id at once (two browser tabs): the second
    writer must not keep a lead of its own that no id leads to."""
    first = calls(page("p1", "/pricing", T0, anonymousId="tab"))
    second = calls(page("p2", "/pricing", T0, anonymousId="tab"))
    outcome: list[BaseException | TrackResult] = []

    def race() -> None:
        try:
            outcome.append(retry_on_conflict(lambda: record_calls(uow_factory(), second, now=T0)))
        except BaseException as exc:  # reported to the test thread
            outcome.append(exc)

    with uow_factory() as uow:
        # The first writer has created the lead and linked the id, not yet committed ...
        resolution = resolve_leads(uow, [first[0].keys], T0)
        other = threading.Thread(target=race)
        other.start()
        time.sleep(0.5)  # ... while the second meets the same new id and waits on it.
        uow.commit()
    other.join(timeout=30)
    assert len(outcome) == 1 and isinstance(outcome[0], TrackResult), outcome
    (lead,) = rows(engine, t.leads)
    assert lead.id == resolution.lead_ids[0]
    assert [r.lead_id for r in rows(engine, t.touchpoints)] == [lead.id]
