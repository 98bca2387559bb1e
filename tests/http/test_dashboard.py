"""The dashboard through the app in this process: sign-in, sessions and CSRF, what each role may see
and do, the accept/recycle forms going through the feedback use case, and the figures on the funnel
and the lead list against plain Python over the rows."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import unescape

import httpx
import pytest
from sqlalchemy import select

from leadgate.adapters.db import tables as t
from leadgate.config import Settings
from leadgate.services.users import set_disabled
from tests.dashboard_world import PASSWORD, World, build_world
from tests.http.conftest import AppServer, sqlite_only

SESSION_SECRET = "dashboard-test-secret-0123456789"


@pytest.fixture
def server_settings() -> Settings:
    return Settings(database_url="sqlite://", key_cache_seconds=0.0, session_secret=SESSION_SECRET)


@pytest.fixture
def world(app_server: AppServer) -> World:
    return build_world(app_server.app)


def browser(server: AppServer) -> httpx.Client:
    return server.client("", follow_redirects=False)


def csrf(page: httpx.Response) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text[:500]
    return found.group(1)


def login(server: AppServer, name: str, password: str = PASSWORD) -> httpx.Client:
    client = browser(server)
    token = csrf(client.get("/login"))
    response = client.post(
        "/login", data={"username": name, "password": password, "csrf_token": token, "next": ""}
    )
    assert response.status_code == 303, response.text
    return client


@pytest.fixture
def as_user(app_server: AppServer, world: World) -> Iterator[dict[str, httpx.Client]]:
    clients = {name: login(app_server, name) for name in ("ada", "mia", "sam", "olu")}
    yield clients
    for client in clients.values():
        client.close()


def text(response: httpx.Response) -> str:
    """The page's visible text, tags dropped and spaces collapsed."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", response.text)))


def stage_of(server: AppServer, lead_id: int) -> str:
    with server.app.engine.connect() as connection:
        return str(
            connection.execute(select(t.leads.c.stage).where(t.leads.c.id == lead_id)).scalar_one()
        )


# --- signing in ---------------------------------------------------------------------------


@sqlite_only
def test_pages_send_strangers_to_the_login_form(app_server: AppServer, world: World) -> None:
    with browser(app_server) as client:
        for path in ("/", "/funnel", "/leads", f"/leads/{world.ann}", "/queue", "/model"):
            response = client.get(path)
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/login?next=")
        assert client.get("/funnel?period=7d").headers["location"] == (
            "/login?next=%2Ffunnel%3Fperiod%3D7d"
        )
        style = client.get("/static/style.css")
        assert style.status_code == 200
        assert style.headers["content-type"].startswith("text/css")
        assert client.get("/static/countdown.js").status_code == 200


