"""Every bad input the tracking endpoints refuse, through the app in this process: refusals on
SQLite, what is stored (deduplication, clocks, mapping) on SQLite and PostgreSQL.

Each refusal is checked three ways: the status, the JSON body naming the problem, and the database
(nothing stored, or only the good messages of a batch)."""

from __future__ import annotations

import base64
import gzip
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import func, select

from leadgate.adapters.db import tables as t
from leadgate.config import Settings
from leadgate.services.keys import create_key
from tests.conftest import T0
from tests.http.conftest import AppServer, sqlite_only

# Deeper than the 255 levels stored JSON may nest (a body may nest 1,024).
DEEP: Any = []
for _ in range(300):
    DEEP = [DEEP]


@pytest.fixture
def server_settings(request: pytest.FixtureRequest) -> Settings:
    """The default test settings, or others through indirect parametrisation."""
    overrides: dict[str, Any] = getattr(request, "param", {})
    return Settings(database_url="sqlite://", key_cache_seconds=0.0, **overrides)


def post(
    server: AppServer,
    path: str,
    body: Any = None,
    *,
    key: str | None = None,
    content: bytes | Iterator[bytes] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POST JSON (or raw ``content``) with the tracking key as Bearer unless told otherwise."""
    with server.client(server.track_key if key is None else key) as http:
        if content is not None:
            sent = {"Content-Type": "application/json", **(headers or {})}
            return http.post(path, content=content, headers=sent)
        return http.post(path, json=body, headers=headers)


def error(response: httpx.Response, status: int, code: str) -> str:
    """Check an error response's status and shape; return its message."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) <= {"code", "message", "errors"}
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    return str(body["message"])


def stored_ids(server: AppServer) -> list[str]:
    with server.app.engine.connect() as connection:
        return sorted(connection.execute(select(t.touchpoints.c.message_id)).scalars())


def assert_nothing_stored(server: AppServer) -> None:
    with server.app.engine.connect() as connection:
        for table in (t.touchpoints, t.leads, t.identities, t.accounts):
            count = connection.execute(select(func.count()).select_from(table)).scalar_one()
            assert count == 0, f"{table.name} has {count} rows"


def good(mid: str, **extra: Any) -> dict[str, Any]:
    return {"type": "track", "userId": "u-1", "event": "Signed Up", "messageId": mid, **extra}


# oversized -------------------------------------------------------------------------------


@sqlite_only
def test_a_message_over_32_kb_is_refused_naming_its_size(app_server: AppServer) -> None:
    big = good("big", properties={"notes": "x" * 40_000})
    message = error(post(app_server, "/v1/batch", {"batch": [big]}), 400, "message_too_large")
    assert "bytes" in message and "32 KB" in message
    message = error(post(app_server, "/v1/track", big), 400, "message_too_large")
    assert "32 KB" in message
    assert_nothing_stored(app_server)


@sqlite_only
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_batch_over_500_kb_is_refused(app_server: AppServer, chunked: bool) -> None:
    messages = [good(f"m{i}", properties={"notes": "x" * 30_000}) for i in range(20)]
    raw = orjson.dumps({"batch": messages})
    assert 500 * 1024 < len(raw) < 1024 * 1024
    body: bytes | Iterator[bytes] = raw
    if chunked:  # no Content-Length: the server must count as it reads
        body = iter([raw[i : i + 65536] for i in range(0, len(raw), 65536)])
    message = error(post(app_server, "/v1/batch", content=body), 400, "too_large")
    assert "500 KB" in message
    assert_nothing_stored(app_server)


@sqlite_only
def test_a_gzip_bomb_is_refused_quickly(app_server: AppServer) -> None:
    padding = "0" * 50_000_000
    bomb = gzip.compress(orjson.dumps({"batch": [good("m1")], "padding": padding}), 9)
    assert len(bomb) < 100_000
    started = time.monotonic()
    response = post(app_server, "/v1/batch", content=bomb, headers={"Content-Encoding": "gzip"})
    elapsed = time.monotonic() - started
    message = error(response, 400, "too_large")
    assert "500 KB after decompression" in message
    assert elapsed < 2.0
    assert_nothing_stored(app_server)


@sqlite_only
def test_gzip_that_inflates_just_past_the_limit_is_refused(app_server: AppServer) -> None:
    messages = [good(f"m{i}", properties={"notes": "y" * 25_000}) for i in range(21)]
    raw = orjson.dumps({"batch": messages})
    assert 500 * 1024 < len(raw) < 600 * 1024
    response = post(
        app_server, "/v1/batch", content=gzip.compress(raw), headers={"Content-Encoding": "gzip"}
    )
    assert "after decompression" in error(response, 400, "too_large")
    assert_nothing_stored(app_server)


@sqlite_only
def test_more_than_2500_messages_are_refused(app_server: AppServer) -> None:
    batch = [
        {"type": "track", "userId": "u", "event": "e", "messageId": str(i)} for i in range(2501)
    ]
    message = error(post(app_server, "/v1/batch", {"batch": batch}), 400, "too_many_messages")
    assert "2,501" in message and "2,500" in message
    events = [{"event": "e", "distinct_id": "d", "uuid": str(i)} for i in range(2501)]
    error(post(app_server, "/batch/", {"batch": events}), 400, "too_many_messages")
    assert_nothing_stored(app_server)


def test_exactly_2500_messages_are_accepted(app_server: AppServer) -> None:
    batch = [
        {"type": "track", "userId": "u", "event": "e", "messageId": str(i)} for i in range(2500)
    ]
    response = post(app_server, "/v1/batch", {"batch": batch})
    assert response.status_code == 200, response.text
    assert response.json()["stored"] == 2500
    assert len(stored_ids(app_server)) == 2500


# unreadable bodies -----------------------------------------------------------------------


@sqlite_only
@pytest.mark.parametrize("path", ["/v1/batch", "/v1/track", "/batch/"])
def test_malformed_json_is_refused(app_server: AppServer, path: str) -> None:
    message = error(post(app_server, path, content=b'{"batch": [}'), 400, "invalid_json")
    assert "not valid JSON" in message
    assert_nothing_stored(app_server)


@sqlite_only
def test_invalid_gzip_is_refused(app_server: AppServer) -> None:
    headers = {"Content-Encoding": "gzip"}
    garbage = post(app_server, "/v1/batch", content=b'{"batch": []}', headers=headers)
    assert "gzip" in error(garbage, 400, "invalid_gzip")
    truncated = gzip.compress(orjson.dumps({"batch": [good("m1")]}))[:-10]
    error(post(app_server, "/v1/batch", content=truncated, headers=headers), 400, "invalid_gzip")
    assert_nothing_stored(app_server)


@sqlite_only
def test_an_unsupported_content_encoding_is_refused(app_server: AppServer) -> None:
    response = post(
        app_server,
        "/v1/batch",
        content=orjson.dumps({"batch": [good("m1")]}),
        headers={"Content-Encoding": "br"},
    )
    assert "'br'" in error(response, 400, "unsupported_encoding")
    assert_nothing_stored(app_server)


@sqlite_only
@pytest.mark.parametrize(
    ("path", "code"),
    [("/v1/batch", "invalid_body"), ("/v1/track", "invalid_message"), ("/batch/", "invalid_body")],
)
@pytest.mark.parametrize(
    "body", [[good("m1")], "text", 42, None], ids=["array", "str", "n", "null"]
)
def test_a_body_that_is_not_an_object_is_refused(
    app_server: AppServer, path: str, code: str, body: Any
) -> None:
    error(post(app_server, path, content=orjson.dumps(body)), 400, code)
    assert_nothing_stored(app_server)


@sqlite_only
@pytest.mark.parametrize(
    "body",
    [{}, {"batch": {"0": {"type": "track"}}}, {"batch": "m1"}, {"batch": None}],
    ids=["missing", "object", "string", "null"],
)
def test_batch_must_be_an_array(app_server: AppServer, body: dict[str, Any]) -> None:
    assert "`batch`" in error(post(app_server, "/v1/batch", body), 400, "missing_batch")
    assert_nothing_stored(app_server)


@sqlite_only
@pytest.mark.parametrize(
    ("extra", "code", "names"),
    [
        ({"context": "web"}, "invalid_field", "context: expected a JSON object"),
        ({"integrations": ["leadgate"]}, "invalid_field", "integrations"),
        ({"context": {"page": {"title": "\x00"}}}, "invalid_field", "context.page.title"),
        ({"sentAt": "just now"}, "invalid_timestamp", "sentAt"),
        ({"context": {"deep": DEEP}}, "invalid_field", "context: nested more than 255 levels"),
    ],
)
def test_a_bad_batch_level_field_refuses_the_batch(
    app_server: AppServer, extra: dict[str, Any], code: str, names: str
) -> None:
    response = post(app_server, "/v1/batch", {"batch": [good("m1")], **extra})
    assert names in error(response, 400, code)
    assert_nothing_stored(app_server)


@sqlite_only
def test_a_posthog_batch_must_be_an_array(app_server: AppServer) -> None:
    error(post(app_server, "/batch/", {"batch": {"event": "x"}}), 400, "missing_batch")
    assert_nothing_stored(app_server)


# bad messages ----------------------------------------------------------------------------

BAD_MESSAGES: list[tuple[str, dict[str, Any], str, str]] = [
    ("track", {"event": "x"}, "missing_identity", "userId or anonymousId is required"),
    ("track", {"event": "x", "userId": "", "anonymousId": None}, "missing_identity", "userId"),
    ("track", {"userId": "u"}, "missing_event", "event is required"),
    ("identify", {"userId": "u", "traits": {"email": "ann at acme"}}, "invalid_email", "email"),
    (
        "group",
        {"userId": "u", "groupId": "g-1", "traits": {"name": "Acme"}},
        "missing_domain",
        "domain",
    ),
    (
        "track",
        {"userId": "u", "event": "x", "timestamp": "03/01/2026"},
        "invalid_timestamp",
        "timestamp",
    ),
    ("track", {"userId": "u", "event": "x", "properties": [1, 2]}, "invalid_field", "properties"),
    ("page", {"userId": "u", "properties": "home"}, "invalid_field", "properties"),
    ("alias", {"userId": "u"}, "missing_identity", "previousId"),
    (
        "group",
        {"userId": "u", "traits": {"domain": "acme.io", "employees": "NaN"}},
        "invalid_trait",
        "employees",
    ),
    ("track", {"userId": "u", "event": "E" * 101}, "invalid_field", "event"),
    ("track", {"userId": "u" * 321, "event": "x"}, "invalid_field", "userId"),
    ("track", {"userId": "u", "event": "x", "messageId": "m" * 256}, "invalid_field", "messageId"),
    ("identify", {"userId": "u", "traits": {"title": "t" * 256}}, "invalid_trait", "traits.title"),
    (
        "identify",
        {"userId": "u", "traits": {"email": "a" * 250 + "@acme.io"}},
        "invalid_email",
        "254",
    ),
    (
        "group",
        {"userId": "u", "traits": {"domain": "acme.io", "region": "r" * 51}},
        "invalid_trait",
        "region",
    ),
    # PostgreSQL stores no NUL character, in a text column or in JSON.
    (
        "track",
        {"userId": "u", "event": "x", "properties": {"note": "a\x00b"}},
        "invalid_field",
        "properties.note: contains a NUL",
    ),
    ("identify", {"userId": "u\x00", "traits": {}}, "invalid_field", "userId"),
    ("track", {"userId": "u", "event": "x", "properties": {"p": DEEP}}, "invalid_field", "nested"),
    (
        "track",
        {"userId": "u", "event": "x", "timestamp": "0001-01-01T00:00Z", "sentAt": "9999-01-01"},
        "invalid_timestamp",
        "too far apart",
    ),
]
BAD_IDS = [f"{kind}-{code}-{i}" for i, (kind, _, code, _) in enumerate(BAD_MESSAGES)]


@sqlite_only
@pytest.mark.parametrize(("kind", "fields", "code", "names"), BAD_MESSAGES, ids=BAD_IDS)
def test_a_bad_single_call_is_refused_naming_the_problem(
    app_server: AppServer, kind: str, fields: dict[str, Any], code: str, names: str
) -> None:
    response = post(app_server, f"/v1/{kind}", {"messageId": "bad", **fields})
    assert names in error(response, 400, code)
    assert "errors" not in response.json()
    assert_nothing_stored(app_server)


@sqlite_only
def test_a_type_leadgate_does_not_know_is_refused(app_server: AppServer) -> None:
    batch = [
        {"type": "purchase", "userId": "u", "messageId": "m1"},
        {"userId": "u", "messageId": 7},
    ]
    response = post(app_server, "/v1/batch", {"batch": batch})
    error(response, 400, "invalid_type")
    assert [(e["index"], e["messageId"], e["code"]) for e in response.json()["errors"]] == [
        (0, "m1", "invalid_type"),
        (1, "7", "missing_type"),  # Segment allows numeric ids
    ]
    assert "'purchase'" in response.json()["errors"][0]["message"]
    assert_nothing_stored(app_server)


def test_in_a_mixed_batch_the_good_are_stored_and_each_bad_one_is_listed(
    app_server: AppServer,
) -> None:
    batch = [
        good("ok-0"),
        *(
            {"type": kind, "messageId": f"bad-{i}", **fields}
            for i, (kind, fields, _, _) in enumerate(BAD_MESSAGES)
        ),
    ]
    batch.append(good("ok-last", event="Demo Requested"))
    response = post(app_server, "/v1/batch", {"batch": batch})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["received"], body["accepted"], body["stored"]) == (len(batch), 2, 2)
    assert [(p["index"], p["code"]) for p in body["rejected"]] == [
        (i + 1, code) for i, (_, _, code, _) in enumerate(BAD_MESSAGES)
    ]
    for problem, (_, _, _, names) in zip(body["rejected"], BAD_MESSAGES, strict=True):
        assert names in problem["message"]
    # Every rejected message is named by its id (even the one whose id was too long).
    assert [p["messageId"] for p in body["rejected"]] == [
        fields.get("messageId", f"bad-{i}") for i, (_, fields, _, _) in enumerate(BAD_MESSAGES)
    ]
    assert stored_ids(app_server) == ["ok-0", "ok-last"]
    with app_server.app.engine.connect() as connection:
        accounts = connection.execute(select(func.count()).select_from(t.accounts)).scalar_one()
    assert accounts == 0  # the rejected group calls created no account


