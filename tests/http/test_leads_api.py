"""REST API: leads, their touchpoints, score explanation, transitions and stage changes,
through the app in this process, on SQLite and PostgreSQL (refusals on SQLite only)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from leadgate.services.commands import TouchpointIn
from leadgate.services.ingest import ingest_touchpoints
from leadgate.services.keys import create_key
from tests.cli.runner import as_json, leadgate
from tests.conftest import T0
from tests.http.conftest import AppServer, sqlite_only


def created(http: httpx.Client, **body: Any) -> dict[str, Any]:
    response = http.post("/v1/leads", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def ingest(server: AppServer, *items: TouchpointIn) -> None:
    ingest_touchpoints(server.app.uow(), list(items), now=datetime.now(UTC))


def touch(message_id: str, name: str, days_ago: float, **identity: Any) -> TouchpointIn:
    at = datetime.now(UTC) - timedelta(days=days_ago)
    return TouchpointIn(message_id, name, at, **identity)


def error(response: httpx.Response, status: int) -> dict[str, Any]:
    """The error body, after checking its status and shape."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) >= {"code", "message"}
    return body


def fields(response: httpx.Response) -> set[str]:
    return {e["field"] for e in error(response, 422)["errors"]}


# --- create, update, get -------------------------------------------------------------


def test_post_creates_a_lead_then_updates_it_by_email(app_server: AppServer) -> None:
    with app_server.client() as http:
        lead = created(http, email=" Ann@Acme.io ", title="VP Marketing", seniority="vp")
        assert lead["email"] == "ann@acme.io"
        assert lead["account"]["domain"] == "acme.io"
        assert lead["stage"] == "lead"
        assert lead["identities"] == [{"kind": "email", "value": "ann@acme.io"}]
        assert lead["score"]["model_version"] == 1
        assert lead["score"]["grade"] in {"A", "B", "C", "D"}

        again = http.post("/v1/leads", json={"email": "ann@acme.io", "department": "marketing"})
        assert again.status_code == 200, again.text
        updated = again.json()
    assert updated["id"] == lead["id"]
    assert (updated["title"], updated["department"]) == ("VP Marketing", "marketing")


def test_post_finds_a_lead_by_external_id_and_attaches_the_email(app_server: AppServer) -> None:
    with app_server.client() as http:
        lead = created(http, external_id="003XYZ", first_name="Bo")
        assert lead["email"] is None
        response = http.post(
            "/v1/leads", json={"external_id": "003XYZ", "email": "bo@globex.io", "traits": {"a": 1}}
        )
        assert response.status_code == 200, response.text
        fetched = http.get(f"/v1/leads/{lead['id']}").json()
    assert fetched["id"] == lead["id"]
    assert {(i["kind"], i["value"]) for i in fetched["identities"]} == {
        ("email", "bo@globex.io"),
        ("external_id", "003XYZ"),
    }
    assert fetched["identities"][0]["kind"] == "email"  # strongest first
    assert fetched["traits"] == {"a": 1}


def test_get_lead_has_current_stage_score_and_grade(app_server: AppServer) -> None:
    with app_server.client() as http:
        lead = created(http, email="cy@initech.io", seniority="vp", department="marketing")
        ingest(app_server, touch("m-1", "demo_request", 1, email="cy@initech.io"))
        fetched = http.get(f"/v1/leads/{lead['id']}")
    assert fetched.status_code == 200
    body = fetched.json()
    with app_server.app.uow() as uow:
        stored = uow.scores.get_many([lead["id"]])[lead["id"]]
        stage = uow.leads.get_many([lead["id"]])[lead["id"]].stage
    assert body["stage"] == stage.value
    assert body["score"]["total"] == stored.total
    assert body["score"]["grade"] == stored.grade
    assert body["score"]["total"] > lead["score"]["total"]  # the demo request counted


