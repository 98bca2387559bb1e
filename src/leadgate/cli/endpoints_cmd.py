"""``leadgate endpoints`` (where alerts and webhooks go) and ``leadgate outbox`` (what is
being delivered, what failed, replay)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit

import typer
from rich.table import Table

from leadgate.cli._common import EXIT_BAD_INPUT, EXIT_FAILURE, console, fail, now, print_json
from leadgate.cli._common import app as wired_app
from leadgate.cli.handoffs_cmd import AfterOption, JsonOption, LimitOption, page_hint, stamp

if TYPE_CHECKING:
    from leadgate.bootstrap import App
    from leadgate.domain.notifications import Notification
    from leadgate.services.ports import Endpoint, OutboxMessage

app = typer.Typer(
    help="Notification endpoints: Slack, Microsoft Teams, signed webhooks, email.",
    no_args_is_help=True,
)
outbox_app = typer.Typer(
    help="The outbox: every alert and webhook, its delivery attempts, replay.",
    no_args_is_help=True,
)

REDACTED = "***"
# Settings whose values are credentials; never printed.
_SECRET_WORDS = ("secret", "password", "token", "key")


class MessageStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


# --- reading what the user typed ------------------------------------------------------------


def parse_events(raw: str) -> list[str]:
    """Given ``--events``, return the event types, or fail naming the unknown one."""
    from leadgate.domain.notifications import EventType

    known = [e.value for e in EventType]
    events = [e.strip() for e in raw.split(",") if e.strip()]
    if not events:
        fail(f"--events: name at least one of {', '.join(known)}, or *", EXIT_BAD_INPUT)
    if "*" in events:
        if len(events) > 1:
            fail("--events: * already means every event; give it alone", EXIT_BAD_INPUT)
        return ["*"]
    for event in events:
        if event not in known:
            fail(
                f"--events: unknown event {event!r}; one of {', '.join(known)}, or *",
                EXIT_BAD_INPUT,
            )
    return list(dict.fromkeys(events))


def parse_settings(pairs: list[str], config_file: Path | None) -> dict[str, Any]:
    """``--config FILE.json`` first, then each ``--set key=value`` (``headers.Name=value``
    for one entry of a mapping setting) on top of it."""
    settings: dict[str, Any] = {}
    if config_file is not None:
        try:
            loaded = json.loads(config_file.read_text(encoding="utf-8"))
        except OSError as exc:
            fail(f"--config: cannot read {config_file}: {exc.strerror}", EXIT_BAD_INPUT)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            fail(f"--config: {config_file} is not JSON: {exc}", EXIT_BAD_INPUT)
        if not isinstance(loaded, dict):
            fail(f"--config: {config_file} must hold a JSON object", EXIT_BAD_INPUT)
        settings.update(loaded)
    given: set[str] = set()
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            fail(f"--set: expected KEY=VALUE, got {pair!r}", EXIT_BAD_INPUT)
        if key in given:
            fail(f"--set: {key!r} given twice", EXIT_BAD_INPUT)
        given.add(key)
        name, dot, entry = key.partition(".")
        if dot:
            mapping = settings.setdefault(name, {})
            if not isinstance(mapping, dict):
                fail(f"--set: {name!r} is not a mapping setting", EXIT_BAD_INPUT)
            mapping[entry] = value
        else:
            settings[key] = value
    return settings


# --- showing endpoints without their secrets --------------------------------------------------


def redact(config: Mapping[str, Any]) -> dict[str, Any]:
    """Settings safe to print: credentials hidden, URLs cut to scheme and host (Slack and
    Teams webhook URLs carry their token in the path)."""
    shown: dict[str, Any] = {}
    for key, value in config.items():
        lowered = key.lower()
        if any(word in lowered for word in _SECRET_WORDS):
            shown[key] = REDACTED
        elif lowered == "headers" and isinstance(value, Mapping):
            shown[key] = dict.fromkeys(value, REDACTED)
        elif lowered.endswith("url") and isinstance(value, str):
            shown[key] = redact_url(value)
        else:
            shown[key] = value
    return shown


def redact_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return REDACTED
    if not parts.scheme or not host:
        return REDACTED
    rest = "/…" if (parts.path not in ("", "/") or parts.query) else ""
    return f"{parts.scheme}://{host}{port}{rest}"


def endpoint_dict(endpoint: Endpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "name": endpoint.name,
        "kind": endpoint.kind,
        "events": list(endpoint.events),
        "active": endpoint.active,
        "config": redact(endpoint.config),
        "created_at": endpoint.created_at,
    }


def _target(endpoint: Endpoint) -> str:
    config = redact(endpoint.config)
    if endpoint.kind == "email":
        to = endpoint.config.get("to")
        recipients = ", ".join(to) if isinstance(to, list) else str(to or "")
        return f"{recipients} via {config.get('host', '')}"
    return str(config.get("url", ""))


def _endpoint(wired: App, endpoint_id: int) -> Endpoint:
    from leadgate.services.handoff_queries import get_endpoint

    endpoint = get_endpoint(wired.uow(), endpoint_id)
    if endpoint is None:
        fail(f"no endpoint with id {endpoint_id}")
    return endpoint


EndpointArgument = Annotated[int, typer.Argument(metavar="ID", help="The endpoint's id.")]


@app.command()
def add(
    name: Annotated[str, typer.Argument(metavar="NAME", help="A unique name, e.g. sales-slack.")],
    kind: Annotated[str, typer.Option(help="slack, teams, webhook or email.")],
    events: Annotated[
        str,
        typer.Option(
            help="Comma-separated event types it subscribes to (handoff.created, "
            "handoff.queued, sla.warning, sla.breached, stage.changed, lead.recycled, "
            "lead.disqualified, audience.changed), or * for all."
        ),
    ],
    settings: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="KEY=VALUE",
            help="One setting (repeatable): url, secret, timeout ...; headers.NAME=VALUE "
            "for a header; email: host, port, security, from, to, username, password.",
            show_default=False,
        ),
    ] = None,
    config_file: Annotated[
        Path | None,
        typer.Option(
            "--config",
            metavar="FILE.json",
            help="The settings as a JSON object (--set values override it).",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Add an endpoint. Its settings are checked before anything is stored.

    Examples: `leadgate endpoints add sales-slack --kind slack --events handoff.created,sla.breached
    --set url=https://hooks.slack.com/services/T0/B0/XXX`;
    `leadgate endpoints add crm --kind webhook --events '*' --set url=https://crm.example.com/hook
    --set secret=$(openssl rand -hex 24)`.
    """
    from leadgate.adapters.notify.channel import CHANNEL_KINDS, ChannelConfigError, config_from_dict
    from leadgate.services.handoff_config import NameTaken, create_endpoint

    name = name.strip()
    if not name:
        fail("NAME: required", EXIT_BAD_INPUT)
    kind = kind.strip().lower()
    if kind not in CHANNEL_KINDS:
        fail(f"--kind: unknown kind {kind!r}; one of {', '.join(CHANNEL_KINDS)}", EXIT_BAD_INPUT)
    subscribed = parse_events(events)
    config = parse_settings(settings or [], config_file)
    with wired_app() as wired:
        try:
            endpoint = create_endpoint(
                wired.uow(),
                name=name,
                kind=kind,
                config=config,
                events=subscribed,
                check=config_from_dict,
                now=now(),
            )
        except ChannelConfigError as exc:
            where = f"setting {exc.field!r}" if exc.field else "settings"
            fail(f"{where}: {exc}", EXIT_BAD_INPUT)
        except NameTaken:
            fail(f"NAME: an endpoint named {name!r} exists", EXIT_BAD_INPUT)
    if as_json:
        print_json(endpoint_dict(endpoint))
        return
    console.print(
        f"endpoint {endpoint.id} '{endpoint.name}' ({endpoint.kind}) → {_target(endpoint)}; "
        f"events {','.join(endpoint.events)}. Try it: leadgate endpoints test {endpoint.id}",
        highlight=False,
    )