@sqlite_only
def test_a_batch_where_every_message_is_bad_is_400_listing_all(app_server: AppServer) -> None:
    batch = [
        {"type": kind, "messageId": f"bad-{i}", **fields}
        for i, (kind, fields, _, _) in enumerate(BAD_MESSAGES)
    ]
    response = post(app_server, "/v1/batch", {"batch": batch})
    message = error(response, 400, BAD_MESSAGES[0][2])
    assert message.startswith("message 0: ")
    assert f"(and {len(BAD_MESSAGES) - 1} more)" in message
    errors = response.json()["errors"]
    assert [(e["index"], e["code"]) for e in errors] == [
        (i, code) for i, (_, _, code, _) in enumerate(BAD_MESSAGES)
    ]
    assert all(set(e) == {"index", "messageId", "code", "message"} for e in errors)
    assert errors[1]["messageId"] == "bad-1"
    assert_nothing_stored(app_server)


def test_posthog_events_are_checked_one_by_one(app_server: AppServer) -> None:
    events = [
        {"event": "Signed Up", "distinct_id": "d-1", "uuid": "ok-1"},
        {"event": "Signed Up", "uuid": "no-id"},
        {"distinct_id": "d-1", "uuid": "no-event"},
        {"event": "$set", "distinct_id": "d-1", "uuid": "bad-mail", "$set": {"email": "x"}},
        {
            "event": "$groupidentify",
            "distinct_id": "d",
            "uuid": "no-domain",
            "properties": {"$group_key": "acme", "$group_set": {"name": "Acme"}},
        },
    ]
    response = post(app_server, "/batch/", {"api_key": app_server.track_key, "batch": events})
    assert response.status_code == 200, response.text
    rejected = response.json()["rejected"]
    assert [(p["index"], p["messageId"], p["code"]) for p in rejected] == [
        (1, "no-id", "missing_identity"),
        (2, "no-event", "missing_event"),
        (3, "bad-mail", "invalid_email"),
        (4, "no-domain", "missing_domain"),
    ]
    assert stored_ids(app_server) == ["ok-1"]


