"""REST API: saved audiences (create, list, show, refresh, CSV export), through the app in this
process, on SQLite and PostgreSQL (refusals on SQLite only). Members are checked against the leads
and scores tables read directly, and membership changes reach the audience's endpoint through the
outbox."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
from sqlalchemy import select

from leadgate.adapters.db import tables as t
from tests.http.conftest import AppServer, sqlite_only
from tests.http.test_handoffs_api import error, fields, reader_key
from tests.integration.receivers import SECRET, http_receiver

RECYCLED_A = [{"field": "stage", "in": ["recycled"]}, {"field": "grade", "eq": "A"}]


def lead(http: httpx.Client, email: str, stage: str | None = None, **profile: Any) -> int:
    response = http.post("/v1/leads", json={"email": email, **profile})
    assert response.status_code == 201, response.text
    lead_id = int(response.json()["id"])
    if stage:
        moved = http.post(
            f"/v1/leads/{lead_id}/stage", json={"to": stage, "reason": "test", "override": True}
        )
        assert moved.status_code == 201, moved.text
    return lead_id


def world(http: httpx.Client) -> None:
    """Leads of each kind: recycled or not, grade A or not (fit: vp 15, marketing 10,
    software 10, 50-5,000 employees 10 → 45, A; a manager in marketing → 15, C)."""
    account = {"domain": "acme-aud.io", "industry": "software", "employees": 120}
    assert http.post("/v1/accounts", json=account).status_code == 201
    strong = {"seniority": "vp", "department": "marketing"}
    lead(http, "ann@acme-aud.io", "recycled", first_name="Ann", **strong)
    lead(http, "bo@acme-aud.io", "recycled", seniority="manager", department="marketing")
    lead(http, "cy@acme-aud.io", "mql", **strong)
    lead(http, "dee@acme-aud.io", "recycled", last_name="O'Hara, Jr.", **strong)
    lead(http, "eve@globex-aud.io", "recycled")


def expected(server: AppServer) -> dict[int, tuple[str, str, float]]:
    """Recycled leads with a stored grade A, read from the tables: id → (email, grade,
    total)."""
    with server.app.engine.connect() as connection:
        rows = connection.execute(
            select(t.leads.c.id, t.leads.c.email, t.scores.c.grade, t.scores.c.total)
            .join(t.scores, t.scores.c.lead_id == t.leads.c.id)
            .where(t.leads.c.stage == "recycled", t.scores.c.grade == "A")
        )
        return {row.id: (row.email, row.grade, row.total) for row in rows}


def exported(http: httpx.Client, audience_id: int) -> list[dict[str, str]]:
    response = http.get(f"/v1/audiences/{audience_id}/export.csv")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    return list(csv.DictReader(io.StringIO(response.text)))


def test_refresh_and_export_match_the_leads_and_push_changes(app_server: AppServer) -> None:
    with http_receiver() as receiver, app_server.client() as http:
        world(http)
        hook = http.post(
            "/v1/endpoints",
            json={
                "name": "ads",
                "kind": "webhook",
                "config": {"url": receiver.url("/hook"), "secret": SECRET},
                "events": ["audience.changed"],
            },
        ).json()
        created = http.post(
            "/v1/audiences",
            json={"name": " Recycled A ", "conditions": RECYCLED_A, "endpoint_id": hook["id"]},
        )
        assert created.status_code == 201, created.text
        audience = created.json()
        members = expected(app_server)
        assert len(members) == 2  # ann and dee
        first = http.post(f"/v1/audiences/{audience['id']}/refresh").json()
        rows = exported(http, audience["id"])
        shown = http.get(f"/v1/audiences/{audience['id']}").json()

        # Dee requalifies: she leaves the audience; the next refresh pushes that.
        (dee,) = [i for i, m in members.items() if m[0] == "dee@acme-aud.io"]
        http.post(f"/v1/leads/{dee}/stage", json={"to": "mql", "reason": "back"}).raise_for_status()
        second = http.post(f"/v1/audiences/{audience['id']}/refresh").json()
        unchanged = http.post(f"/v1/audiences/{audience['id']}/refresh").json()
        pushes = [
            http.get(f"/v1/outbox/{m['id']}").json()["notification"]["payload"]
            for m in http.get("/v1/outbox", params={"endpoint_id": hook["id"]}).json()["items"]
        ]
        listed = http.get("/v1/audiences").json()["items"]
    assert audience["name"] == "Recycled A"
    assert audience["conditions"] == [
        {"field": "stage", "op": "in", "value": ["recycled"]},
        {"field": "grade", "op": "eq", "value": "A"},
    ]
    assert (audience["members"], audience["refreshed_at"]) == (0, None)
    assert first == {"audience_id": audience["id"], "members": 2, "added": 2, "removed": 0}
    assert {int(r["lead_id"]): (r["email"], r["grade"], float(r["score"])) for r in rows} == {
        i: (email, grade, round(total, 2)) for i, (email, grade, total) in members.items()
    }
    assert list(rows[0]) == [
        "lead_id", "email", "first_name", "last_name", "account_domain", "stage", "grade", "score"
    ]  # fmt: skip
    by_email = {r["email"]: r for r in rows}
    assert by_email["dee@acme-aud.io"]["last_name"] == "O'Hara, Jr."  # quoted, kept whole
    assert by_email["ann@acme-aud.io"]["first_name"] == "Ann"
    assert by_email["dee@acme-aud.io"]["first_name"] == ""  # unknown: empty
    assert {r["stage"] for r in rows} == {"recycled"}
    assert {r["account_domain"] for r in rows} == {"acme-aud.io"}
    assert shown["members"] == 2
    assert shown["refreshed_at"] is not None
    assert second == {"audience_id": audience["id"], "members": 1, "added": 0, "removed": 1}
    assert unchanged == {"audience_id": audience["id"], "members": 1, "added": 0, "removed": 0}
    assert [
        (sorted(m["lead_id"] for m in p["added"]), [m["lead_id"] for m in p["removed"]])
        for p in pushes
    ] == [(sorted(members), []), ([], [dee])]  # nothing pushed when nothing changed
    assert [(a["id"], a["members"]) for a in listed] == [(audience["id"], 1)]


def test_the_export_is_the_members_now_and_streams_many(app_server: AppServer) -> None:
    with app_server.client() as http:
        audience = http.post(
            "/v1/audiences",
            json={"name": "vps", "conditions": [{"field": "seniority", "op": "eq", "value": "vp"}]},
        ).json()
        assert exported(http, audience["id"]) == []
        for n in range(3):
            lead(http, f"vp{n}@initech-aud.io", seniority="vp")
        lead(http, "ic@initech-aud.io", seniority="ic")
        rows = exported(http, audience["id"])  # not refreshed: computed now
    assert [r["email"] for r in rows] == [f"vp{n}@initech-aud.io" for n in range(3)]


BAD_CONDITIONS: list[tuple[dict[str, Any], str]] = [
    ({"field": "stage"}, "conditions.0"),  # no operator
    ({"field": "stage", "in": ["recycled"], "eq": "mql"}, "conditions.0"),
    ({"field": "stage", "op": "in", "value": ["recycled"], "in": ["mql"]}, "conditions.0"),
    ({"field": "stage", "in": ["recycld"]}, "conditions.0"),  # a typo would match nobody
    ({"field": "grade", "eq": "E"}, "conditions.0"),
    ({"field": "stage", "in": []}, "conditions.0"),
    ({"field": "email", "regex": "(unclosed"}, "conditions.0"),
    ({"field": "score", "between": [80, 20]}, "conditions.0"),
    ({"field": "score", "gte": "high"}, "conditions.0"),
    ({"field": "stage", "op": "like", "value": "x"}, "conditions.0.op"),
    ({"field": " ", "eq": "x"}, "conditions.0.field"),
    ({"field": "x", "eq": "a", "colour": "red"}, "conditions.0.colour"),
]


@sqlite_only
def test_bad_conditions_are_422_naming_the_condition(app_server: AppServer) -> None:
    with app_server.client() as http:
        for condition, field in BAD_CONDITIONS:
            response = http.post("/v1/audiences", json={"name": "bad", "conditions": [condition]})
            assert fields(response) == {field}, condition
        assert http.get("/v1/audiences").json() == {"items": []}


def test_names_are_unique_endpoints_must_exist_and_writing_needs_write(
    app_server: AppServer,
) -> None:
    body = {"name": "recycled", "conditions": [{"field": "stage", "eq": "recycled"}]}
    with app_server.client() as http:
        first = http.post("/v1/audiences", json=body)
        assert first.status_code == 201, first.text
        duplicate = http.post("/v1/audiences", json={**body, "name": " recycled"})
        no_endpoint = http.post("/v1/audiences", json={**body, "name": "x", "endpoint_id": 999})
        missing = [
            http.get("/v1/audiences/424242"),
            http.post("/v1/audiences/424242/refresh"),
            http.get("/v1/audiences/424242/export.csv"),
        ]
    assert error(duplicate, 409)["code"] == "already_exists"
    assert fields(no_endpoint) == {"endpoint_id"}
    for response in missing:
        assert error(response, 404)["code"] == "not_found"
    audience_id = first.json()["id"]
    with app_server.client(reader_key(app_server)) as http:
        assert http.get(f"/v1/audiences/{audience_id}/export.csv").status_code == 200
        assert error(http.post("/v1/audiences", json={**body, "name": "y"}), 403)
        assert error(http.post(f"/v1/audiences/{audience_id}/refresh"), 403)