@app.command("list")
def list_(limit: LimitOption = 50, after: AfterOption = None, as_json: JsonOption = False) -> None:
    """List endpoints (secrets and webhook URLs are not shown)."""
    from leadgate.services.handoff_queries import list_endpoints

    with wired_app() as wired:
        listed = [e for e in list_endpoints(wired.uow()) if after is None or e.id > after]
    endpoints = listed[:limit]
    if as_json:
        print_json([endpoint_dict(e) for e in endpoints])
        return
    table = Table("id", "name", "kind", "events", "active", "target", "created (UTC)")
    for e in endpoints:
        table.add_row(
            str(e.id),
            e.name,
            e.kind,
            ",".join(e.events),
            "yes" if e.active else "no",
            _target(e),
            stamp(e.created_at),
        )
    console.print(table)
    page_hint(len(listed) > limit, endpoints[-1].id if endpoints else None)


def _set_active(endpoint_id: int, active: bool, as_json: bool) -> None:
    from leadgate.services.handoff_config import set_endpoint_active

    with wired_app() as wired:
        endpoint = set_endpoint_active(wired.uow(), endpoint_id, active=active)
    if as_json:
        print_json(endpoint_dict(endpoint))
    elif active:
        console.print(f"endpoint {endpoint_id} '{endpoint.name}' enabled", highlight=False)
    else:
        console.print(
            f"endpoint {endpoint_id} '{endpoint.name}' disabled: no new messages are queued "
            "for it; those already queued wait until it is enabled again",
            highlight=False,
        )