@sqlite_only
def test_a_bad_posthog_single_event_is_400(app_server: AppServer) -> None:
    response = post(app_server, "/capture/", {"event": "x", "api_key": app_server.track_key})
    assert "distinct_id" in error(response, 400, "missing_identity")
    assert_nothing_stored(app_server)


# keys ------------------------------------------------------------------------------------


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


@sqlite_only
@pytest.mark.parametrize("where", ["writeKey", "basic", "bearer", "x-api-key"])
def test_the_write_key_is_read_where_clients_send_it(app_server: AppServer, where: str) -> None:
    body: dict[str, Any] = {"batch": [good("m1")]}
    headers: dict[str, str] = {}
    if where == "writeKey":
        body["writeKey"] = app_server.track_key
    elif where == "basic":
        headers = basic(app_server.track_key)
    elif where == "x-api-key":
        headers = {"X-API-Key": app_server.track_key}
    key = app_server.track_key if where == "bearer" else ""
    response = post(app_server, "/v1/batch", body, key=key, headers=headers)
    assert response.status_code == 200, response.text
    assert stored_ids(app_server) == ["m1"]


@sqlite_only
def test_posthog_reads_api_key_from_the_body(app_server: AppServer) -> None:
    event = {"event": "x", "distinct_id": "d", "uuid": "p1", "api_key": app_server.track_key}
    assert post(app_server, "/capture/", event, key="").status_code == 200
    batch = {"api_key": app_server.track_key, "batch": [{**event, "uuid": "p2"}]}
    assert post(app_server, "/batch/", batch, key="").status_code == 200
    assert stored_ids(app_server) == ["p1", "p2"]


