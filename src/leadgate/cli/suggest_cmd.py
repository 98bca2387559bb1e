"""``leadgate model suggest``: rule points from evidence, as a diff of the active model."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from leadgate.cli._common import EXIT_BAD_INPUT, console, fail, now, parse_time, print_json
from leadgate.cli._common import app as wired_app
from leadgate.cli.predict_cmd import parse_horizon
from leadgate.cli.progress import progress_bar
from leadgate.domain.predictive import Target

if TYPE_CHECKING:
    from leadgate.domain.rule_evidence import Evidence, Proposal
    from leadgate.services.rule_evidence import SuggestReport

_PER = 30  # rates are shown per 30 lead-days: "conversions per lead-month"
_SHORT = {"fit": "fit", "engagement": "eng", "touchpoint": "touch"}


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"
    YAML_DIFF = "yaml-diff"


def suggest(
    target: Annotated[Target, typer.Option(help="The conversion to explain.")] = Target.SQL,
    horizon: Annotated[
        str, typer.Option(help="How long each lead is followed after it is first seen (90d, 12w).")
    ] = "90d",
    since: Annotated[
        str | None,
        typer.Option(
            "--from",
            metavar="DATE",
            help="Only leads first seen on or after this date (YYYY-MM-DD or ISO 8601, UTC).",
            show_default=False,
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--to",
            metavar="DATE",
            help="Only leads first seen before this date (EXCLUDED).",
            show_default=False,
        ),
    ] = None,
    output_format: Annotated[
        Format,
        typer.Option(
            "--format",
            help="table (the evidence), json (evidence, proposals, suggested YAML and diff) "
            "or yaml-diff (a unified diff of the active model, the evidence as # lines "
            "above it: `patch -p1` applies it).",
        ),
    ] = Format.TABLE,
    min_leads: Annotated[
        int,
        typer.Option(min=1, help="Leads needed with the rule fired, and without, to change it."),
    ] = 30,
    min_conversions: Annotated[
        int, typer.Option(min=1, help="Conversions needed (with and without) to change a rule.")
    ] = 10,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Also write the suggested model YAML to this file (for `leadgate backtest` "
            "or `leadgate model activate`).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Estimate each rule's contribution to conversion and suggest points from it.

    Each lead first seen in the period is followed day by day for the horizon; a rule's
    lift is the conversion rate on the days after it first fired over the rate on the
    other days, with a 95% interval. Points are suggested on the model's own scale for
    the rules (and unmodelled touchpoint types) with enough evidence; the others are
    left unchanged, and the output says why. Nothing is stored.
    """
    from leadgate.adapters.ml.rule_effects import joint_lifts
    from leadgate.adapters.model_points import ModelInvalid, unified_diff, with_suggestions
    from leadgate.domain.rule_evidence import Thresholds
    from leadgate.services.errors import InvalidInput
    from leadgate.services.rule_evidence import SuggestOptions, suggest_points

    try:
        options = SuggestOptions(
            target=target,
            horizon_days=parse_horizon(horizon),
            since=parse_time(since, "--from"),
            until=parse_time(until, "--to"),
            thresholds=Thresholds(min_leads, min_conversions),
        )
    except InvalidInput as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    quiet = output_format is not Format.TABLE
    with wired_app() as wired, progress_bar("reading the history", disable=quiet) as advance:
        report = suggest_points(
            wired.uow(), options, now=now(), progress=advance, joint=joint_lifts
        )
    name = f"model-v{report.model.version}.yaml"
    try:
        suggested = with_suggestions(report.model.document, report.suggestion.proposals, name)
    except ModelInvalid as exc:  # pragma: no cover - only numbers change; a bug if reached
        fail(f"the suggested model does not validate: {exc}")
    diff = unified_diff(report.model.document, suggested, name)
    if output is not None:
        try:
            output.write_text(suggested, encoding="utf-8")
        except OSError as exc:
            fail(f"cannot write {output}: {exc.strerror}", EXIT_BAD_INPUT)
    if output_format is Format.JSON:
        print_json({**_json(report), "suggested_document": suggested, "diff": diff})
    elif output_format is Format.YAML_DIFF:
        typer.echo("".join(f"# {line}\n" for line in _evidence_lines(report)), nl=False)
        typer.echo(diff or "# no change suggested\n", nl=False)
    else:
        console.print(_heading(report), highlight=False)
        console.print(evidence_table(report))
        console.print(f"scale: {_scale(report)}", highlight=False)
        changed = sum(1 for p in report.suggestion.proposals if p.suggested is not None)
        console.print(
            f"{changed} changes suggested; see them as a diff with --format yaml-diff"
            + (f", written to {output}" if output is not None else ""),
            highlight=False,
        )


def _heading(report: SuggestReport) -> str:
    o, c = report.options, report.cohort
    period = ""
    if o.since or o.until:
        since = f"{o.since:%Y-%m-%d}" if o.since else "…"
        until = f"{o.until:%Y-%m-%d}" if o.until else "…"
        period = f" first seen {since} – {until} (excluded)"
    return (
        f"model v{report.model.version} ({report.model.name}): {o.target.value} within "
        f"{o.horizon_days:g} days; {c.leads:,} leads{period}, {c.conversions:,} converted "
        f"over {c.days:,} lead-days"
    )


