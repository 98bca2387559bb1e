"""REST API: notification endpoints and the outbox, through the app in this process, on SQLite and
PostgreSQL (refusals on SQLite only): settings are checked naming the field, credentials never come
back, pausing stops new messages, the outbox lists and filters messages with their attempts, and a
dead message replays to a real local receiver with its idempotency key."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx

from leadgate.adapters.notify.dispatch import Dispatcher
from leadgate.api.schemas.notifications import SUBSCRIPTIONS
from leadgate.domain.notifications import EventType
from leadgate.services.delivery import deliver_due
from tests.http.conftest import AppServer, sqlite_only
from tests.http.test_handoffs_api import error, fields, lead, pushed, reader_key, writer_key
from tests.integration.receivers import SECRET, http_receiver

TOKEN = "T0KEN-in-the-path-4f9a"
HEADER_TOKEN = "Bearer header-token-77c1"


def endpoint(http: httpx.Client, **body: Any) -> dict[str, Any]:
    response = http.post("/v1/endpoints", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def webhook(url: str, name: str = "crm", events: list[str] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "kind": "webhook",
        "config": {"url": url, "secret": SECRET, "headers": {"Authorization": HEADER_TOKEN}},
        "events": events or ["handoff.created"],
    }


def deliver(server: AppServer, *, max_attempts: int = 8) -> None:
    with Dispatcher(timeout=5) as dispatcher:
        deliver_due(
            server.app.uow, dispatcher, lambda: datetime.now(UTC), max_attempts=max_attempts
        )


def test_the_subscriptions_offered_are_every_event_type_and_star() -> None:
    assert set(SUBSCRIPTIONS) == {e.value for e in EventType} | {"*"}


BAD_SETTINGS: list[tuple[dict[str, Any], str]] = [
    ({"kind": "webhook", "config": {"url": "http://127.0.0.1/h", "secret": "short"}}, "secret"),
    ({"kind": "webhook", "config": {"url": "ftp://127.0.0.1/h", "secret": SECRET}}, "url"),
    ({"kind": "slack", "config": {}}, "url"),
    (
        {"kind": "slack", "config": {"url": "https://hooks.slack.com/x", "secert": "s"}},
        "secert",
    ),
    ({"kind": "teams", "config": {"url": "https://x.example/h", "timeout": 0}}, "timeout"),
    ({"kind": "email", "config": {"host": "127.0.0.1", "to": "a@b.io"}}, "from"),
    ({"kind": "email", "config": {"host": "127.0.0.1", "from": "x@y.io", "to": "nope"}}, "to"),
]


@sqlite_only
def test_bad_channel_settings_are_422_naming_the_field_and_not_stored(
    app_server: AppServer,
) -> None:
    with app_server.client() as http:
        for body, field in BAD_SETTINGS:
            response = http.post("/v1/endpoints", json={"name": "x", "events": ["*"], **body})
            assert fields(response) == {f"config.{field}"}, body
            assert error(response, 422)["code"] == "invalid_channel_config"
            assert SECRET not in response.text
        assert http.get("/v1/endpoints").json() == {"items": []}


@sqlite_only
def test_bad_endpoint_requests_are_422_naming_the_field(app_server: AppServer) -> None:
    good = webhook("http://127.0.0.1:9/hook")
    with app_server.client() as http:
        for change, field in [
            ({"events": ["handoff.made"]}, "events.0"),
            ({"events": []}, "events"),
            ({"kind": "pager"}, "kind"),
            ({"name": "  "}, "name"),
            ({"config": {"url": "a\u0000b"}}, "config.url"),
            ({"colour": "red"}, "colour"),
        ]:
            assert fields(http.post("/v1/endpoints", json={**good, **change})) == {field}, change
        assert http.get("/v1/endpoints").json() == {"items": []}


def test_answers_never_show_secrets_tokens_or_header_values(app_server: AppServer) -> None:
    url = f"https://hooks.example.com:8443/services/{TOKEN}?sig={TOKEN}"
    with app_server.client() as http:
        created = endpoint(http, **webhook(url, events=["handoff.created", "sla.breached"]))
        mail = endpoint(
            http,
            name="ops-mail",
            kind="email",
            config={
                "host": "smtp.example.com",
                "from": "leadgate@example.com",
                "to": ["ops@example.com"],
                "username": "leadgate",
                "password": "hunter2-smtp-pass",
            },
            events=["*", "sla.breached"],
        )
        duplicate = http.post("/v1/endpoints", json=webhook(url))
        answers = [
            http.get("/v1/endpoints").text,
            http.get(f"/v1/endpoints/{created['id']}").text,
            http.patch(f"/v1/endpoints/{created['id']}", json={"active": True}).text,
        ]
    assert created["config"] == {
        "url": "https://hooks.example.com:8443/…",
        "secret": "***",
        "headers": {"Authorization": "***"},
    }
    assert sorted(created["redacted"]) == ["headers.Authorization", "secret", "url"]
    assert (created["kind"], created["events"], created["active"]) == (
        "webhook",
        ["handoff.created", "sla.breached"],
        True,
    )
    assert mail["config"]["password"] == "***"
    assert mail["config"]["username"] == "leadgate"
    assert mail["redacted"] == ["password"]
    assert mail["events"] == ["*"]  # every event already
    assert error(duplicate, 409)["code"] == "already_exists"
    for text in [json.dumps(created), json.dumps(mail), duplicate.text, *answers]:
        for secret in (TOKEN, SECRET, HEADER_TOKEN, "hunter2-smtp-pass"):
            assert secret not in text
    with app_server.app.uow() as uow:  # stored as given: the worker needs them
        stored = uow.outbox.endpoint(created["id"])
    assert stored is not None
    assert stored.config["url"] == url


def test_a_paused_endpoint_gets_no_new_messages(app_server: AppServer) -> None:
    with app_server.client() as http:
        created = endpoint(http, **webhook("http://127.0.0.1:9/hook"))
        paused = http.patch(f"/v1/endpoints/{created['id']}", json={"active": False})
        pushed(http, lead(http, "ann@acme-ep.io"))
        while_paused = http.get("/v1/outbox").json()["items"]
        resumed = http.patch(f"/v1/endpoints/{created['id']}", json={"active": True})
        second = pushed(http, lead(http, "bo@acme-ep.io"))
        after = http.get("/v1/outbox").json()["items"]
        missing = http.patch("/v1/endpoints/424242", json={"active": True})
        not_bool = http.patch(f"/v1/endpoints/{created['id']}", json={"active": "no"})
    assert paused.json()["active"] is False
    assert while_paused == []
    assert resumed.json()["active"] is True
    assert [(m["event_type"], m["lead_id"]) for m in after] == [
        ("handoff.created", second["lead_id"])
    ]
    assert error(missing, 404)["code"] == "not_found"
    assert fields(not_bool) == {"active"}


def test_outbox_lists_filters_and_replays_a_dead_message(app_server: AppServer) -> None:
    with http_receiver() as receiver, app_server.client() as http:
        receiver.status = 500
        hook = endpoint(http, **webhook(receiver.url("/hook"), "crm"))
        other = endpoint(http, **webhook(receiver.url("/hook"), "bi", ["*"]))
        handoffs = [pushed(http, lead(http, f"l{n}@acme-ob.io")) for n in range(3)]
        # The receiver fails and one attempt is all a message gets: dead at once.
        deliver(app_server, max_attempts=1)

        def ids(**params: Any) -> list[int]:
            response = http.get("/v1/outbox", params=params)
            assert response.status_code == 200, response.text
            return [m["id"] for m in response.json()["items"]]

        listed = http.get("/v1/outbox").json()["items"]
        # Each handoff: handoff.created for both; stage.changed is not announced (no move).
        assert {(m["endpoint_id"], m["lead_id"]) for m in listed} == {
            (e["id"], h["lead_id"]) for e in (hook, other) for h in handoffs
        }
        assert {m["status"] for m in listed} == {"dead"}
        assert ids(endpoint_id=hook["id"]) == [
            m["id"] for m in listed if m["endpoint_id"] == hook["id"]
        ]
        assert ids(status="pending") == []
        assert ids(status="dead", endpoint_id=other["id"]) == ids(endpoint_id=other["id"])
        seen: list[int] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 1, "endpoint_id": hook["id"]}
            page = http.get("/v1/outbox", params=params | ({"cursor": cursor} if cursor else {}))
            seen += [m["id"] for m in page.json()["items"]]
            cursor = page.json()["next_cursor"]
            if cursor is None:
                break
        assert seen == ids(endpoint_id=hook["id"])

        message_id = seen[0]
        dead = http.get(f"/v1/outbox/{message_id}").json()
        assert (dead["status"], dead["attempts"]) == ("dead", 1)
        (attempt,) = dead["attempt_log"]
        assert (attempt["ok"], attempt["status_code"]) == (False, 500)
        assert dead["notification"]["event"] == "handoff.created"

        receiver.status = 200
        replayed = http.post(f"/v1/outbox/{message_id}/replay")
        assert replayed.status_code == 200, replayed.text
        assert (replayed.json()["status"], replayed.json()["attempts"]) == ("pending", 0)
        assert error(http.post(f"/v1/outbox/{message_id}/replay"), 409)["code"] == "pending"
        before = len(receiver.requests)
        deliver(app_server)
        delivered = http.get(f"/v1/outbox/{message_id}").json()
        (arrived,) = receiver.requests[before:]
        missing = http.post("/v1/outbox/424242/replay")
        bad_filter = http.get("/v1/outbox", params={"status": "failed"})
    assert delivered["status"] == "delivered"
    assert [a["ok"] for a in delivered["attempt_log"]] == [False, True]
    assert arrived.key == dead["idempotency_key"]  # the same key as the failed attempt
    assert arrived.signature_ok is True
    assert error(missing, 404)["code"] == "not_found"
    assert fields(bad_filter) == {"status"}


@sqlite_only
def test_endpoints_and_outbox_need_admin(app_server: AppServer) -> None:
    with app_server.client() as http:
        created = endpoint(http, **webhook("http://127.0.0.1:9/hook"))
    for key in (reader_key(app_server), writer_key(app_server)):
        with app_server.client(key) as http:
            for response in (
                http.get("/v1/endpoints"),
                http.post("/v1/endpoints", json=webhook("http://127.0.0.1:9/hook", "other")),
                http.patch(f"/v1/endpoints/{created['id']}", json={"active": False}),
                http.get("/v1/outbox"),
                http.post("/v1/outbox/1/replay"),
            ):
                assert error(response, 403)["code"] == "forbidden"
                assert "'admin'" in response.json()["message"]