@sqlite_only
@pytest.mark.parametrize("path", ["/v1/batch", "/v1/track", "/batch/"])
def test_a_missing_key_is_401(app_server: AppServer, path: str) -> None:
    body = {"batch": [good("m1")]} if path != "/v1/track" else good("m1")
    response = post(app_server, path, body, key="")
    assert "Authorization" in error(response, 401, "unauthorized")
    assert_nothing_stored(app_server)


@sqlite_only
@pytest.mark.parametrize("where", ["writeKey", "basic", "bearer", "api_key"])
def test_an_unknown_key_is_401(app_server: AppServer, where: str) -> None:
    fake = "lg_pub_" + "x" * 43
    if where == "api_key":
        response = post(app_server, "/batch/", {"api_key": fake, "batch": []}, key="")
    else:
        body: dict[str, Any] = {"batch": [good("m1")]}
        if where == "writeKey":
            body["writeKey"] = fake
        headers = basic(fake) if where == "basic" else None
        response = post(
            app_server, "/v1/batch", body, key=fake if where == "bearer" else "", headers=headers
        )
    assert error(response, 401, "unauthorized") == "unknown or revoked API key"
    assert_nothing_stored(app_server)


@sqlite_only
def test_a_key_without_the_track_scope_is_403(app_server: AppServer) -> None:
    reader = create_key(app_server.app.uow(), name="reporting", scopes="read", now=T0).secret
    response = post(app_server, "/v1/batch", {"batch": [good("m1")], "writeKey": reader}, key="")
    message = error(response, 403, "forbidden")
    assert "'track'" in message and "reporting" in message
    assert "'track'" in error(
        post(app_server, "/v1/track", good("m2"), key=reader), 403, "forbidden"
    )
    assert_nothing_stored(app_server)


