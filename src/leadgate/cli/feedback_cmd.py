"""``leadgate feedback``: what sales says back about a lead.

Each command records an outcome and, where the stage moves, a transition (analytics read
both), and answers the lead's pending handoff.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated, Any

import typer

from leadgate.cli._common import EXIT_BAD_INPUT, console, fail, now, print_json
from leadgate.cli._common import app as wired_app
from leadgate.cli.handoffs_cmd import ActorOption, JsonOption

if TYPE_CHECKING:
    from leadgate.services.feedback import Feedback

app = typer.Typer(
    help="Sales feedback: accept, recycle, disqualify, opportunity, won, lost.",
    no_args_is_help=True,
)

LeadArgument = Annotated[int, typer.Argument(metavar="LEAD", help="The lead's id.")]
NoteOption = Annotated[
    str | None,
    typer.Option(
        help="Free text kept with the outcome (required with reason 'other').", show_default=False
    ),
]

# The service names fields as the API does; a CLI user typed options.
_OPTIONS = {
    "reason": "--reason",
    "note": "--note",
    "nurture_track": "--track",
    "amount": "--amount",
    "expected_close": "--expected-close",
    "bant": "--budget/--authority/--need/--timeline",
}
_FIELD = re.compile(r"^(\w+): ")


def _record(feedback: Feedback, as_json: bool) -> None:
    from leadgate.services.errors import InvalidInput
    from leadgate.services.feedback import record_feedback

    feedback = replace(feedback, actor=feedback.actor.strip() or "cli")
    with wired_app() as wired:
        try:
            result = record_feedback(wired.uow(), feedback, now=now())
        except InvalidInput as exc:
            message = str(exc)
            field = _FIELD.match(message)
            if field and field[1] in _OPTIONS:
                message = f"{_OPTIONS[field[1]]}: {message[field.end() :]}"
            fail(message, EXIT_BAD_INPUT)
    if as_json:
        print_json(result)
        return
    move = (
        f"{result.from_stage.value} → {result.to_stage.value}"
        if result.to_stage is not None
        else f"stays {result.from_stage.value}"
    )
    handoff = f"; handoff {result.handoff_id} answered" if result.handoff_id else ""
    track = f"; nurture track {result.nurture_track}" if result.nurture_track else ""
    console.print(
        f"lead {feedback.lead_id} {feedback.kind}: {move} "
        f"(outcome {result.outcome_id}{handoff}{track})",
        highlight=False,
    )


def _text(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


@app.command()
def accept(
    lead: LeadArgument,
    budget: Annotated[
        str | None, typer.Option(help="BANT: the budget.", show_default=False)
    ] = None,
    authority: Annotated[
        str | None, typer.Option(help="BANT: who decides.", show_default=False)
    ] = None,
    need: Annotated[str | None, typer.Option(help="BANT: the need.", show_default=False)] = None,
    timeline: Annotated[
        str | None, typer.Option(help="BANT: when they buy.", show_default=False)
    ] = None,
    actor: ActorOption = "cli",
    as_json: JsonOption = False,
) -> None:
    """Accept a lead: it becomes an SQL (if it is not one yet) and its handoff is accepted.

    Example: `leadgate feedback accept 42 --budget "50k" --timeline "Q3"`.
    """
    from leadgate.services.feedback import Feedback

    answers = {"budget": budget, "authority": authority, "need": need, "timeline": timeline}
    details: dict[str, Any] = {k: v.strip() for k, v in answers.items() if v and v.strip()}
    _record(Feedback(lead, "accepted", actor, details=details), as_json)


@app.command()
def recycle(
    lead: LeadArgument,
    reason: Annotated[
        str, typer.Option(help="One of the configured recycle reasons (see handoff-config).")
    ],
    note: NoteOption = None,
    track: Annotated[
        str | None,
        typer.Option(help="Nurture track (default: the configured default).", show_default=False),
    ] = None,
    actor: ActorOption = "cli",
    as_json: JsonOption = False,
) -> None:
    """Recycle a lead: back to nurture on a track, announced as lead.recycled; it may
    qualify again later.

    Example: `leadgate feedback recycle 42 --reason bad_timing --track long_term`.
    """
    from leadgate.services.feedback import Feedback

    feedback = Feedback(
        lead,
        "recycled",
        actor,
        reason=_text(reason),
        note=_text(note),
        nurture_track=_text(track),
    )
    _record(feedback, as_json)


@app.command()
def disqualify(
    lead: LeadArgument,
    reason: Annotated[
        str, typer.Option(help="One of the configured disqualify reasons (see handoff-config).")
    ],
    note: NoteOption = None,
    actor: ActorOption = "cli",
    as_json: JsonOption = False,
) -> None:
    """Disqualify a lead, announced as lead.disqualified.

    Example: `leadgate feedback disqualify 42 --reason other --note "reseller"`.
    """
    from leadgate.services.feedback import Feedback

    _record(Feedback(lead, "disqualified", actor, reason=_text(reason), note=_text(note)), as_json)


@app.command()
def opportunity(
    lead: LeadArgument,
    amount: Annotated[
        float | None, typer.Option(help="Expected deal amount.", show_default=False)
    ] = None,
    expected_close: Annotated[
        str | None,
        typer.Option(metavar="YYYY-MM-DD", help="Expected close date.", show_default=False),
    ] = None,
    actor: ActorOption = "cli",
    as_json: JsonOption = False,
) -> None:
    """Open an opportunity for a lead.

    Example: `leadgate feedback opportunity 42 --amount 48000 --expected-close 2026-06-30`.
    """
    from leadgate.services.feedback import Feedback

    details: dict[str, Any] = {}
    if amount is not None:
        details["amount"] = amount
    if expected_close is not None:
        details["expected_close"] = expected_close
    _record(Feedback(lead, "opportunity", actor, details=details), as_json)


@app.command()
def won(lead: LeadArgument, actor: ActorOption = "cli", as_json: JsonOption = False) -> None:
    """Mark a lead's deal won: the lead becomes a customer.

    Example: `leadgate feedback won 42`.
    """
    from leadgate.services.feedback import Feedback

    _record(Feedback(lead, "won", actor), as_json)


@app.command()
def lost(
    lead: LeadArgument,
    reason: Annotated[str, typer.Option(help="Why the deal was lost.")],
    note: NoteOption = None,
    actor: ActorOption = "cli",
    as_json: JsonOption = False,
) -> None:
    """Mark a lead's deal lost, with the reason.

    Example: `leadgate feedback lost 42 --reason "went with a competitor"`.
    """
    from leadgate.services.feedback import Feedback

    _record(Feedback(lead, "lost", actor, reason=_text(reason), note=_text(note)), as_json)