def _scale(report: SuggestReport) -> str:
    s = report.suggestion
    return f"{s.scale:.1f} points per unit of log lift ({s.scale_from})"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value * _PER:.1%}"


def lift_text(e: Evidence) -> str:
    """'2.31× [1.80, 2.95]', with ∞ for an unbounded upper limit."""
    if e.lift is None and e.low is None:
        return "-"
    lift = "∞" if e.lift is None else f"{e.lift:.2f}×"
    low = "-" if e.low is None else f"{e.low:.2f}"
    high = "∞" if e.high is None else f"{e.high:.2f}"
    return f"{lift} [{low}, {high}]"


def _points(p: Proposal) -> str:
    if p.points is None:
        return "-"
    current = f"{p.points:g}" + (f" (cap {p.cap:g})" if p.cap is not None else "")
    if p.suggested is None:
        return current
    cap = f" (cap {p.suggested_cap:g})" if p.suggested_cap is not None else ""
    return f"{current} → {p.suggested:g}{cap}"


def evidence_table(report: SuggestReport) -> Table:
    table = Table(
        "rule",
        "points",
        "leads with / without",
        "conversions with / without",
        f"rate per {_PER} days with / without",
        "lift [95%]",
        "joint lift",
        "verdict",
        title="evidence per rule (kind: fit, eng(agement), touch(point type no rule reads))",
    )
    for p in report.suggestion.proposals:
        e, t = p.evidence, p.evidence.tally
        new = f"new rule, {p.suggested:g} points" if p.verdict == "new" else ""
        table.add_row(
            f"{_SHORT[e.subject.kind.value]} {e.subject.id}",
            _points(p) if p.points is not None else new or "-",
            f"{t.exposed_leads:,} / {t.unexposed_leads:,}",
            f"{t.exposed_conversions:,} / {t.unexposed_conversions:,}",
            f"{_rate(e.rate_with)} / {_rate(e.rate_without)}",
            lift_text(e),
            "-" if e.joint_lift is None else f"{e.joint_lift:.2f}×",
            p.verdict.value.replace("_", " "),
        )
    return table


def _evidence_lines(report: SuggestReport) -> list[str]:
    lines = [f"leadgate model suggest: {_heading(report)}", f"scale: {_scale(report)}"]
    for p in report.suggestion.proposals:
        e, t = p.evidence, p.evidence.tally
        counts = (
            f"lift {lift_text(e)}; with it {t.exposed_conversions} conversions in "
            f"{t.exposed_days:,} lead-days ({t.exposed_leads} leads), without "
            f"{t.unexposed_conversions} in {t.unexposed_days:,} ({t.unexposed_leads} leads)"
            + ("" if e.joint_lift is None else f"; joint lift {e.joint_lift:.2f}×")
        )
        label = f"{e.subject.kind.value} {e.subject.id}"
        if p.verdict == "changed":
            why = p.reason.partition(": ")[2]
            lines.append(f"{label}: {_points(p)}{f', {why}' if why else ''}: {counts}")
        elif p.verdict == "new":
            lines.append(f"{label}: new rule, {p.suggested:g} points: {counts}")
        else:
            lines.append(f"{label}: unchanged, {p.reason}: {counts}")
    return lines


def _json(report: SuggestReport) -> dict[str, Any]:
    o = report.options
    return {
        "model_version": report.model.version,
        "model_name": report.model.name,
        "target": o.target.value,
        "horizon_days": o.horizon_days,
        "from": o.since,
        "to": o.until,
        "cohort": report.cohort,
        "scale": report.suggestion.scale,
        "scale_from": report.suggestion.scale_from,
        "rules": [
            {
                "kind": p.evidence.subject.kind,
                "id": p.evidence.subject.id,
                "verdict": p.verdict,
                "points": p.points,
                "suggested_points": p.suggested,
                "cap": p.cap,
                "suggested_cap": p.suggested_cap,
                "reason": p.reason,
                **_plain_tally(p.evidence),
            }
            for p in report.suggestion.proposals
        ],
    }


def _plain_tally(e: Evidence) -> dict[str, Any]:
    t = e.tally
    return {
        "exposed_leads": t.exposed_leads,
        "exposed_days": t.exposed_days,
        "exposed_conversions": t.exposed_conversions,
        "unexposed_leads": t.unexposed_leads,
        "unexposed_days": t.unexposed_days,
        "unexposed_conversions": t.unexposed_conversions,
        "rate_with": e.rate_with,
        "rate_without": e.rate_without,
        "lift": e.lift,
        "lift_low": e.low,
        "lift_high": e.high,
        "joint_lift": e.joint_lift,
    }


def register(model_app: typer.Typer) -> None:
    """Add ``suggest`` under ``leadgate model``."""
    model_app.command()(suggest)
