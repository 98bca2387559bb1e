"""REST API: handoffs (list, show, first touch), a lead's handoffs and context package,
manual handoff, through the app in this process, on SQLite and PostgreSQL (refusals on
SQLite only)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import yaml

from leadgate.models.handoff import default_handoff_text
from leadgate.services.handoffs import hand_off_manually
from leadgate.services.keys import create_key
from tests.conftest import T0
from tests.http.conftest import AppServer, sqlite_only

EMEA = {"lena.schmidt@example.com", "tom.jansen@example.com", "sofia.rossi@example.com"}
NA = {"jake.miller@example.com", "priya.shah@example.com", "sam.lee@example.com"}


# --- helpers shared by the handoff API tests -------------------------------------------


def error(response: httpx.Response, status: int) -> dict[str, Any]:
    """The error body, after checking its status and shape."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) >= {"code", "message"}
    return body


def fields(response: httpx.Response, status: int = 422) -> set[str]:
    return {e["field"] for e in error(response, status)["errors"]}


def lead(http: httpx.Client, email: str, **profile: Any) -> int:
    response = http.post("/v1/leads", json={"email": email, **profile})
    assert response.status_code in (200, 201), response.text
    return int(response.json()["id"])


def pushed(http: httpx.Client, lead_id: int) -> dict[str, Any]:
    response = http.post(f"/v1/leads/{lead_id}/handoff")
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def reader_key(server: AppServer) -> str:
    return create_key(server.app.uow(), name="reader", scopes="read", now=T0).secret


def writer_key(server: AppServer) -> str:
    return create_key(server.app.uow(), name="writer", scopes="write", now=T0).secret


# --- an independent SLA deadline -------------------------------------------------------


def berlin_deadline(start: datetime, hours: float) -> datetime:
    """``hours`` of Berlin business time (Mon-Fri 09:00-18:00, the shipped holidays)
    after ``start``, counted day by day here rather than by leadgate's calendar."""
    document = yaml.safe_load(default_handoff_text())
    holidays = set(document["calendars"]["berlin"]["holidays"])
    zone = ZoneInfo("Europe/Berlin")
    left = timedelta(hours=hours)
    now = start.astimezone(zone)
    while True:
        day: date = now.date()
        if now.weekday() < 5 and day not in holidays:
            opens = datetime.combine(day, time(9), zone)
            closes = datetime.combine(day, time(18), zone)
            now = max(now, opens)
            if now < closes:
                taken = min(left, closes - now)
                left -= taken
                now += taken
                if not left:
                    return now.astimezone(UTC)
        now = datetime.combine(day + timedelta(days=1), time(0), zone)


# --- a lead crossing the gate ------------------------------------------------------------


def test_a_lead_crossing_the_gate_through_tracking_is_handed_off(app_server: AppServer) -> None:
    with app_server.client() as http:
        # vp + marketing: fit 25, grade B; a demo request then skips it to SQL.
        lead_id = lead(http, "ann@acme-gate.io", seniority="vp", department="marketing")
        assert http.get("/v1/handoffs").json() == {"items": [], "next_cursor": None}
    with app_server.client(app_server.track_key) as tracking:
        sent = tracking.post(
            "/v1/track",
            json={
                "userId": "u-ann",
                "event": "Demo Requested",
                "messageId": "gate-1",
                "context": {"traits": {"email": "ann@acme-gate.io"}},
                "properties": {"path": "/demo"},
            },
        )
        assert sent.status_code == 200, sent.text
    with app_server.client() as http:
        listed = http.get("/v1/handoffs").json()
        (item,) = listed["items"]
        detail = http.get(f"/v1/handoffs/{item['id']}").json()
        context = http.get(f"/v1/leads/{lead_id}/context").json()
        of_lead = http.get(f"/v1/leads/{lead_id}/handoffs").json()["items"]
        now_lead = http.get(f"/v1/leads/{lead_id}").json()
    assert listed["next_cursor"] is None
    assert item["lead_id"] == lead_id
    assert (item["kind"], item["team"], item["status"]) == ("gate", "emea", "pending")
    assert item["owner"] in EMEA
    assert now_lead["owner"] == item["owner"]  # the rep became the lead's owner
    assert now_lead["stage"] == "sql"
    assert (item["sla_policy"], item["sla_status"]) == ("demo_request", "open")
    assert item["first_touch_at"] is None
    created = datetime.fromisoformat(item["created_at"])
    due = datetime.fromisoformat(item["due_at"])
    assert abs(due - berlin_deadline(created, 1)) < timedelta(seconds=1)
    assert "context" not in item
    package = detail["context"]
    assert package["lead"]["email"] == "ann@acme-gate.io"
    assert [t["name"] for t in package["crossing_touchpoints"]] == ["demo_request"]
    assert context == {
        "lead_id": lead_id,
        "handoff_id": item["id"],
        "handed_off_at": item["created_at"],
        "context": package,
    }
    assert [h["id"] for h in of_lead] == [item["id"]]


