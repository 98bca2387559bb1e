"""`leadgate endpoints`, `leadgate outbox` and `leadgate worker --once` against a real HTTP
receiver on 127.0.0.1 that checks webhook signatures itself, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from leadgate.adapters.db import tables as t
from tests.cli.runner import cli
from tests.cli.test_handoffs_cmd import seed
from tests.integration.test_notify_channels import SECRET, Receiver

SLACK_URL = "https://hooks.slack.com/services/T000/B000/sl4ck-t0ken-in-the-path"
HEADER_TOKEN = "Bearer crm-token-42"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(SECRET)
    server.start()
    yield server
    server.stop()


def stored_configs(engine: Engine) -> dict[str, dict[str, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(select(t.endpoints.c.name, t.endpoints.c.config))
        return {name: dict(config) for name, config in rows}


def test_endpoints_add_checks_settings_and_list_hides_secrets(
    url: str, engine: Engine, tmp_path: Path
) -> None:
    hook = ["--kind", "webhook", "--events", "handoff.created,sla.breached"]
    short = cli(
        url,
        "endpoints",
        "add",
        "crm",
        *hook,
        "--set",
        "url=https://crm.example.com/h",
        "--set",
        "secret=short",
    ).error(2)
    assert "'secret'" in short and "at least 16 characters" in short
    typo = cli(
        url,
        "endpoints",
        "add",
        "crm",
        *hook,
        "--set",
        "url=https://crm.example.com/h",
        "--set",
        f"secret={SECRET}",
        "--set",
        "secert=x",
    ).error(2)
    assert "unknown setting 'secert'" in typo
    assert "'url'" in cli(
        url,
        "endpoints",
        "add",
        "s",
        "--kind",
        "slack",
        "--events",
        "*",
        "--set",
        "url=ftp://hooks.slack.com/x",
    ).error(2)
    assert "--kind: unknown kind 'sms'" in cli(
        url, "endpoints", "add", "s", "--kind", "sms", "--events", "*"
    ).error(2)
    events = cli(
        url,
        "endpoints",
        "add",
        "s",
        "--kind",
        "slack",
        "--events",
        "handoff.made",
        "--set",
        f"url={SLACK_URL}",
    ).error(2)
    assert "--events: unknown event 'handoff.made'" in events and "sla.warning" in events
    assert "KEY=VALUE" in cli(
        url, "endpoints", "add", "s", "--kind", "slack", "--events", "*", "--set", "url"
    ).error(2)
    assert stored_configs(engine) == {}, "nothing refused was stored"

    settings = tmp_path / "crm.json"
    settings.write_text(
        json.dumps(
            {"url": "https://crm.example.com/hooks/lg?key=k1", "secret": SECRET, "timeout": 5}
        )
    )
    crm = cli(
        url,
        "endpoints",
        "add",
        "crm",
        *hook,
        "--config",
        str(settings),
        "--set",
        f"headers.Authorization={HEADER_TOKEN}",
        "--json",
    ).json()
    slack = cli(
        url,
        "endpoints",
        "add",
        "sales-slack",
        "--kind",
        "slack",
        "--events",
        "*",
        "--set",
        f"url={SLACK_URL}",
        "--json",
    ).json()
    mail = cli(
        url,
        "endpoints",
        "add",
        "mail",
        "--kind",
        "email",
        "--events",
        "sla.breached",
        "--set",
        "host=smtp.example.com",
        "--set",
        "from=leadgate@example.com",
        "--set",
        "to=sales@example.com",
        "--set",
        "username=lg",
        "--set",
        "password=hunter2-smtp",
        "--json",
    ).json()
    assert crm["events"] == ["handoff.created", "sla.breached"] and slack["events"] == ["*"]
    taken = cli(
        url,
        "endpoints",
        "add",
        "crm",
        "--kind",
        "slack",
        "--events",
        "*",
        "--set",
        f"url={SLACK_URL}",
    ).error(2)
    assert "an endpoint named 'crm' exists" in taken

    # Stored as given (the worker needs them) ...
    stored = stored_configs(engine)
    assert stored["crm"]["secret"] == SECRET
    assert stored["crm"]["headers"] == {"Authorization": HEADER_TOKEN}
    assert stored["sales-slack"]["url"] == SLACK_URL
    assert stored["mail"]["password"] == "hunter2-smtp"
    # ... and never shown.
    listed_json = cli(url, "endpoints", "list", "--json")
    table = cli(url, "endpoints", "list")
    for output in (listed_json.ok(), table.ok()):
        for secret in (SECRET, "sl4ck-t0ken", "crm-token-42", "hunter2-smtp", "key=k1"):
            assert secret not in output, secret
    listed = {e["name"]: e for e in listed_json.json()}
    assert listed["crm"]["config"]["url"] == "https://crm.example.com/…"
    assert listed["crm"]["config"]["secret"] == "***"
    assert listed["crm"]["config"]["headers"] == {"Authorization": "***"}
    assert listed["crm"]["config"]["timeout"] == 5
    assert listed["sales-slack"]["config"]["url"] == "https://hooks.slack.com/…"
    assert listed["mail"]["config"]["password"] == "***"
    assert listed["mail"]["config"]["to"] == "sales@example.com"
    assert "sales@example.com via smtp.example.com" in table.stdout

    page = cli(url, "endpoints", "list", "--limit", "2", "--json").json()
    assert [e["id"] for e in page] == [crm["id"], slack["id"]]
    rest = cli(url, "endpoints", "list", "--after", str(slack["id"]), "--json").json()
    assert [e["id"] for e in rest] == [mail["id"]]

    assert cli(url, "endpoints", "disable", str(mail["id"]), "--json").json()["active"] is False
    assert "disabled" in cli(url, "endpoints", "disable", str(mail["id"])).ok()
    assert cli(url, "endpoints", "enable", str(mail["id"]), "--json").json()["active"] is True
    assert "no endpoint with id 99" in cli(url, "endpoints", "disable", "99").error(1)
    assert "no endpoint with id 99" in cli(url, "endpoints", "test", "99").error(1)


def test_endpoint_test_worker_delivery_outbox_and_replay(
    url: str, engine: Engine, tmp_path: Path, receiver: Receiver
) -> None:
    good = cli(
        url,
        "endpoints",
        "add",
        "crm",
        "--kind",
        "webhook",
        "--events",
        "handoff.created",
        "--set",
        f"url={receiver.url('/hook')}",
        "--set",
        f"secret={SECRET}",
        "--json",
    ).json()
    wrong = cli(
        url,
        "endpoints",
        "add",
        "stale",
        "--kind",
        "webhook",
        "--events",
        "handoff.created",
        "--set",
        f"url={receiver.url('/hook')}",
        "--set",
        "secret=an-old-secret-nobody-has",
        "--json",
    ).json()

    # `endpoints test` sends one signed sample now, not through the outbox.
    sent = cli(url, "endpoints", "test", str(good["id"])).ok()
    assert "delivered (HTTP 200)" in sent
    (sample,) = receiver.requests
    assert sample.signature_ok is True
    body = sample.json()
    assert body["type"] == "handoff.created" and body["data"]["test"] is True
    assert sample.headers["x-leadgate-delivery"] == body["id"]
    refused = cli(url, "endpoints", "test", str(wrong["id"])).error(1)
    assert "HTTP 401" in refused and "retrying will not help" in refused
    as_json = cli(url, "endpoints", "test", str(wrong["id"]), "--json")
    assert as_json.code == 1
    assert json.loads(as_json.stdout)["status"] == 401
    with engine.connect() as connection:
        assert connection.execute(select(t.outbox.c.id)).first() is None, "tests skip the outbox"
    receiver.requests.clear()

    # The stale endpoint is paused: the gate's handoffs are queued for the good one only.
    cli(url, "endpoints", "disable", str(wrong["id"])).ok()
    ids = seed(url, tmp_path)
    queued = cli(url, "outbox", "list", "--json").json()
    handoffs = {h["id"]: h for h in cli(url, "handoffs", "list", "--json").json()}
    assert len(queued) == len(handoffs) == 3
    assert {m["endpoint_id"] for m in queued} == {good["id"]}
    assert {(m["event_type"], m["status"], m["attempts"]) for m in queued} == {
        ("handoff.created", "pending", 0)
    }
    assert {m["lead_id"] for m in queued} == {h["lead_id"] for h in handoffs.values()}

    totals = cli(url, "worker", "--once", "--json").json()
    assert totals["delivered"] == 3
    assert all(r.signature_ok for r in receiver.requests)
    arrived = {r.headers["x-leadgate-delivery"]: r.json() for r in receiver.requests}
    assert set(arrived) == {m["idempotency_key"] for m in queued}
    assert {b["data"]["handoff"]["id"] for b in arrived.values()} == set(handoffs)
    delivered = cli(url, "outbox", "list", "--status", "delivered", "--json").json()
    assert [m["id"] for m in delivered] == [m["id"] for m in queued]

    # A push while the stale endpoint is active again: it dead-letters (401 is final).
    cli(url, "endpoints", "enable", str(wrong["id"])).ok()
    cli(url, "handoffs", "push", str(ids["cat@acme.io"])).ok()
    cli(url, "worker", "--once").ok()
    (dead,) = cli(url, "outbox", "list", "--status", "dead", "--json").json()
    assert (dead["endpoint_id"], dead["lead_id"]) == (wrong["id"], ids["cat@acme.io"])
    assert dead["last_error"].startswith("HTTP 401")
    by_endpoint = cli(url, "outbox", "list", "--endpoint", str(wrong["id"]), "--json").json()
    assert [m["id"] for m in by_endpoint] == [dead["id"]]
    assert len(cli(url, "outbox", "list", "--endpoint", str(good["id"]), "--json").json()) == 4
    assert "no endpoint with id 99" in cli(url, "outbox", "list", "--endpoint", "99").error(1)
    first = cli(url, "outbox", "list", "--limit", "2", "--json").json()
    after = cli(url, "outbox", "list", "--after", str(first[-1]["id"]), "--json").json()
    assert len(first) == 2 and len(after) == 3
    assert [m["id"] for m in first + after] == sorted(m["id"] for m in first + after)

    # Replay: the same key again, every attempt kept.
    receiver.requests.clear()
    message = delivered[0]
    replayed = cli(url, "outbox", "replay", str(message["id"]), "--json").json()
    assert (replayed["status"], replayed["attempts"]) == ("pending", 0)
    assert cli(url, "worker", "--once", "--json").json()["delivered"] == 1
    (again,) = receiver.requests
    assert again.headers["x-leadgate-delivery"] == message["idempotency_key"]
    assert again.signature_ok is True
    shown = cli(url, "outbox", "show", str(message["id"]), "--json").json()
    assert shown["status"] == "delivered"
    assert [(a["ok"], a["status_code"]) for a in shown["delivery_attempts"]] == [
        (True, 200),
        (True, 200),
    ]
    assert shown["notification"]["key"] == message["idempotency_key"]
    text = cli(url, "outbox", "show", str(dead["id"])).ok()
    assert "delivery attempts" in text and "HTTP 401" in text
    assert "no outbox message with id 999" in cli(url, "outbox", "show", "999").error(1)
    assert "no outbox message with id 999" in cli(url, "outbox", "replay", "999").error(1)