@sqlite_only
def test_the_secret_admin_key_may_also_track(app_server: AppServer) -> None:
    response = post(app_server, "/v1/track", good("m1"), key=app_server.secret_key)
    assert response.status_code == 200
    assert stored_ids(app_server) == ["m1"]


# exactly once ----------------------------------------------------------------------------


def test_a_retried_batch_stores_each_touchpoint_once(app_server: AppServer) -> None:
    batch = {
        "batch": [good("m1"), good("m2"), {"type": "page", "userId": "u-1", "messageId": "m3"}]
    }
    first = post(app_server, "/v1/batch", batch).json()
    again = post(app_server, "/v1/batch", batch).json()
    assert (first["stored"], first["duplicates"]) == (3, 0)
    assert (again["stored"], again["duplicates"], again["accepted"]) == (0, 3, 3)
    assert stored_ids(app_server) == ["m1", "m2", "m3"]


def test_duplicates_inside_one_batch_are_stored_once(app_server: AppServer) -> None:
    batch = {"batch": [good("m1"), good("m1"), good("m2"), good("m1")]}
    body = post(app_server, "/v1/batch", batch).json()
    assert (body["stored"], body["duplicates"]) == (2, 2)
    assert stored_ids(app_server) == ["m1", "m2"]


def test_a_message_without_an_id_is_still_deduplicated_on_retry(app_server: AppServer) -> None:
    message = {
        "type": "track",
        "userId": "u-1",
        "event": "Signed Up",
        "timestamp": "2026-03-01T09:00:00Z",
        "properties": {"plan": "pro"},
    }
    other = {**message, "timestamp": "2026-03-01T09:00:05Z"}
    first = post(app_server, "/v1/batch", {"batch": [message, other]}).json()
    again = post(app_server, "/v1/track", message).json()
    assert (first["stored"], again["stored"], again["duplicates"]) == (2, 0, 1)
    ids = stored_ids(app_server)
    assert len(ids) == 2
    assert all(i.startswith("lg-") for i in ids)