def test_patch_changes_given_fields_only_and_rescores(app_server: AppServer) -> None:
    with app_server.client() as http:
        lead = created(http, email="di@acme.io", title="Engineer", traits={"plan": "free"})
        url = http.patch(f"/v1/leads/{lead['id']}", json={"account_domain": "https://umbrella.io"})
        assert fields(url) == {"account_domain"}  # a bare domain, not a URL
        response = http.patch(
            f"/v1/leads/{lead['id']}",
            json={"seniority": "vp", "owner": "rep@us.io", "account_domain": "WWW.Umbrella.io"},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        merged = http.patch(f"/v1/leads/{lead['id']}", json={"traits": {"seats": 5}}).json()
    assert body["title"] == "Engineer"  # left out: kept
    assert (body["seniority"], body["owner"]) == ("vp", "rep@us.io")
    assert body["account"]["domain"] == "umbrella.io"
    scored = datetime.fromisoformat(body["score"]["scored_at"])
    assert scored > datetime.fromisoformat(lead["score"]["scored_at"])
    assert merged["traits"] == {"plan": "free", "seats": 5}


@sqlite_only
def test_patch_does_not_change_identities(app_server: AppServer) -> None:
    with app_server.client() as http:
        lead = created(http, email="ed@acme.io")
        response = http.patch(f"/v1/leads/{lead['id']}", json={"email": "other@acme.io"})
    assert fields(response) == {"email"}


# --- listing -------------------------------------------------------------------------


def test_list_filters_by_stage_owner_grade_score_update_time_and_account(
    app_server: AppServer,
) -> None:
    with app_server.client() as http:
        ann = created(http, email="ann@acme.io", owner="rep-1", seniority="vp")
        bob = created(http, email="bob@acme.io", owner="rep-2")
        cy = created(http, email="cy@globex.io", owner="rep-1")
        http.post(
            f"/v1/leads/{cy['id']}/stage",
            json={"to": "disqualified", "reason": "student", "override": True},
        ).raise_for_status()

        def ids(**params: Any) -> list[int]:
            response = http.get("/v1/leads", params=params)
            assert response.status_code == 200, response.text
            return [lead["id"] for lead in response.json()["items"]]

        assert ids() == [ann["id"], bob["id"], cy["id"]]
        assert ids(stage="disqualified") == [cy["id"]]
        assert ids(owner="rep-1") == [ann["id"], cy["id"]]
        assert ids(account_domain="ACME.io") == [ann["id"], bob["id"]]
        assert ids(owner="rep-1", account_domain="acme.io") == [ann["id"]]
        grade = ann["score"]["grade"]
        assert ann["id"] in ids(grade=grade)
        total = ann["score"]["total"]
        assert ann["id"] in ids(min_score=total, max_score=total)
        assert all(
            lead["score"]["total"] >= total + 1
            for lead in http.get("/v1/leads", params={"min_score": total + 1}).json()["items"]
        )
        assert ids(max_score=-1e9) == []
        since = http.get(f"/v1/leads/{cy['id']}").json()["updated_at"]
        assert ids(updated_since=since) == [cy["id"]]
        assert ids(updated_since="2000-01-01T00:00:00+02:00") == [ann["id"], bob["id"], cy["id"]]


def test_list_pages_with_a_cursor_that_never_repeats_or_skips(app_server: AppServer) -> None:
    with app_server.client() as http:
        made = [created(http, email=f"p{n}@acme.io")["id"] for n in range(5)]
        first = http.get("/v1/leads", params={"limit": 2}).json()
        assert [lead["id"] for lead in first["items"]] == made[:2]
        # A lead created while the client pages comes at the end, not in the middle.
        made.append(created(http, email="late@acme.io")["id"])
        seen = [lead["id"] for lead in first["items"]]
        cursor = first["next_cursor"]
        while cursor:
            page = http.get("/v1/leads", params={"limit": 2, "cursor": cursor}).json()
            seen.extend(lead["id"] for lead in page["items"])
            cursor = page["next_cursor"]
        whole = http.get("/v1/leads", params={"limit": 500}).json()
    assert seen == made
    assert whole["next_cursor"] is None
    assert [lead["id"] for lead in whole["items"]] == made


def test_account_leads_lists_only_that_accounts_leads(app_server: AppServer) -> None:
    with app_server.client() as http:
        ann = created(http, email="ann@acme.io")
        created(http, email="bob@globex.io")
        response = http.get(f"/v1/accounts/{ann['account']['id']}/leads")
    assert response.status_code == 200
    assert [lead["id"] for lead in response.json()["items"]] == [ann["id"]]


# --- touchpoints, score, transitions ---------------------------------------------------


def test_touchpoints_newest_first_in_pages(app_server: AppServer) -> None:
    with app_server.client() as http:
        lead = created(http, email="tp@acme.io")
        # Two at the same moment: ties are ordered too, so no page boundary loses one.
        same = datetime.now(UTC) - timedelta(days=2)
        ingest(
            app_server,
            touch("a", "page_view", 5, email="tp@acme.io"),
            TouchpointIn("b", "email_open", same, email="tp@acme.io"),
            TouchpointIn("c", "email_click", same, email="tp@acme.io"),
            touch("d", "Demo Requested", 1, email="tp@acme.io"),
        )
        seen: list[dict[str, Any]] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 1} | ({"cursor": cursor} if cursor else {})
            page = http.get(f"/v1/leads/{lead['id']}/touchpoints", params=params)
            assert page.status_code == 200, page.text
            seen.extend(page.json()["items"])
            cursor = page.json()["next_cursor"]
            if not cursor:
                break
        clicks = http.get(f"/v1/leads/{lead['id']}/touchpoints", params={"name": "email_click"})
    assert [tp["message_id"] for tp in seen] == ["d", "c", "b", "a"]
    assert (seen[0]["name"], seen[0]["original_name"]) == ("demo_request", "Demo Requested")
    assert [tp["message_id"] for tp in clicks.json()["items"]] == ["c"]