@sqlite_only
def test_login_sets_a_signed_http_only_lax_cookie_and_follows_next(
    app_server: AppServer, world: World
) -> None:
    with browser(app_server) as client:
        token = csrf(client.get("/login"))
        response = client.post(
            "/login",
            data={"username": "ada", "password": PASSWORD, "csrf_token": token, "next": "/model"},
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/model"
        cookie = response.headers["set-cookie"].lower()
        assert cookie.startswith("leadgate_session=")
        assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
        assert client.get("/model").status_code == 200
        # A changed cookie is not accepted: the signature no longer matches.
        value = client.cookies["leadgate_session"]
        client.cookies.set("leadgate_session", value[:-3] + "AAA", domain="127.0.0.1")
        assert client.get("/model").status_code == 303


@sqlite_only
def test_login_refuses_wrong_passwords_unknown_names_and_a_missing_csrf_token(
    app_server: AppServer, world: World
) -> None:
    with browser(app_server) as client:
        token = csrf(client.get("/login"))
        wrong = client.post(
            "/login", data={"username": "ada", "password": "nope-nope", "csrf_token": token}
        )
        unknown = client.post(
            "/login", data={"username": "zed", "password": PASSWORD, "csrf_token": token}
        )
        missing = client.post("/login", data={"username": "ada", "password": PASSWORD})
        assert (wrong.status_code, unknown.status_code, missing.status_code) == (401, 401, 400)
        assert "Unknown user name or wrong password" in text(wrong)
        assert "The form expired" in text(missing)
        assert client.get("/funnel").status_code == 303  # still nobody


@sqlite_only
def test_after_login_only_paths_on_this_site_are_followed(
    app_server: AppServer, world: World
) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        with browser(app_server) as client:
            token = csrf(client.get("/login"))
            response = client.post(
                "/login",
                data={"username": "sam", "password": PASSWORD, "csrf_token": token, "next": target},
            )
            assert response.headers["location"] == "/queue", target


@sqlite_only
def test_a_disabled_user_is_signed_out_at_the_next_request(
    app_server: AppServer, world: World
) -> None:
    client = login(app_server, "mia")
    assert client.get("/funnel").status_code == 200
    set_disabled(app_server.app.uow(), "mia")
    assert client.get("/funnel").status_code == 303
    token = csrf(client.get("/login"))
    again = client.post(
        "/login", data={"username": "mia", "password": PASSWORD, "csrf_token": token}
    )
    assert again.status_code == 401
    client.close()


@sqlite_only
def test_logout_needs_the_token_and_ends_the_session(as_user: dict[str, httpx.Client]) -> None:
    client = as_user["ada"]
    assert client.post("/logout", data={"csrf_token": "forged"}).status_code == 303
    assert client.get("/funnel").status_code == 200  # a forged sign-out does nothing
    token = csrf(client.get("/funnel"))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 303
    assert client.get("/funnel").status_code == 303


# --- roles --------------------------------------------------------------------------------


def test_what_each_role_sees(as_user: dict[str, httpx.Client], world: World) -> None:
    expected = {
        "ada": {
            "/funnel": 200,
            "/model": 200,
            "/queue": 200,
            "/leads": 200,
            f"/leads/{world.ann}": 200,
            f"/leads/{world.cid}": 200,
        },
        "mia": {
            "/funnel": 200,
            "/model": 200,
            "/queue": 403,
            "/leads": 200,
            f"/leads/{world.ann}": 200,
            f"/leads/{world.cid}": 200,
        },
        "sam": {
            "/funnel": 403,
            "/model": 403,
            "/queue": 200,
            "/leads": 200,
            f"/leads/{world.ann}": 200,
            f"/leads/{world.cid}": 403,
        },
    }
    for name, pages in expected.items():
        seen = {path: as_user[name].get(path).status_code for path in pages}
        assert seen == pages, name
    forbidden = as_user["sam"].get("/funnel")
    assert "Not for your role" in text(forbidden)
    assert forbidden.headers["content-type"].startswith("text/html")
    assert as_user["sam"].get("/").headers["location"] == "/queue"
    assert as_user["mia"].get("/").headers["location"] == "/funnel"


def test_a_rep_sees_only_their_queue_and_their_leads(
    as_user: dict[str, httpx.Client], world: World
) -> None:
    queue = text(as_user["sam"].get("/queue"))
    assert "Ann Archer" in queue and "Cid Cole" not in queue
    other = text(as_user["olu"].get("/queue"))
    assert "Cid Cole" in other and "Ann Archer" not in other
    # The owner filter cannot widen a rep's list.
    mine = text(as_user["sam"].get("/leads", params={"owner": world.other_rep}))
    assert "Ann Archer" in mine and "Cid Cole" not in mine and "Ben Baker" not in mine
    everyone = text(as_user["ada"].get("/queue"))
    assert "Ann Archer" in everyone and "Cid Cole" in everyone


@sqlite_only
def test_marketing_reads_leads_but_cannot_answer(
    app_server: AppServer, as_user: dict[str, httpx.Client], world: World
) -> None:
    page = as_user["mia"].get(f"/leads/{world.ann}")
    assert 'id="accept"' not in page.text
    refused = as_user["mia"].post(
        f"/leads/{world.ann}/feedback", data={"action": "accept", "csrf_token": csrf(page)}
    )
    assert refused.status_code == 403
    assert stage_of(app_server, world.ann) == "mql"


# --- answering a handoff -------------------------------------------------------------------


def test_accept_goes_through_the_feedback_use_case(
    app_server: AppServer, as_user: dict[str, httpx.Client], world: World
) -> None:
    client = as_user["sam"]
    page = client.get(f"/leads/{world.ann}")
    assert 'id="accept"' in page.text
    forged = client.post(f"/leads/{world.ann}/feedback", data={"action": "accept"})
    assert forged.status_code == 403
    assert stage_of(app_server, world.ann) == "mql"
    done = client.post(
        f"/leads/{world.ann}/feedback", data={"action": "accept", "csrf_token": csrf(page)}
    )
    assert done.status_code == 303
    assert stage_of(app_server, world.ann) == "sql"
    with app_server.app.engine.connect() as connection:
        outcome = connection.execute(
            select(t.outcomes.c.kind, t.outcomes.c.actor).where(t.outcomes.c.lead_id == world.ann)
        ).one()
        handoff = connection.execute(
            select(t.handoffs.c.status).where(t.handoffs.c.lead_id == world.ann)
        ).scalar_one()
        transition = connection.execute(
            select(t.transitions.c.to_stage, t.transitions.c.actor)
            .where(t.transitions.c.lead_id == world.ann)
            .order_by(t.transitions.c.id.desc())
        ).first()
    assert tuple(outcome) == ("accepted", "sam")
    assert handoff == "accepted"
    assert transition is not None and tuple(transition) == ("sql", "sam")
    after = text(client.get(f"/leads/{world.ann}"))
    assert "Recorded: accept; the lead moved from MQL to SQL." in after
    assert "Ann Archer" not in text(client.get("/queue"))  # answered: off the queue


def test_recycle_needs_a_listed_reason_and_writes_nothing_otherwise(
    app_server: AppServer, as_user: dict[str, httpx.Client], world: World
) -> None:
    client = as_user["sam"]
    token = csrf(client.get(f"/leads/{world.ann}"))
    bad = client.post(
        f"/leads/{world.ann}/feedback",
        data={"action": "recycle", "reason": "felt_like_it", "csrf_token": token},
    )
    assert bad.status_code == 303
    shown = text(client.get(f"/leads/{world.ann}"))
    assert "unknown recycle reason 'felt_like_it'" in shown
    assert stage_of(app_server, world.ann) == "mql"
    with app_server.app.engine.connect() as connection:
        assert connection.execute(select(t.outcomes.c.id)).first() is None
    good = client.post(
        f"/leads/{world.ann}/feedback",
        data={
            "action": "recycle",
            "reason": "bad_timing",
            "note": "next quarter",
            "csrf_token": token,
        },
    )
    assert good.status_code == 303
    assert stage_of(app_server, world.ann) == "recycled"


@sqlite_only
def test_a_rep_cannot_answer_for_another_reps_lead(
    app_server: AppServer, as_user: dict[str, httpx.Client], world: World
) -> None:
    token = csrf(as_user["sam"].get("/queue"))
    refused = as_user["sam"].post(
        f"/leads/{world.cid}/feedback",
        data={"action": "disqualify", "reason": "competitor", "csrf_token": token},
    )
    assert refused.status_code == 403
    assert stage_of(app_server, world.cid) == "sql"


# --- figures ----------------------------------------------------------------------------------


def _cells(page: str, table_id: str) -> dict[str, list[str]]:
    """Rows of one table by their header cell: {"Lead": ["4", "4", "4"], ...}."""
    body = page.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", body, re.S):
        cells = [
            re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", "", c))).strip()
            for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        if cells and 'scope="col"' not in row:
            rows[cells[0]] = cells[1:]
    return rows


def test_the_funnel_counts_what_the_transition_log_says(
    app_server: AppServer, as_user: dict[str, httpx.Client], world: World
) -> None:
    today = datetime.now(UTC).date()
    start = datetime.combine(today - timedelta(days=6), datetime.min.time(), UTC)
    end = datetime.combine(today + timedelta(days=1), datetime.min.time(), UTC)
    with app_server.app.engine.connect() as connection:
        created = [r.created_at for r in connection.execute(select(t.leads.c.created_at))]
        moves = [
            (r.to_stage, r.occurred_at, r.lead_id)
            for r in connection.execute(
                select(
                    t.transitions.c.to_stage, t.transitions.c.occurred_at, t.transitions.c.lead_id
                )
            )
        ]
    expected = {
        "Lead": sum(start <= at < end for at in created)
        + sum(1 for s, at, _ in moves if s == "lead" and start <= at < end),
        "MQL": sum(1 for s, at, _ in moves if s == "mql" and start <= at < end),
        "SQL": sum(1 for s, at, _ in moves if s == "sql" and start <= at < end),
    }
    assert expected["MQL"] >= 1 and expected["SQL"] >= 1  # the world has something to count
    page = as_user["mia"].get("/funnel", params={"period": "7d"})
    assert page.status_code == 200
    rows = _cells(page.text, "stage-table")
    assert {stage: int(rows[stage][0]) for stage in expected} == expected
    assert "app;dur=" in page.headers["server-timing"]

    # An old period has nothing in it.
    old = as_user["mia"].get(
        "/funnel", params={"period": "custom", "from": "2020-01-01", "to": "2020-01-31"}
    )
    assert {stage: int(_cells(old.text, "stage-table")[stage][0]) for stage in expected} == {
        "Lead": 0,
        "MQL": 0,
        "SQL": 0,
    }
    # A breakdown's groups add up to the same totals.
    by_channel = as_user["mia"].get("/funnel", params={"period": "7d", "by": "source_channel"})
    rows = _cells(by_channel.text, "stage-table")
    assert {stage: int(rows[stage][0]) for stage in expected} == expected


def test_the_lead_list_sorts_by_score_like_the_scores_table(
    app_server: AppServer, as_user: dict[str, httpx.Client], world: World
) -> None:
    with app_server.app.engine.connect() as connection:
        scored = connection.execute(select(t.scores.c.lead_id, t.scores.c.total)).all()
    expected = [lead_id for lead_id, _ in sorted(scored, key=lambda r: (-r.total, -r.lead_id))]
    page = as_user["ada"].get("/leads", params={"sort": "score", "order": "desc"})
    shown = [int(i) for i in re.findall(r'href="/leads/(\d+)"', page.text)]
    assert shown[: len(expected)] == expected
    graded = as_user["ada"].get("/leads", params={"grade": "A"})
    with app_server.app.engine.connect() as connection:
        a_count = len(
            connection.execute(select(t.scores.c.lead_id).where(t.scores.c.grade == "A")).all()
        )
    assert f"{a_count} leads" in text(graded)


def test_the_lead_search_ignores_case_and_takes_wildcards_literally(
    as_user: dict[str, httpx.Client], world: World
) -> None:
    def found(q: str) -> set[int]:
        page = as_user["ada"].get("/leads", params={"q": q})
        return {int(i) for i in re.findall(r'href="/leads/(\d+)"', page.text)}

    assert found("ARCHER") == {world.ann}
    assert found("globex") == {world.cid, world.dee}  # the company domain
    assert found("%") == set() and found("_") == set()


@sqlite_only
def test_bad_values_get_a_page_naming_the_field(as_user: dict[str, httpx.Client]) -> None:
    cases = {
        "/funnel?period=fortnight": "period: unknown period 'fortnight'",
        "/funnel?by=shoe_size": "by: unknown breakdown 'shoe_size'",
        "/funnel?period=custom&from=2026-13-01&to=2026-01-01": "from: '2026-13-01' is not a date",
        "/leads?sort=height": "sort: unknown sort 'height'",
        "/leads?min_score=lots": "min_score: 'lots' is not a number",
        "/leads?stage=zombie": "stage: unknown stage 'zombie'",
    }
    for path, message in cases.items():
        response = as_user["ada"].get(path)
        assert response.status_code == 400, path
        assert message in text(response), path
    missing = as_user["ada"].get("/leads/987654")
    assert missing.status_code == 404
    assert "There is no lead 987654." in text(missing)


@sqlite_only
def test_the_model_page_says_the_rules_in_words(as_user: dict[str, httpx.Client]) -> None:
    page = text(as_user["mia"].get("/model"))
    assert (
        "+10 each time the lead visits a pricing page, halved every 30 days, at most 30 in all"
        in page
    )
    assert "−20 each time the lead unsubscribes from email, never fading" in page
    assert "+15 when seniority is c_level or vp" in page
    assert "MQL → SQL conversion with and without each signal" in page