@app.command()
def disable(endpoint_id: EndpointArgument, as_json: JsonOption = False) -> None:
    """Pause an endpoint: no new notifications are queued for it, and those already queued
    wait (neither sent nor dead-lettered) until it is enabled again."""
    _set_active(endpoint_id, False, as_json)


@app.command()
def enable(endpoint_id: EndpointArgument, as_json: JsonOption = False) -> None:
    """Resume an endpoint: notifications are queued for it again and the waiting ones go out."""
    _set_active(endpoint_id, True, as_json)


@app.command()
def test(endpoint_id: EndpointArgument, as_json: JsonOption = False) -> None:
    """Send one sample handoff alert to an endpoint now (not through the outbox) and print
    what the receiver answered. Exit 1 when it failed.

    The sample is marked as a test: its title starts with [test] and its data has
    "test": true, so a receiver can tell it from a real handoff.
    """
    from leadgate.adapters.notify.dispatch import Dispatcher

    with wired_app() as wired:
        endpoint = _endpoint(wired, endpoint_id)
    with Dispatcher() as dispatch:
        result = dispatch(endpoint, sample_notification(endpoint.id, now()))
    if as_json:
        print_json(
            {
                "endpoint_id": endpoint.id,
                "ok": result.ok,
                "status": result.status,
                "error": result.error,
                "retryable": result.retryable,
                "duration_ms": round(result.duration_ms, 1),
            }
        )
    elif result.ok:
        console.print(
            f"endpoint {endpoint.id} '{endpoint.name}': delivered "
            f"({'SMTP' if endpoint.kind == 'email' else 'HTTP'} {result.status}) "
            f"in {result.duration_ms:.0f} ms",
            highlight=False,
        )
    if not result.ok:
        if not as_json:
            later = "a retry may succeed" if result.retryable else "retrying will not help"
            fail(f"endpoint {endpoint.id} '{endpoint.name}': {result.error} ({later})")
        raise typer.Exit(EXIT_FAILURE)


def sample_notification(endpoint_id: int, at: datetime) -> Notification:
    """A handoff alert about a made-up lead, marked as a test, with its own key."""
    from dataclasses import replace
    from datetime import timedelta

    from leadgate.domain.notifications import (
        AccountSummary,
        ContextPackage,
        EventType,
        HandoffSummary,
        LeadSummary,
        ScoreSummary,
        TopContribution,
        event_key,
        handoff_created,
    )

    lead = LeadSummary(
        0, email="ada@example.com", first_name="Ada", last_name="Example", title="VP Marketing"
    )
    context = ContextPackage(
        lead=lead,
        account=AccountSummary("example.com", "Example Inc", "software", 250),
        score=ScoreSummary(40, 47, 87, "A"),
        top_contributions=(
            TopContribution("demo_request", "engagement", 30, "Asked for a demo", 1),
        ),
        source="leadgate endpoints test",
    )
    handoff = HandoffSummary(
        0, 0, at, owner="rep@example.com", team="sample", due_at=at + timedelta(hours=4)
    )
    alert = handoff_created(handoff, context)
    return replace(
        alert,
        key=event_key(EventType.HANDOFF_CREATED, "test", endpoint_id, at),
        title=f"[test] {alert.title}",
        payload={**alert.payload, "test": True},
    )


# --- the outbox -------------------------------------------------------------------------------


def message_dict(message: OutboxMessage, *, full: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": message.id,
        "endpoint_id": message.endpoint_id,
        "event_type": message.event_type,
        "idempotency_key": message.idempotency_key,
        "lead_id": message.lead_id,
        "status": message.status,
        "attempts": message.attempts,
        "next_attempt_at": message.next_attempt_at,
        "last_error": message.last_error,
        "created_at": message.created_at,
        "delivered_at": message.delivered_at,
        "title": message.notification.get("title"),
    }
    if full:
        data["notification"] = dict(message.notification)
    return data