def test_score_explanation_is_what_leadgate_explain_prints(app_server: AppServer) -> None:
    with app_server.client() as http:
        lead = created(http, email="ex@acme.io", seniority="vp", department="marketing")
        ingest(
            app_server,
            touch("e-1", "page_view", 3, email="ex@acme.io"),
            touch("e-2", "webinar_attended", 10, email="ex@acme.io"),
            touch("e-3", "demo_request", 1, email="ex@acme.io"),
        )
        response = http.get(f"/v1/leads/{lead['id']}/score")
        assert response.status_code == 200, response.text
        api = response.json()
        earlier = http.get(
            f"/v1/leads/{lead['id']}/score", params={"at": "2020-01-01T00:00:00Z"}
        ).json()
    url = app_server.app.engine.url.render_as_string(hide_password=False)
    printed = as_json(leadgate(url, "explain", str(lead["id"]), "--json"))
    for name in ("fit", "engagement", "total", "grade", "model_version", "gates", "stage"):
        assert api[name] == printed[name], name
    assert datetime.fromisoformat(api["at"]) == datetime.fromisoformat(printed["at"])
    assert len(api["contributions"]) == len(printed["contributions"])
    for ours, theirs in zip(api["contributions"], printed["contributions"], strict=True):
        for name in ("rule_id", "kind", "points", "raw", "decayed", "cap", "capped", "value"):
            assert ours[name] == theirs[name], name
        assert [m["message_id"] for m in ours["matches"]] == [
            m["message_id"] for m in theirs["matches"]
        ]
        assert [m["decayed"] for m in ours["matches"]] == [m["decayed"] for m in theirs["matches"]]
    assert sum(c["points"] for c in api["contributions"]) == pytest.approx(api["total"])
    assert earlier["engagement"] == 0  # nothing had happened yet in 2020


def test_stage_change_keeps_a_transition_and_refuses_illegal_moves(
    app_server: AppServer,
) -> None:
    with app_server.client() as http:
        lead = created(http, email="st@acme.io")
        refused = http.post(
            f"/v1/leads/{lead['id']}/stage", json={"to": "customer", "reason": "signed"}
        )
        body = error(refused, 409)
        assert body["code"] == "transition_not_allowed"
        assert "lead → customer" in body["message"]
        assert "allowed from lead: mql, sql" in body["message"]

        moved = http.post(
            f"/v1/leads/{lead['id']}/stage",
            json={"to": "customer", "reason": "signed offline", "override": True},
        )
        assert moved.status_code == 201, moved.text
        assert (moved.json()["from_stage"], moved.json()["to_stage"]) == ("lead", "customer")
        assert moved.json()["override"] is True
        assert moved.json()["actor"] == "test-admin"  # the key's name
        assert moved.json()["actor_type"] == "api"

        by_person = http.post(
            f"/v1/leads/{lead['id']}/stage",
            json={"to": "lost", "reason": "churned", "override": True, "actor": "ann@us.io"},
        )
        assert by_person.json()["actor"] == "ann@us.io"
        history = http.get(f"/v1/leads/{lead['id']}/transitions").json()["items"]
        current = http.get(f"/v1/leads/{lead['id']}").json()["stage"]
    assert [(t["to_stage"], t["reason"]) for t in history] == [
        ("customer", "signed offline"),
        ("lost", "churned"),
    ]
    assert history[0]["model_version"] == 1
    assert current == "lost"


