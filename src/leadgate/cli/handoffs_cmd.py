"""``leadgate handoffs``: list, show, push and touch handoffs to sales.

Also the options every handoff-era list command shares (``--limit``, ``--after``,
``--json``, ``--actor``), imported by the feedback, endpoints and audiences commands.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from leadgate.cli._common import (
    EXIT_BAD_INPUT,
    console,
    err_console,
    fail,
    now,
    parse_time,
    print_json,
)
from leadgate.cli._common import app as wired_app
from leadgate.domain.handoffs import HandoffStatus
from leadgate.domain.sla import SlaStatus

if TYPE_CHECKING:
    from leadgate.bootstrap import App
    from leadgate.domain.handoffs import Handoff

app = typer.Typer(
    help="Handoffs to sales: who got which lead, its SLA clock and context package.",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
LimitOption = Annotated[int, typer.Option(min=1, max=1000, help="Rows per page.")]
AfterOption = Annotated[
    int | None,
    typer.Option(
        metavar="ID",
        help="Start after this id: the last id of the previous page.",
        show_default=False,
    ),
]
# The person at the keyboard ($USER) unless --actor names someone else.
ActorOption = Annotated[
    str,
    typer.Option(
        envvar="USER",
        help="Who acts (kept with the outcome, transition or version it records).",
        show_default="$USER",
    ),
]


def stamp(moment: datetime | None) -> str:
    """Times in tables: minutes in UTC (JSON keeps full precision and the offset)."""
    return f"{moment:%Y-%m-%d %H:%M}" if moment else ""


def page_hint(more: bool, last_id: int | None) -> None:
    """Tell a person how to get the next page (on stderr, so stdout stays the table)."""
    if more and last_id is not None:
        err_console.print(f"[dim]more: --after {last_id}[/]", highlight=False)


def handoff_dict(handoff: Handoff, *, with_context: bool = False) -> dict[str, Any]:
    lead = handoff.context.get("lead") or {}
    data: dict[str, Any] = {
        "id": handoff.id,
        "lead_id": handoff.lead_id,
        "lead": lead.get("name"),
        "email": lead.get("email"),
        "kind": handoff.kind.value,
        "team": handoff.team,
        "owner": handoff.owner,
        "status": handoff.status.value,
        "routing_reason": handoff.routing_reason,
        "sla_policy": handoff.sla_policy,
        "sla_status": handoff.sla_status.value,
        "created_at": handoff.created_at,
        "due_at": handoff.due_at,
        "warn_at": handoff.warn_at,
        "warned_at": handoff.warned_at,
        "breached_at": handoff.breached_at,
        "first_touch_at": handoff.first_touch_at,
        "closed_at": handoff.closed_at,
    }
    if with_context:
        data["context"] = handoff.context
    return data


def _found(wired: App, handoff_id: int) -> Handoff:
    from leadgate.services.handoff_queries import get_handoff

    handoff = get_handoff(wired.uow(), handoff_id)
    if handoff is None:
        fail(f"no handoff with id {handoff_id}")
    return handoff


@app.command("list")
def list_(
    owner: Annotated[str | None, typer.Option(help="Only this rep's.", show_default=False)] = None,
    team: Annotated[str | None, typer.Option(help="Only this team's.", show_default=False)] = None,
    status: Annotated[
        HandoffStatus | None,
        typer.Option(help="Only handoffs in this status.", show_default=False),
    ] = None,
    sla_status: Annotated[
        SlaStatus | None,
        typer.Option(help="Only handoffs whose SLA is open, met or breached.", show_default=False),
    ] = None,
    limit: LimitOption = 50,
    after: AfterOption = None,
    as_json: JsonOption = False,
) -> None:
    """List handoffs, oldest first, with owner, status and SLA clock.

    Examples: `leadgate handoffs list --owner lena@example.com --status pending`;
    `leadgate handoffs list --sla-status breached --json`.
    """
    from leadgate.services.handoff_queries import handoff_page

    with wired_app() as wired:
        page = handoff_page(
            wired.uow(),
            owner=owner,
            team=team,
            status=status.value if status else None,
            sla_status=sla_status.value if sla_status else None,
            after_id=after,
            limit=limit,
        )
    rows = page.items
    if as_json:
        print_json([handoff_dict(h) for h in rows])
        return
    table = Table(
        "id", "lead", "team", "owner", "kind", "status", "sla", "due (UTC)", "first touch"
    )
    for h in rows:
        item = handoff_dict(h)
        who = item["email"] or item["lead"] or ""
        table.add_row(
            str(h.id),
            f"{h.lead_id} {who}".strip(),
            h.team,
            h.owner or "[dim](queue)[/]",
            h.kind.value,
            h.status.value,
            h.sla_status.value,
            stamp(h.due_at),
            stamp(h.first_touch_at),
        )
    console.print(table)
    page_hint(page.more, rows[-1].id if rows else None)


@app.command()
def show(
    handoff_id: Annotated[int, typer.Argument(metavar="ID", help="The handoff's id.")],
    as_json: JsonOption = False,
) -> None:
    """Show a handoff and its context package (as Markdown; the package as it was at the
    handoff: who, the company, why now, source, pages and content, form answers, intent,
    earlier stages).

    Example: `leadgate handoffs show 12 > handoff-12.md`.
    """
    from leadgate.domain.notifications import escape_markdown, render_markdown

    with wired_app() as wired:
        handoff = _found(wired, handoff_id)
    if as_json:
        print_json(handoff_dict(handoff, with_context=True))
        return
    item = handoff_dict(handoff)
    name = escape_markdown(item["lead"] or item["email"] or f"Lead {handoff.lead_id}")
    owner = (
        f"owner **{escape_markdown(handoff.owner)}**"
        if handoff.owner
        else "waiting in the team queue"
    )
    lines = [
        f"## Handoff {handoff.id}: {name} (lead {handoff.lead_id})",
        f"- {handoff.status.value} · {owner} · team {escape_markdown(handoff.team)} · "
        f"{handoff.kind.value}",
        f"- routed: {escape_markdown(handoff.routing_reason)}",
        f"- created {stamp(handoff.created_at)} UTC"
        + (f" · first touch due {stamp(handoff.due_at)} UTC" if handoff.due_at else "")
        + f" · SLA {handoff.sla_status.value}"
        + (f" (policy {escape_markdown(handoff.sla_policy)})" if handoff.sla_policy else ""),
    ]
    if handoff.first_touch_at or handoff.closed_at:
        lines.append(
            "- "
            + " · ".join(
                part
                for part in (
                    handoff.first_touch_at and f"first touch {stamp(handoff.first_touch_at)} UTC",
                    handoff.closed_at and f"closed {stamp(handoff.closed_at)} UTC",
                )
                if part
            )
        )
    typer.echo("\n".join(lines) + "\n")
    from leadgate.domain.notifications import ContextPackage

    package = ContextPackage.from_json(handoff.context)
    if package is None:
        typer.echo("(no context package was stored with this handoff)")
    else:
        typer.echo(render_markdown(package))


@app.command()
def push(
    lead: Annotated[int, typer.Argument(metavar="LEAD", help="The lead's id.")],
    as_json: JsonOption = False,
) -> None:
    """Hand a lead to sales by hand: routing picks the rep (or the team queue), the SLA
    clock starts and the alert is queued. Refused when the lead already has a pending
    handoff.

    Example: `leadgate handoffs push 42`.
    """
    from leadgate.services.handoffs import hand_off_manually

    with wired_app() as wired:
        handoff = hand_off_manually(wired.uow(), lead, now=now())
    if as_json:
        print_json(handoff_dict(handoff))
        return
    due = f"; first touch due {stamp(handoff.due_at)} UTC" if handoff.due_at else ""
    if handoff.owner:
        console.print(
            f"handoff {handoff.id}: lead {lead} → {handoff.owner} (team {handoff.team}){due}",
            highlight=False,
        )
    else:
        console.print(
            f"handoff {handoff.id}: lead {lead} waits in the {handoff.team} queue "
            f"({handoff.routing_reason}); the team manager is alerted{due}",
            highlight=False,
        )


@app.command()
def touch(
    handoff_id: Annotated[int, typer.Argument(metavar="ID", help="The handoff's id.")],
    at: Annotated[
        str | None,
        typer.Option(
            help="When the rep first reached the lead (ISO 8601; default now).",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Record the rep's first touch of a handoff's lead (when the CRM sends no sales
    touchpoint): the SLA is met if it was on time. A second touch changes nothing.

    Example: `leadgate handoffs touch 12 --at 2026-03-02T10:15Z`.
    """
    from leadgate.services.errors import InvalidInput
    from leadgate.services.feedback import record_first_touch

    moment = parse_time(at, "--at") or now()
    with wired_app() as wired:
        try:
            handoff = record_first_touch(wired.uow(), handoff_id, at=moment, now=now())
        except InvalidInput as exc:
            # The use case refuses a touch before the handoff or in the future as `at:`.
            message = str(exc)
            fail("--" + message if message.startswith("at: ") else message, EXIT_BAD_INPUT)
    if as_json:
        print_json(handoff_dict(handoff))
        return
    if handoff.first_touch_at != moment:
        console.print(
            f"handoff {handoff_id} was already touched at {stamp(handoff.first_touch_at)} UTC "
            f"(SLA {handoff.sla_status.value}); nothing changed",
            highlight=False,
        )
        return
    console.print(
        f"handoff {handoff_id}: first touch {stamp(handoff.first_touch_at)} UTC, "
        f"SLA {handoff.sla_status.value}",
        highlight=False,
    )
