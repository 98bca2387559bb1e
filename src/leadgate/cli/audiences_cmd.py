"""``leadgate audiences``: saved audiences (leads meeting conditions), kept in step and
exported as CSV for ad platforms and nurture tools."""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from leadgate.cli._common import EXIT_BAD_INPUT, console, err_console, fail, now, print_json
from leadgate.cli._common import app as wired_app
from leadgate.cli.handoffs_cmd import AfterOption, JsonOption, LimitOption, page_hint, stamp

if TYPE_CHECKING:
    from leadgate.bootstrap import App
    from leadgate.services.ports import Audience

app = typer.Typer(
    help="Saved audiences: leads by stage, grade, score and attributes; CSV export and "
    "membership pushes to a webhook.",
    no_args_is_help=True,
)

AudienceArgument = Annotated[
    str, typer.Argument(metavar="NAME|ID", help="The audience's name or id.")
]

_WHERE = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(>=|<=|!=|~|=)\s*(.*?)\s*$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def parse_where(raw: str) -> dict[str, Any]:
    """Given one ``--where``, return the condition ``{field, op, value}``.

    ``stage=recycled`` (equals), ``grade=A,B`` (any of), ``country!=US,CA`` (none of),
    ``score>=80`` / ``score<=20`` (numbers), ``title~market`` (contains).
    """
    match = _WHERE.match(raw)
    if not match:
        fail(
            f"--where {raw!r}: expected FIELD=VALUE[,VALUE], FIELD!=VALUE, FIELD>=N, "
            "FIELD<=N or FIELD~TEXT",
            EXIT_BAD_INPUT,
        )
    field, sign, text = match.groups()
    if not text:
        fail(f"--where {raw!r}: {field} needs a value after {sign}", EXIT_BAD_INPUT)
    if sign in (">=", "<="):
        if not _NUMBER.match(text):
            fail(f"--where {raw!r}: {text!r} is not a number", EXIT_BAD_INPUT)
        return {"field": field, "op": "gte" if sign == ">=" else "lte", "value": float(text)}
    if sign == "~":
        return {"field": field, "op": "contains", "value": text}
    values = [_value(v.strip()) for v in text.split(",") if v.strip()]
    if sign == "!=":
        return {"field": field, "op": "not_in", "value": values}
    if len(values) == 1:
        return {"field": field, "op": "eq", "value": values[0]}
    return {"field": field, "op": "in", "value": values}


def _value(text: str) -> Any:
    # "employees=250" should compare as a number; a grade or a stage stays text.
    if _NUMBER.match(text):
        return float(text) if "." in text else int(text)
    return text


def describe(condition: dict[str, Any]) -> str:
    """A condition as it would be typed after --where."""
    field, op, value = condition.get("field"), condition.get("op", "eq"), condition.get("value")
    listed = ",".join(map(str, value)) if isinstance(value, list) else str(value)
    signs = {"eq": "=", "in": "=", "not_in": "!=", "gte": ">=", "lte": "<=", "contains": "~"}
    if op in signs:
        number = value if op in ("gte", "lte") and isinstance(value, float) else None
        shown = f"{number:g}" if number is not None else listed
        return f"{field}{signs[op]}{shown}"
    return f"{field} {op} {listed}"


def _audience(wired: App, ref: str) -> Audience:
    """By id when ``ref`` is a number that names one, else by name."""
    from leadgate.services.handoff_queries import audience_named, get_audience

    ref = ref.strip()
    if ref.isdigit():
        detail = get_audience(wired.uow(), int(ref))
        if detail is not None:
            return detail.audience
    found = audience_named(wired.uow(), ref)
    if found is None:
        fail(f"no audience named or numbered {ref!r} (see `leadgate audiences list`)")
    return found


def _audience_dict(audience: Audience, members: int | None = None) -> dict[str, Any]:
    return {
        "id": audience.id,
        "name": audience.name,
        "conditions": [dict(c) for c in audience.conditions],
        "endpoint_id": audience.endpoint_id,
        "members": members,
        "created_at": audience.created_at,
        "refreshed_at": audience.refreshed_at,
    }