def test_a_merged_lead_answers_merged_with_the_surviving_id(app_server: AppServer) -> None:
    ingest(app_server, touch("v-1", "page_view", 3, anonymous_id="anon-7"))
    with app_server.client() as http:
        anonymous = http.get("/v1/leads").json()["items"][0]
        assert anonymous["identities"] == [{"kind": "anonymous_id", "value": "anon-7"}]
        known = created(http, email="mo@acme.io")
        # A message carrying both ids ties the visitor to the known lead.
        ingest(app_server, touch("v-2", "page_view", 1, email="mo@acme.io", anonymous_id="anon-7"))
        for path in ("", "/touchpoints", "/score", "/transitions"):
            response = http.get(f"/v1/leads/{anonymous['id']}{path}")
            body = error(response, 404)
            assert body["code"] == "merged", path
            assert body["merged_into"] == known["id"]
            assert f"merged into lead {known['id']}" in body["message"]
        patch = http.patch(f"/v1/leads/{anonymous['id']}", json={"title": "x"})
        assert error(patch, 404)["merged_into"] == known["id"]
        survivor = http.get(f"/v1/leads/{known['id']}/touchpoints").json()["items"]
    assert {tp["message_id"] for tp in survivor} == {"v-1", "v-2"}


# --- scopes --------------------------------------------------------------------------


@sqlite_only
def test_reading_needs_read_and_changing_needs_write(app_server: AppServer) -> None:
    reader = create_key(app_server.app.uow(), name="reader", scopes="read", now=T0).secret
    writer = create_key(app_server.app.uow(), name="writer", scopes="write", now=T0).secret
    with app_server.client() as http:
        lead = created(http, email="sc@acme.io")
    with app_server.client(reader) as http:
        assert http.get(f"/v1/leads/{lead['id']}").status_code == 200
        refused = http.post("/v1/leads", json={"email": "new@acme.io"})
        assert error(refused, 403)["code"] == "forbidden"
        assert "'write'" in refused.json()["message"]
        assert http.patch(f"/v1/leads/{lead['id']}", json={}).status_code == 403
        stage = http.post(f"/v1/leads/{lead['id']}/stage", json={"to": "mql", "reason": "r"})
        assert stage.status_code == 403
    with app_server.client(writer) as http:
        assert http.post("/v1/leads", json={"email": "new@acme.io"}).status_code == 201
        assert http.get(f"/v1/leads/{lead['id']}").status_code == 403
    with app_server.client(app_server.track_key) as http:
        for response in (
            http.get(f"/v1/leads/{lead['id']}/score"),
            http.post("/v1/leads", json={"email": "t@acme.io"}),
        ):
            assert error(response, 403)["code"] == "forbidden"
    with app_server.client("") as http:
        assert error(http.get(f"/v1/leads/{lead['id']}"), 401)["code"] == "unauthorized"


# --- bad input -----------------------------------------------------------------------


@sqlite_only
def test_an_invalid_email_is_refused_naming_the_field(app_server: AppServer) -> None:
    with app_server.client() as http:
        for email in ("not-an-email", "a@b", "two@@acme.io", "a b@acme.io", "x\u0000@acme.io"):
            response = http.post("/v1/leads", json={"email": email})
            assert fields(response) == {"email"}, email
            assert error(response, 422)["message"].startswith("email:")
        leads = http.get("/v1/leads").json()["items"]
    assert leads == []


@sqlite_only
def test_a_lead_needs_an_identity_and_no_unknown_fields(app_server: AppServer) -> None:
    with app_server.client() as http:
        anonymous = http.post("/v1/leads", json={"title": "CEO"})
        assert "give an email, external_id or user_id" in error(anonymous, 422)["message"]
        assert fields(http.post("/v1/leads", json={"email": None})) == {"email"}
        assert fields(http.post("/v1/leads", json={"external_id": "   "})) == {"external_id"}
        assert fields(http.post("/v1/leads", json={"email": "a@acme.io", "titel": "x"})) == {
            "titel"
        }
        too_long = http.post("/v1/leads", json={"email": "a@acme.io", "title": "x" * 256})
        assert fields(too_long) == {"title"}
        nul = http.post("/v1/leads", json={"email": "a@acme.io", "traits": {"k": "a\u0000"}})
        assert error(nul, 422)
        huge = http.post("/v1/leads", json={"email": "a@acme.io", "traits": {"k": 2**70}})
        assert error(huge, 422)
        message = error(huge, 422)["errors"][0]
        assert message["field"] == "traits.k"
        assert "a number within ±9e18" in message["message"]
        edge = {"k": [9 * 10**18, -9e18, 1.5, "text", None, True, {"n": []}]}
        big = http.post("/v1/leads", json={"email": "a@acme.io", "traits": edge})
        assert big.status_code == 201, big.text
        assert big.json()["traits"] == edge


