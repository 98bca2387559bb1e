"""Rich renderings shared by commands: score tables and explanations."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from leadgate.analytics.scores import ScoreRow
from leadgate.domain.predictive import Prediction
from leadgate.domain.scoring import Score


def fmt(value: float) -> str:
    """Scores print with one decimal; the JSON output keeps full precision."""
    return f"{value:.1f}"


def scores_table(rows: list[ScoreRow], title: str | None = None) -> Table:
    table = Table(
        "lead", "email", "account", "stage", "grade", "fit", "engagement", "total", title=title
    )
    for row in rows:
        table.add_row(
            str(row.lead_id),
            row.email or "",
            row.account or "",
            row.stage,
            row.grade or "-",
            fmt(row.fit),
            fmt(row.engagement),
            fmt(row.total),
        )
    return table


def explanation_table(score: Score, title: str | None = None) -> Table:
    """One row per contributing rule; the points column sums to the total."""
    table = Table("rule", "kind", "matched", "raw", "after decay", "points", "note", title=title)
    for c in score.contributions:
        note = []
        if c.capped:
            note.append(f"capped at {fmt(c.cap or 0)}")
        if c.kind == "fit" and c.value is not None:
            note.append(f"= {_short(c.value)}")
        matched = str(len(c.matches)) if c.kind == "engagement" else ""
        table.add_row(
            c.rule_id, c.kind, matched, fmt(c.raw), fmt(c.decayed), fmt(c.points), ", ".join(note)
        )
    table.add_section()
    table.add_row(
        "total",
        "",
        "",
        "",
        "",
        fmt(score.total),
        f"fit {fmt(score.fit)} + engagement {fmt(score.engagement)}",
    )
    return table


def _short(value: Any) -> str:
    text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def factors_table(prediction: Prediction, version: int | None) -> Table:
    """The features that moved this lead's probability most, in log-odds against the
    average lead (positive: more likely to convert)."""
    table = Table(
        "feature",
        "value",
        "contribution (log-odds)",
        title=f"probability {prediction.probability:.1%} (predictive model v{version})",
    )
    for factor in prediction.factors:
        table.add_row(factor.feature, _short(factor.value), f"{factor.contribution:+.2f}")
    return table