@outbox_app.command("list")
def outbox_list(
    status: Annotated[
        MessageStatus | None, typer.Option(help="Only messages in this state.", show_default=False)
    ] = None,
    endpoint: Annotated[
        int | None,
        typer.Option(metavar="ID", help="Only messages for this endpoint.", show_default=False),
    ] = None,
    limit: LimitOption = 50,
    after: AfterOption = None,
    as_json: JsonOption = False,
) -> None:
    """List outbox messages, oldest first.

    Examples: `leadgate outbox list --status dead`; `leadgate outbox list --endpoint 2 --json`.
    """
    from leadgate.services.handoff_queries import list_endpoints, outbox_page

    with wired_app() as wired:
        names = {e.id: e.name for e in list_endpoints(wired.uow())}
        if endpoint is not None and endpoint not in names:
            fail(f"no endpoint with id {endpoint}")
        page = outbox_page(
            wired.uow(),
            status=status.value if status else None,
            endpoint_id=endpoint,
            after_id=after,
            limit=limit,
        )
    messages = page.items
    if as_json:
        print_json([message_dict(m) for m in messages])
        return
    table = Table(
        "id", "endpoint", "event", "lead", "status", "attempts", "next / delivered", "last error"
    )
    for m in messages:
        table.add_row(
            str(m.id),
            f"{m.endpoint_id} {names.get(m.endpoint_id, '')}".strip(),
            m.event_type,
            str(m.lead_id or ""),
            m.status,
            str(m.attempts),
            stamp(m.delivered_at if m.status == "delivered" else m.next_attempt_at),
            _short(m.last_error),
        )
    console.print(table)
    page_hint(page.more, messages[-1].id if messages else None)


@outbox_app.command("show")
def outbox_show(
    message_id: Annotated[int, typer.Argument(metavar="ID", help="The message's id.")],
    as_json: JsonOption = False,
) -> None:
    """Show one message and every delivery attempt made for it."""
    from leadgate.services.handoff_queries import get_endpoint, outbox_message

    with wired_app() as wired:
        detail = outbox_message(wired.uow(), message_id)
        if detail is None:
            fail(f"no outbox message with id {message_id}")
        endpoint = get_endpoint(wired.uow(), detail.message.endpoint_id)
    message, attempts = detail.message, detail.attempts
    if as_json:
        print_json({**message_dict(message, full=True), "delivery_attempts": attempts})
        return
    where = f"{endpoint.name} ({endpoint.kind})" if endpoint else str(message.endpoint_id)
    console.print(
        f"[bold]message {message.id}[/] {message.event_type} → endpoint {message.endpoint_id} "
        f"{where}\n"
        f"title: {message.notification.get('title', '')}\n"
        f"key: {message.idempotency_key}  lead: {message.lead_id or '-'}  "
        f"status: {message.status}  attempts: {message.attempts}\n"
        f"created {stamp(message.created_at)} UTC"
        + (
            f", delivered {stamp(message.delivered_at)} UTC"
            if message.delivered_at
            else f", next attempt {stamp(message.next_attempt_at)} UTC"
            if message.status == "pending"
            else ""
        ),
        highlight=False,
    )
    if not attempts:
        console.print("no delivery attempts yet")
        return
    table = Table("#", "at (UTC)", "ok", "status", "ms", "error", title="delivery attempts")
    for number, attempt in enumerate(attempts, start=1):
        table.add_row(
            str(number),
            f"{attempt['attempted_at']:%Y-%m-%d %H:%M:%S}",
            "yes" if attempt["ok"] else "no",
            str(attempt["status_code"] or ""),
            f"{attempt['duration_ms']:.0f}",
            attempt["error"] or "",
        )
    console.print(table)


@outbox_app.command("replay")
def outbox_replay(
    message_id: Annotated[int, typer.Argument(metavar="ID", help="The message's id.")],
    as_json: JsonOption = False,
) -> None:
    """Queue a dead (or delivered) message again, with its attempts reset and the same
    idempotency key; the worker sends it on its next round."""
    from leadgate.services.delivery import replay
    from leadgate.services.handoff_queries import outbox_message

    with wired_app() as wired:
        before = outbox_message(wired.uow(), message_id)
        replay(wired.uow(), message_id, now=now())
        after = outbox_message(wired.uow(), message_id)
    assert after is not None
    if as_json:
        print_json(message_dict(after.message))
        return
    was = f" (was {before.message.status})" if before else ""
    console.print(
        f"message {message_id} queued again{was}, key {after.message.idempotency_key}; "
        "`leadgate worker` delivers it",
        highlight=False,
    )


def _short(text: str | None, size: int = 60) -> str:
    if not text:
        return ""
    return text if len(text) <= size else text[: size - 1] + "…"
