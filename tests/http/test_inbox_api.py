"""Inbox mode over HTTP (the app in this process): capture answers with inline mode's counts,
the server's qualifier thread stores and scores, the backlog limit answers 503, and the
admin endpoint shows the inbox."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from leadgate.bootstrap import App
from leadgate.config import Settings
from leadgate.domain.identity import IdentityKey, IdentityKind
from leadgate.services.inbox_drain import drain_inbox
from leadgate.services.keys import create_key
from leadgate.services.ports import QueuedCall
from tests.conftest import T0
from tests.http.conftest import AppServer, app_client, sqlite_only, started_app


@contextmanager
def inbox_app(engine: Engine, **settings: Any) -> Iterator[AppServer]:
    """The app in inbox mode on ``engine``, with a tracking and an admin key."""
    config = Settings(
        database_url="sqlite://", key_cache_seconds=0.0, ingest_mode="inbox", **settings
    )
    wired = App(config, engine)
    track = create_key(wired.uow(), name="t", scopes="track", now=T0).secret
    admin = create_key(wired.uow(), name="a", scopes="admin", now=T0).secret
    with started_app(wired) as (api, portal):
        yield AppServer("http://testserver", wired, track, admin, api, portal)


def page(mid: str, person: int, path: str = "/pricing") -> dict[str, Any]:
    return {
        "type": "page",
        "messageId": mid,
        "userId": f"user-{person}",
        "anonymousId": f"anon-{person}",
        "name": path,
        "properties": {"path": path},
    }


def identify(mid: str, person: int) -> dict[str, Any]:
    return {
        "type": "identify",
        "messageId": mid,
        "userId": f"user-{person}",
        "traits": {"email": f"person{person}@acme.io", "seniority": "vp", "title": "VP Sales"},
    }


def post(http: httpx.Client, *messages: dict[str, Any]) -> httpx.Response:
    return http.post("/v1/batch", json={"batch": list(messages)})


def drained(http: httpx.Client, timeout: float = 10.0) -> dict[str, Any]:
    """The admin facts once nothing waits (the server's qualifier runs in a thread)."""
    deadline = time.monotonic() + timeout
    while True:
        facts: dict[str, Any] = http.get("/v1/admin/inbox").json()
        if facts["backlog"] == 0 or time.monotonic() > deadline:
            return facts
        time.sleep(0.02)


def test_capture_answers_the_inline_counts_and_the_qualifier_scores_the_leads(
    engine: Engine, default_model: int
) -> None:
    with inbox_app(engine) as server, server.client(server.track_key) as track:
        first = post(track, identify("i1", 1), page("p1", 1), page("p2", 2), page("p1", 1))
        assert first.status_code == 200, first.text
        assert first.json() == {
            "success": True,
            "received": 4,
            "accepted": 4,
            "stored": 2,
            "duplicates": 1,
            "rejected": [],
            "warnings": [],
        }
        # A retry before or after the qualifier ran: the same answer, nothing stored twice.
        retry = post(track, page("p2", 2), page("p3", 2, "/demo"))
        assert (retry.json()["stored"], retry.json()["duplicates"]) == (1, 1)
        with server.client() as admin:
            facts = drained(admin)
        assert (facts["ingest_mode"], facts["backlog"], facts["parked"]) == ("inbox", 0, 0)
        assert facts["recent_drained"] == 4 and facts["lag_p99_seconds"] is not None
        again = post(track, page("p1", 1), page("p3", 2, "/demo"))
        assert (again.json()["stored"], again.json()["duplicates"]) == (0, 2)
    with server.app.uow() as uow:
        leads = uow.leads.resolve(
            [
                IdentityKey(IdentityKind.USER_ID, "user-1"),
                IdentityKey(IdentityKind.USER_ID, "user-2"),
            ]
        )
        scores = uow.scores.get_many(leads.values())
        touchpoints = uow.touchpoints.known({"p1", "p2", "p3"})
        lead = uow.leads.get_many(leads.values())[
            leads[IdentityKey(IdentityKind.USER_ID, "user-1")]
        ]
    assert touchpoints == {"p1", "p2", "p3"}
    assert set(scores) == set(leads.values()) and all(s.total > 0 for s in scores.values())
    assert (lead.email, lead.title) == ("person1@acme.io", "VP Sales")


@sqlite_only
def test_past_the_backlog_limit_capture_answers_503_with_retry_after(
    engine: Engine, default_model: int
) -> None:
    with inbox_app(engine, inbox_max_backlog=3, inbox_serve_qualifier=False) as server:
        with server.client(server.track_key) as track:
            assert post(track, page("p1", 1), page("p2", 2)).status_code == 200
            assert post(track, page("p3", 3)).status_code == 200
            refused = post(track, page("p4", 4))
            assert refused.status_code == 503
            assert refused.headers["Retry-After"] == "5"
            body = refused.json()
            assert body["code"] == "inbox_full"
            assert "LEADGATE_INBOX_MAX_BACKLOG (3)" in body["message"]
            # A retry that adds nothing is still answered; PostHog's endpoint is refused too.
            assert post(track, page("p1", 1)).json()["duplicates"] == 1
            capture = track.post(
                "/capture/", json={"event": "signup", "distinct_id": "d-1", "uuid": "u-1"}
            )
            assert capture.status_code == 503 and capture.json()["code"] == "inbox_full"
            drain_inbox(server.app.uow_factory, lambda: T0 + timedelta(minutes=1))
            assert post(track, page("p4", 4)).status_code == 200
        # Readiness reveals nothing of the backlog.
        with server.client("") as anyone:
            ready = anyone.get("/readyz").json()
        assert set(ready) == {"status", "database", "schema_revision", "schema_needed"}


@sqlite_only
def test_the_admin_endpoint_shows_the_backlog_and_parked_calls_to_admin_keys_only(
    engine: Engine, default_model: int
) -> None:
    with inbox_app(engine, inbox_serve_qualifier=False) as server:
        with server.client(server.track_key) as track:
            assert post(track, page("p1", 1), page("p2", 2)).status_code == 200
            assert track.get("/v1/admin/inbox").status_code == 403
        with app_client(server.api, server.portal) as anonymous:
            assert anonymous.get("/v1/admin/inbox").status_code == 401
        with server.client() as admin:
            facts = admin.get("/v1/admin/inbox").json()
            assert (facts["backlog"], facts["parked"], facts["max_backlog"]) == (2, 0, 200_000)
            assert facts["oldest_age_seconds"] >= 0 and facts["recent_drained"] == 0
            with server.app.uow() as uow:
                uow.inbox.append([QueuedCall("garbled", True, T0, {"v": 99, "id": "garbled"})])
                uow.commit()
            with server.client(server.track_key) as track:
                assert post(track, page("p3", 3)).status_code == 200
            drain_inbox(server.app.uow_factory, lambda: T0 + timedelta(minutes=1))
            facts = admin.get("/v1/admin/inbox").json()
            assert (facts["backlog"], facts["parked"], facts["recent_drained"]) == (0, 1, 3)
            page_ = admin.get("/v1/admin/inbox/parked").json()
        (parked,) = page_["items"]
        assert (parked["message_id"], parked["call"]) == ("garbled", {"v": 99, "id": "garbled"})
        assert parked["reason"].startswith("cannot rebuild the call: document format 99")
        assert page_["next_after_id"] is None


@sqlite_only
@pytest.mark.parametrize("path", ["/v1/admin/inbox", "/v1/admin/inbox/parked"])
def test_the_admin_endpoints_answer_in_inline_mode_too(app_server: AppServer, path: str) -> None:
    with app_server.client() as admin:
        response = admin.get(path)
    assert response.status_code == 200
    if path.endswith("inbox"):
        assert (response.json()["ingest_mode"], response.json()["backlog"]) == ("inline", 0)
