"""Per-lead commands: score, explain, transitions, stage."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from leadgate.cli._common import EXIT_BAD_INPUT, console, fail, now, parse_time, print_json
from leadgate.cli._common import app as wired_app
from leadgate.cli.render import explanation_table, factors_table, fmt, scores_table
from leadgate.domain.lifecycle import ActorType, Stage

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def score(
    lead: Annotated[int | None, typer.Option(help="Only this lead.", show_default=False)] = None,
    stage: Annotated[
        Stage | None, typer.Option(help="Only leads in this stage.", show_default=False)
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Rows per page.")] = 20,
    page: Annotated[int, typer.Option(min=1, help="Page number.")] = 1,
    as_json: JsonOption = False,
) -> None:
    """List current scores, highest first (or one lead's with --lead)."""
    from leadgate.analytics.scores import ranked_scores

    with wired_app() as wired, wired.engine.connect() as connection:
        rows = ranked_scores(
            connection,
            lead_id=lead,
            stage=stage.value if stage else None,
            limit=limit,
            offset=(page - 1) * limit,
        )
    if lead is not None and not rows:
        fail(f"no lead with id {lead} (or it has no score yet)")
    if as_json:
        print_json(rows)
    else:
        console.print(scores_table(rows))


def explain(
    lead: Annotated[int, typer.Argument(help="Lead id.")],
    at: Annotated[
        str | None,
        typer.Option(
            help="Score as of this time (ISO 8601) instead of the stored score's time.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Show why a lead has its score: every rule, its touchpoints, decay and caps."""
    from leadgate.services.queries import explain_lead

    with wired_app() as wired:
        result = explain_lead(wired.uow(), lead, at=parse_time(at, "--at"))
    q = result.qualification
    s = q.score
    if as_json:
        print_json(
            {
                "lead_id": lead,
                "email": result.lead.email,
                "stage": result.lead.stage,
                "model_version": result.model_version,
                "at": s.at,
                "fit": s.fit,
                "engagement": s.engagement,
                "total": s.total,
                "grade": s.grade.value if s.grade else None,
                "gates": q.gates,
                "contributions": s.contributions,
                "probability": s.probability,
                "predictive_version": result.predictive_version,
                "top_factors": result.prediction.factors if result.prediction else [],
            }
        )
        return
    who = result.lead.email or f"lead {lead}"
    console.print(
        f"[bold]{who}[/]  stage {result.lead.stage.value}  grade {s.grade or '-'}  "
        f"total {fmt(s.total)}  (model v{result.model_version}, as of {s.at:%Y-%m-%d %H:%M} UTC)"
    )
    gates = q.gates
    console.print(
        f"gates: mql {'met' if gates.mql else 'not met'}, sales-ready "
        f"{'met' if gates.sales_ready else 'not met'}, skip-to-sql "
        f"{'met' if gates.skip_to_sql else 'not met'}"
    )
    console.print(explanation_table(s))
    if result.prediction is not None:
        console.print(factors_table(result.prediction, result.predictive_version))


def transitions(
    lead: Annotated[int, typer.Argument(help="Lead id.")],
    as_json: JsonOption = False,
) -> None:
    """List a lead's stage transitions with actor, reason, score and model version."""
    from leadgate.services.queries import lead_transitions

    with wired_app() as wired:
        rows = lead_transitions(wired.uow(), lead)
    if as_json:
        print_json(rows)
        return
    table = Table("when (UTC)", "from", "to", "actor", "reason", "total", "grade", "model")
    for r in rows:
        table.add_row(
            f"{r.occurred_at:%Y-%m-%d %H:%M}",
            r.from_stage.value,
            r.to_stage.value,
            f"{r.actor_type.value}:{r.actor}",
            r.reason + (" (override)" if r.override else ""),
            fmt(r.total) if r.total is not None else "",
            r.grade or "",
            str(r.model_version or ""),
        )
    console.print(table)


def stage(
    lead: Annotated[int, typer.Argument(help="Lead id.")],
    to: Annotated[Stage, typer.Option("--to", help="New stage.")],
    reason: Annotated[str, typer.Option(help="Why (kept with the transition).")],
    actor: Annotated[str, typer.Option(help="Who decides.")] = "cli",
    override: Annotated[
        bool, typer.Option(help="Allow a move outside the transition table (needs a reason).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Move a lead by decision: accept, recycle, disqualify, opportunity, won, lost."""
    from leadgate.services.commands import ChangeStage
    from leadgate.services.lifecycle import change_stage

    if not reason.strip():
        fail("--reason must not be empty", EXIT_BAD_INPUT)
    with wired_app() as wired:
        result = change_stage(
            wired.uow(),
            ChangeStage(lead, to, reason, actor, ActorType.USER, override),
            now=now(),
        )
    if as_json:
        print_json(result)
    else:
        console.print(
            f"lead {lead}: {result.from_stage.value} → {result.to_stage.value}"
            f"{' (override)' if result.override else ''}"
        )


def register(app: typer.Typer) -> None:
    commands: list[Any] = [score, explain, transitions, stage]
    for command in commands:
        app.command()(command)