@sqlite_only
def test_malformed_json_is_422_naming_the_body(app_server: AppServer) -> None:
    with app_server.client() as http:
        response = http.post(
            "/v1/leads",
            content=b'{"email": "a@acme.io",',
            headers={"content-type": "application/json"},
        )
        body = error(response, 422)
        assert body["code"] == "invalid_request"
        assert "JSON decode error" in body["message"]
        wrong_type = http.post("/v1/leads", json={"email": "a@acme.io", "traits": []})
        assert fields(wrong_type) == {"traits"}
        not_object = http.post("/v1/leads", json=["a@acme.io"])
        assert error(not_object, 422)["code"] == "invalid_request"


@sqlite_only
def test_unknown_stage_is_refused_in_filters_and_stage_changes(app_server: AppServer) -> None:
    with app_server.client() as http:
        lead = created(http, email="us@acme.io")
        assert fields(http.get("/v1/leads", params={"stage": "won"})) == {"stage"}
        move = http.post(f"/v1/leads/{lead['id']}/stage", json={"to": "won", "reason": "r"})
        assert fields(move) == {"to"}
        blank = http.post(f"/v1/leads/{lead['id']}/stage", json={"to": "mql", "reason": "  "})
        assert fields(blank) == {"reason"}
        assert fields(http.post(f"/v1/leads/{lead['id']}/stage", json={"to": "mql"})) == {"reason"}
        history = http.get(f"/v1/leads/{lead['id']}/transitions").json()["items"]
    assert history == []


@sqlite_only
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": -1}, "limit"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"cursor": "not a cursor"}, "cursor"),
        ({"cursor": "abc.def"}, "cursor"),  # a touchpoint cursor on the leads list
        ({"grade": "E"}, "grade"),
        ({"min_score": "nan"}, "min_score"),
        ({"updated_since": "2026-03-01T09:00:00"}, "updated_since"),  # no zone: ambiguous
        ({"updated_since": "yesterday"}, "updated_since"),
        ({"account_domain": "not a domain"}, "account_domain"),
        ({"owner": "a\u0000b"}, "owner"),
    ],
)
def test_bad_list_parameters_are_422_naming_them(
    app_server: AppServer, params: dict[str, Any], field: str
) -> None:
    with app_server.client() as http:
        response = http.get("/v1/leads", params=params)
    assert fields(response) == {field}


@sqlite_only
def test_bad_touchpoint_cursor_and_limit(app_server: AppServer) -> None:
    with app_server.client() as http:
        lead = created(http, email="bc@acme.io")
        path = f"/v1/leads/{lead['id']}/touchpoints"
        assert fields(http.get(path, params={"cursor": "abc"})) == {"cursor"}
        assert fields(http.get(path, params={"limit": -5})) == {"limit"}
        # A cursor of the right shape is a position, even far past the newest touchpoint.
        far = http.get(path, params={"cursor": "zzzzzzzzzzzz.zzzzzzzzzzzz"})
    assert far.status_code == 200
    assert far.json() == {"items": [], "next_cursor": None}


@sqlite_only
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/leads/{id}"),
        ("PATCH", "/v1/leads/{id}"),
        ("GET", "/v1/leads/{id}/touchpoints"),
        ("GET", "/v1/leads/{id}/score"),
        ("GET", "/v1/leads/{id}/transitions"),
        ("POST", "/v1/leads/{id}/stage"),
    ],
)
def test_unknown_lead_is_404(app_server: AppServer, method: str, path: str) -> None:
    body = {"PATCH": {"title": "x"}, "POST": {"to": "mql", "reason": "r"}}.get(method)
    with app_server.client() as http:
        response = http.request(method, path.format(id=424242), json=body)
        out_of_range = http.request(method, path.format(id=2**63), json=body)
    assert error(response, 404) == {"code": "not_found", "message": "no lead with id 424242"}
    assert fields(out_of_range) == {"lead_id"}