def test_a_retried_posthog_batch_stores_each_event_once(app_server: AppServer) -> None:
    events = [
        {
            "event": "$pageview",
            "distinct_id": "d",
            "uuid": "u1",
            "properties": {"$current_url": "https://acme.io/pricing"},
        },
        {"event": "Signed Up", "distinct_id": "d", "uuid": "u2"},
    ]
    post(app_server, "/batch/", {"batch": events})
    again = post(app_server, "/batch/", {"batch": events}).json()
    assert (again["stored"], again["duplicates"]) == (0, 2)
    assert stored_ids(app_server) == ["u1", "u2"]


# batch-level context and integrations -----------------------------------------------------


def test_batch_context_and_integrations_apply_to_each_message(app_server: AppServer) -> None:
    body = {
        "context": {"campaign": {"name": "spring", "source": "google", "medium": "cpc"}},
        "integrations": {"All": False},
        "batch": [
            good("m1", integrations={"leadgate": True}),
            good(
                "m2",
                integrations={"leadgate": True},
                context={"campaign": {"name": "own", "source": "newsletter"}},
            ),
            good("m3"),  # the batch turns leadgate off for it
        ],
    }
    response = post(app_server, "/v1/batch", body)
    assert response.status_code == 200, response.text
    assert [(w["index"], w["code"]) for w in response.json()["warnings"]] == [
        (2, "integration_disabled")
    ]
    with app_server.app.engine.connect() as connection:
        utm = dict(
            connection.execute(select(t.touchpoints.c.message_id, t.touchpoints.c.properties)).all()
        )
    assert utm == {
        "m1": {"utm": {"campaign": "spring", "source": "google", "medium": "cpc"}},
        "m2": {"utm": {"campaign": "own", "source": "newsletter"}},
    }


# time ------------------------------------------------------------------------------------


def occurred(server: AppServer, mid: str) -> tuple[datetime, dict[str, Any]]:
    with server.app.engine.connect() as connection:
        row = connection.execute(
            select(t.touchpoints.c.occurred_at, t.touchpoints.c.properties).where(
                t.touchpoints.c.message_id == mid
            )
        ).one()
    return row.occurred_at, row.properties


def test_a_client_clock_that_is_off_is_corrected_with_sent_at(app_server: AppServer) -> None:
    clock = datetime.now(UTC) + timedelta(hours=3)  # the client's clock is three hours fast
    body = {
        "sentAt": clock.isoformat(),
        "batch": [good("m1", timestamp=(clock - timedelta(minutes=10)).isoformat())],
    }
    before = datetime.now(UTC)
    response = post(app_server, "/v1/batch", body)
    after = datetime.now(UTC)
    assert response.status_code == 200
    assert response.json()["warnings"] == []
    when, properties = occurred(app_server, "m1")
    # received − (sentAt − timestamp): ten minutes before the server received it.
    assert before - timedelta(minutes=10, seconds=1) <= when <= after - timedelta(minutes=10)
    assert "$clock_clamped_from" not in properties


def test_a_message_sent_at_wins_over_the_batch_sent_at(app_server: AppServer) -> None:
    now = datetime.now(UTC)
    body = {
        "sentAt": (now + timedelta(days=1)).isoformat(),
        "batch": [
            good("m1", timestamp=now.isoformat(), sentAt=(now + timedelta(minutes=30)).isoformat())
        ],
    }
    post(app_server, "/v1/batch", body)
    when, _ = occurred(app_server, "m1")
    assert abs(when - (now - timedelta(minutes=30))) < timedelta(seconds=5)