# --- listing -------------------------------------------------------------------------


def test_handoffs_filter_by_owner_team_status_and_sla_status_and_page(
    app_server: AppServer,
) -> None:
    with app_server.client() as http:
        # Country US with an account of unknown country: the North America team.
        us = [pushed(http, lead(http, f"us{n}@globex-us.io", country="US")) for n in range(3)]
        eu = [pushed(http, lead(http, f"eu{n}@initech-eu.io")) for n in range(2)]

        def ids(**params: Any) -> list[int]:
            response = http.get("/v1/handoffs", params=params)
            assert response.status_code == 200, response.text
            return [h["id"] for h in response.json()["items"]]

        everyone = [h["id"] for h in us + eu]
        assert ids() == everyone
        assert ids(team="na") == [h["id"] for h in us]
        assert ids(team="emea") == [h["id"] for h in eu]
        assert {h["owner"] for h in us} <= NA
        owner = us[0]["owner"]
        assert ids(owner=owner) == [h["id"] for h in us + eu if h["owner"] == owner]
        assert ids(status="pending", sla_status="open") == everyone
        assert ids(status="accepted") == []
        assert ids(sla_status="breached") == []

        seen: list[int] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
            page = http.get("/v1/handoffs", params=params).json()
            seen += [h["id"] for h in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == everyone
        for params in ({"status": "open"}, {"sla_status": "late"}, {"cursor": "a.b"}):
            assert fields(http.get("/v1/handoffs", params=params)) == set(params)


# --- manual handoff --------------------------------------------------------------------


def test_a_lead_pushed_by_hand_is_routed_once(app_server: AppServer) -> None:
    with app_server.client() as http:
        lead_id = lead(http, "bo@initech-push.io")
        handoff = pushed(http, lead_id)
        again = http.post(f"/v1/leads/{lead_id}/handoff")
        missing = http.post("/v1/leads/424242/handoff")
        no_context = http.get(f"/v1/leads/{lead(http, 'cy@initech-push.io')}/context")
    assert (handoff["kind"], handoff["team"], handoff["sla_policy"]) == (
        "manual",
        "emea",
        "standard",
    )
    assert handoff["owner"] in EMEA
    assert handoff["context"]["lead"]["email"] == "bo@initech-push.io"
    assert error(again, 409)["code"] == "already_pending"
    assert f"pending handoff {handoff['id']}" in again.json()["message"]
    assert error(missing, 404) == {"code": "not_found", "message": "no lead with id 424242"}
    assert error(no_context, 404)["code"] == "no_handoff"
    with app_server.app.uow() as uow:
        assert [h.id for h in uow.handoffs.for_lead(lead_id)] == [handoff["id"]]


# --- first touch -----------------------------------------------------------------------


def test_first_touch_meets_or_breaches_the_sla_and_only_the_first_counts(
    app_server: AppServer,
) -> None:
    with app_server.client() as http:
        on_time_lead = lead(http, "dee@hooli-touch.io")
        late_lead = lead(http, "eve@hooli-touch.io")
    # Handed off on Monday 2 March 2026 at 10:00 in Berlin: 4 business hours, due 14:00.
    on_time = hand_off_manually(app_server.app.uow(), on_time_lead, now=T0)
    late = hand_off_manually(app_server.app.uow(), late_lead, now=T0)
    assert on_time.due_at == T0 + timedelta(hours=4) == berlin_deadline(T0, 4)
    with app_server.client() as http:
        met = http.post(
            f"/v1/handoffs/{on_time.id}/first-touch", json={"at": "2026-03-02T12:00:00Z"}
        )
        breached = http.post(
            f"/v1/handoffs/{late.id}/first-touch", json={"at": "2026-03-02T14:00:01+01:00"}
        )
        second = http.post(
            f"/v1/handoffs/{on_time.id}/first-touch", json={"at": "2026-03-03T09:00:00Z"}
        )
        assert met.status_code == breached.status_code == second.status_code == 200, met.text
        assert (met.json()["sla_status"], met.json()["first_touch_at"]) == (
            "met",
            "2026-03-02T12:00:00Z",
        )
        assert breached.json()["sla_status"] == "breached"  # 13:00:01 UTC, due 13:00
        assert second.json() == met.json()  # the first touch stays
        assert http.get("/v1/handoffs", params={"sla_status": "met"}).json()["items"][0]["id"] == (
            on_time.id
        )

        fresh = pushed(http, lead(http, "fay@hooli-touch.io"))
        now = http.post(f"/v1/handoffs/{fresh['id']}/first-touch")
        assert now.status_code == 200, now.text
        touched = datetime.fromisoformat(now.json()["first_touch_at"])
        assert abs(touched - datetime.now(UTC)) < timedelta(minutes=1)
        assert now.json()["sla_status"] == "met"

        other = pushed(http, lead(http, "gus@hooli-touch.io"))
        path = f"/v1/handoffs/{other['id']}/first-touch"
        future = datetime.now(UTC) + timedelta(hours=1)
        assert fields(http.post(path, json={"at": future.isoformat()})) == {"at"}
        assert fields(http.post(path, json={"at": "2020-01-01T00:00:00Z"})) == {"at"}
        assert fields(http.post(path, json={"at": "2026-03-02T12:00:00"})) == {"at"}  # no zone
        assert fields(http.post(path, json={"when": "2026-03-02T12:00:00Z"})) == {"when"}
        assert http.get(f"/v1/handoffs/{other['id']}").json()["first_touch_at"] is None
        assert error(http.post("/v1/handoffs/424242/first-touch"), 404)["code"] == "not_found"
        assert error(http.get("/v1/handoffs/424242"), 404)["code"] == "not_found"


# --- scopes -----------------------------------------------------------------------------


@sqlite_only
def test_reading_handoffs_needs_read_and_pushing_needs_write(app_server: AppServer) -> None:
    with app_server.client() as http:
        lead_id = lead(http, f"hal-{uuid.uuid4().hex[:6]}@umbrella-scope.io")
        handoff = pushed(http, lead_id)
    with app_server.client(reader_key(app_server)) as http:
        assert http.get("/v1/handoffs").status_code == 200
        assert http.get(f"/v1/handoffs/{handoff['id']}").status_code == 200
        assert http.get(f"/v1/leads/{lead_id}/context").status_code == 200
        refused = http.post(f"/v1/handoffs/{handoff['id']}/first-touch")
        assert error(refused, 403)["code"] == "forbidden"
        assert "'write'" in refused.json()["message"]
        other = lead_id  # already pending, but the scope is checked first
        assert error(http.post(f"/v1/leads/{other}/handoff"), 403)["code"] == "forbidden"
    with app_server.client(writer_key(app_server)) as http:
        assert http.get("/v1/handoffs").status_code == 403
        touched = http.post(f"/v1/handoffs/{handoff['id']}/first-touch")
        assert touched.status_code == 200, touched.text
    with app_server.client("") as http:
        assert error(http.get("/v1/handoffs"), 401)["code"] == "unauthorized"


@sqlite_only
def test_unknown_lead_is_404_and_an_id_out_of_range_422(app_server: AppServer) -> None:
    with app_server.client() as http:
        for method, path in [
            ("POST", "/v1/leads/{id}/handoff"),
            ("GET", "/v1/leads/{id}/handoffs"),
            ("GET", "/v1/leads/{id}/context"),
        ]:
            response = http.request(method, path.format(id=424242))
            assert error(response, 404) == {
                "code": "not_found",
                "message": "no lead with id 424242",
            }
            assert fields(http.request(method, path.format(id=2**63))) == {"lead_id"}