@app.command()
def create(
    name: Annotated[str, typer.Argument(metavar="NAME", help="A unique name.")],
    where: Annotated[
        list[str],
        typer.Option(
            metavar="CONDITION",
            help="A condition every member meets (repeatable): FIELD=VALUE[,VALUE] (any of), "
            "FIELD!=VALUE[,VALUE], FIELD>=N, FIELD<=N, FIELD~TEXT. Fields: stage, grade, "
            "score, fit, engagement, nurture_track, a lead attribute (country, seniority, "
            "owner, source_channel, a trait) or account.* (account.industry, account.employees "
            "...).",
        ),
    ],
    endpoint: Annotated[
        int | None,
        typer.Option(
            metavar="ID",
            help="Push membership changes to this endpoint on every refresh.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Save an audience. Members are computed by `leadgate audiences refresh`.

    Example: `leadgate audiences create recycled-a --where stage=recycled --where grade=A,B
    --endpoint 3`.
    """
    from leadgate.services.audiences import create_audience
    from leadgate.services.errors import InvalidInput

    conditions = [parse_where(w) for w in where]
    with wired_app() as wired:
        try:
            audience = create_audience(
                wired.uow(), name=name, conditions=conditions, endpoint_id=endpoint, now=now()
            )
        except InvalidInput as exc:
            # The service names fields as the API does; a CLI user typed options.
            message = str(exc)
            for field, option in (("endpoint_id:", "--endpoint:"), ("name:", "NAME:")):
                if message.startswith(field):
                    message = option + message[len(field) :]
            condition = re.match(r"conditions\[(\d+)\][.\w]*: ", message)
            if condition and int(condition[1]) < len(where):
                message = f"--where {where[int(condition[1])]!r}: {message[condition.end() :]}"
            fail(message, EXIT_BAD_INPUT)
    if as_json:
        print_json(_audience_dict(audience))
        return
    console.print(
        f"audience {audience.id} '{audience.name}': "
        f"{' and '.join(describe(dict(c)) for c in audience.conditions)}"
        + (f"; changes go to endpoint {audience.endpoint_id}" if audience.endpoint_id else "")
        + f". Next: leadgate audiences refresh {audience.id}",
        highlight=False,
    )


@app.command("list")
def list_(limit: LimitOption = 50, after: AfterOption = None, as_json: JsonOption = False) -> None:
    """List saved audiences with their members as of the last refresh."""
    from leadgate.services.handoff_queries import get_audience, list_audiences

    with wired_app() as wired:
        listed = [a for a in list_audiences(wired.uow()) if after is None or a.id > after]
        shown = listed[:limit]
        counts = {}
        for audience in shown:
            detail = get_audience(wired.uow(), audience.id)
            counts[audience.id] = detail.members if detail else 0
    if as_json:
        print_json([_audience_dict(a, counts[a.id]) for a in shown])
        return
    table = Table("id", "name", "conditions", "endpoint", "members", "refreshed (UTC)")
    for a in shown:
        table.add_row(
            str(a.id),
            a.name,
            " and ".join(describe(dict(c)) for c in a.conditions),
            str(a.endpoint_id or ""),
            str(counts[a.id]) if a.refreshed_at else "",
            stamp(a.refreshed_at) or "never",
        )
    console.print(table)
    page_hint(len(listed) > limit, shown[-1].id if shown else None)


@app.command()
def refresh(audience: AudienceArgument, as_json: JsonOption = False) -> None:
    """Recompute an audience's members and push who joined and who left to its endpoint.

    Example: `leadgate audiences refresh recycled-a` (from cron, or after a rescore).
    """
    from leadgate.services.audiences import refresh_audience

    with wired_app() as wired:
        found = _audience(wired, audience)
        result = refresh_audience(wired.uow(), found.id, now=now())
    if as_json:
        print_json(result)
        return
    pushed = (
        f"; changes queued for endpoint {found.endpoint_id}"
        if found.endpoint_id and (result.added or result.removed)
        else ""
    )
    console.print(
        f"audience {found.id} '{found.name}': {result.members} members "
        f"({result.added} joined, {result.removed} left){pushed}",
        highlight=False,
    )


@app.command()
def export(
    audience: AudienceArgument,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            metavar="FILE.csv",
            help="Write here instead of standard output.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Export the leads that meet an audience's conditions now as CSV: lead_id, email,
    first_name, last_name, account_domain, stage, grade, score.

    Examples: `leadgate audiences export recycled-a > audience.csv`;
    `leadgate audiences export 2 -o audience.csv`.
    """
    from leadgate.services.handoff_queries import EXPORT_COLUMNS, export_audience

    with wired_app() as wired:
        found = _audience(wired, audience)
        rows = export_audience(wired.uow(), found.id)
        if output is None:
            writer = csv.writer(sys.stdout)
            writer.writerow(EXPORT_COLUMNS)
            writer.writerows(rows)
            return
        try:
            with output.open("w", encoding="utf-8", newline="") as file:
                writer = csv.writer(file)
                writer.writerow(EXPORT_COLUMNS)
                count = 0
                for row in rows:
                    writer.writerow(row)
                    count += 1
        except OSError as exc:
            fail(f"-o: cannot write {output}: {exc.strerror}", EXIT_BAD_INPUT)
    err_console.print(
        f"wrote {count} leads of audience '{found.name}' to {output}", highlight=False
    )