@pytest.mark.parametrize("server_settings", [{"max_clock_skew_seconds": 60}], indirect=True)
def test_a_future_timestamp_is_clamped_and_flagged(app_server: AppServer) -> None:
    future = datetime.now(UTC) + timedelta(minutes=5)  # beyond the 60 s allowed
    near = datetime.now(UTC) + timedelta(seconds=30)  # within it
    body = {
        "batch": [
            good("far", timestamp=future.isoformat()),
            good("near", timestamp=near.isoformat()),
        ]
    }
    before = datetime.now(UTC)
    response = post(app_server, "/v1/batch", body)
    after = datetime.now(UTC)
    assert response.status_code == 200
    (warning,) = response.json()["warnings"]
    assert (warning["index"], warning["messageId"], warning["code"]) == (0, "far", "clock_clamped")
    assert future.isoformat()[:19] in warning["message"]
    when, properties = occurred(app_server, "far")
    assert before - timedelta(seconds=1) <= when <= after
    assert datetime.fromisoformat(properties["$clock_clamped_from"]) == future.replace(
        microsecond=future.microsecond
    )
    when, properties = occurred(app_server, "near")
    assert when == near
    assert "$clock_clamped_from" not in properties


def test_a_posthog_future_timestamp_is_clamped_too(app_server: AppServer) -> None:
    future = datetime.now(UTC) + timedelta(days=2)
    event = {"event": "x", "distinct_id": "d", "uuid": "p1", "timestamp": future.isoformat()}
    response = post(app_server, "/capture/", event)
    assert [w["code"] for w in response.json()["warnings"]] == ["clock_clamped"]
    when, properties = occurred(app_server, "p1")
    assert when < future - timedelta(days=1)
    assert "$clock_clamped_from" in properties


# names -----------------------------------------------------------------------------------


def test_event_names_go_through_the_alias_table(app_server: AppServer) -> None:
    post(
        app_server,
        "/v1/batch",
        {"batch": [good("m1", event="Demo Requested"), good("m2", event="Custom Thing")]},
    )
    with app_server.app.engine.connect() as connection:
        names = {
            r.message_id: (r.name, r.original_name)
            for r in connection.execute(select(t.touchpoints))
        }
    assert names == {
        "m1": ("demo_request", "Demo Requested"),
        "m2": ("Custom Thing", "Custom Thing"),
    }


def test_page_calls_get_a_category_from_the_url_table_unless_they_name_one(
    app_server: AppServer,
) -> None:
    pages = [
        {
            "type": "page",
            "anonymousId": "a",
            "messageId": "p1",
            "properties": {"path": "/pricing/enterprise"},
        },
        {
            "type": "page",
            "anonymousId": "a",
            "messageId": "p2",
            "context": {"page": {"url": "https://acme.io/Careers/?ref=x"}},
        },
        {
            "type": "page",
            "anonymousId": "a",
            "messageId": "p3",
            "category": "docs",
            "properties": {"path": "/pricing"},
        },
        {"type": "page", "anonymousId": "a", "messageId": "p4", "properties": {"path": "/about"}},
    ]
    post(app_server, "/v1/batch", {"batch": pages})
    with app_server.app.engine.connect() as connection:
        rows = {r.message_id: r for r in connection.execute(select(t.touchpoints))}
    assert {mid: r.name for mid, r in rows.items()} == dict.fromkeys(rows, "page_view")
    assert {mid: r.properties.get("category") for mid, r in rows.items()} == {
        "p1": "pricing",
        "p2": "careers",
        "p3": "docs",
        "p4": None,
    }


# rate limit ------------------------------------------------------------------------------


@sqlite_only
@pytest.mark.parametrize("server_settings", [{"rate_limit_per_second": 0.2}], indirect=True)
def test_a_burst_over_the_rate_limit_gets_429_with_retry_after(app_server: AppServer) -> None:
    # One request per five seconds: the burst's first passes, the rest wait for a token.
    responses = [post(app_server, "/v1/batch", {"batch": [good(f"m{i}")]}) for i in range(4)]
    assert [r.status_code for r in responses] == [200, 429, 429, 429]
    for response in responses[1:]:
        assert 1 <= int(response.headers["Retry-After"]) <= 5
        assert "0.2 requests a second" in error(response, 429, "rate_limited")
    assert stored_ids(app_server) == ["m0"]
    # Each key has its own bucket: another key is not limited by this one's burst.
    other = create_key(app_server.app.uow(), name="site-2", scopes="track", now=T0).secret
    assert post(app_server, "/v1/track", good("other"), key=other).status_code == 200
