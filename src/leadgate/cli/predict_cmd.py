"""``leadgate train`` and ``leadgate model predictive``: predictive models."""

from __future__ import annotations

import re
from typing import Annotated, Any

import typer
from rich.table import Table

from leadgate.cli._common import EXIT_BAD_INPUT, console, err_console, fail, now, print_json
from leadgate.cli._common import app as wired_app
from leadgate.cli.progress import progress_bar
from leadgate.domain.predictive import Target

predictive_app = typer.Typer(
    help="List, inspect and activate trained predictive models.", no_args_is_help=True
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]

# Rows of the metrics table: the two candidates, then the two baselines.
_ROWS = (
    ("logistic", "logistic regression"),
    ("lightgbm", "LightGBM"),
    ("rule_total", "baseline: rule total score"),
    ("naive_bayes", "baseline: naive Bayes (Odoo-style)"),
)


def parse_horizon(raw: str) -> float:
    """'90d', '12w' or '90' (days) → days."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([dw]?)\s*", raw.casefold())
    if match is None or float(match.group(1)) <= 0:
        fail(f"--horizon: {raw!r} is not a duration such as 90d or 12w", EXIT_BAD_INPUT)
    days = float(match.group(1))
    return days * 7 if match.group(2) == "w" else days


def train(
    target: Annotated[Target, typer.Option(help="The stage to predict.")] = Target.SQL,
    horizon: Annotated[
        str, typer.Option(help="Within how long the lead must reach it (90d, 12w).")
    ] = "90d",
    exclude: Annotated[
        str | None,
        typer.Option(
            help="Attributes or features to leave out, comma-separated (tags,lead_quality,"
            "asymmetrique*); case and punctuation are ignored.",
            show_default=False,
        ),
    ] = None,
    min_positives: Annotated[
        int, typer.Option(min=1, help="Refuse with fewer leads that reached the target.")
    ] = 50,
    min_negatives: Annotated[
        int, typer.Option(min=1, help="Refuse with fewer leads that did not.")
    ] = 50,
    seed: Annotated[int, typer.Option(help="Seed for folds and learners.")] = 0,
    actor: Annotated[str, typer.Option(help="Who trains (kept with the version).")] = "cli",
    as_json: JsonOption = False,
) -> None:
    """Train a predictive model from the recorded history and register it (not active).

    Features are built as of moments in each lead's life, labels from the transitions and
    outcomes within the horizon after them. Logistic regression and LightGBM are validated
    (time split when possible, else stratified k-fold), the better one is calibrated and
    stored; both are reported beside the rule score and a naive Bayes baseline.
    """
    from leadgate.adapters.ml.training import train as trainer
    from leadgate.services.predictive import TrainOptions, train_predictive

    options = TrainOptions(
        target=target,
        horizon_days=parse_horizon(horizon),
        exclude=tuple(x.strip() for x in (exclude or "").split(",") if x.strip()),
        min_positives=min_positives,
        min_negatives=min_negatives,
        seed=seed,
    )
    with wired_app() as wired, progress_bar("training", disable=as_json) as advance:
        report = train_predictive(
            wired.uow(), trainer, options, now=now(), actor=actor, progress=advance
        )
    model = report.model
    if as_json:
        print_json(
            {
                **_summary(model),
                "label_mode": report.label_mode,
                "rows": report.rows,
                "positives": report.positives,
                "screening": report.screening,
                "metrics": model.metrics,
            }
        )
        return
    for s in report.screening:
        err_console.print(
            f"[yellow]warning:[/] {s.feature}: {s.detail}", highlight=False, soft_wrap=True
        )
    console.print(metrics_table(model.metrics))
    console.print(calibration_table(model.metrics))
    console.print(
        f"registered predictive model version {model.version} ({model.algorithm}, "
        f"{model.target} within {model.horizon_days:g} days; {report.rows} rows, "
        f"{report.positives} positive, labels {report.label_mode.value}); activate it with "
        f"`leadgate model predictive activate {model.version}`",
        highlight=False,
    )


def _summary(model: Any) -> dict[str, Any]:
    return {
        "version": model.version,
        "target": model.target,
        "horizon_days": model.horizon_days,
        "algorithm": model.algorithm,
        "active": model.is_active,
        "created_at": model.created_at,
        "created_by": model.created_by,
        "activated_at": model.activated_at,
        "training_from": model.training_from,
        "training_to": model.training_to,
        "scoring_model_version": model.scoring_model_version,
        "roc_auc": model.metrics.get("models", {}).get(model.algorithm, {}).get("roc_auc"),
    }


def _num(value: Any, pattern: str = "{:.3f}") -> str:
    return "-" if value is None else pattern.format(value)


def metrics_table(metrics: Any) -> Table:
    """Candidates and baselines side by side, measured on the same held-out rows."""
    table = Table(
        "model",
        "ROC AUC",
        "PR AUC",
        "Brier",
        "top-decile conversion",
        "lift",
        title=f"validation: {metrics.get('validation', '?')}",
    )
    models = metrics.get("models", {})
    for key, label in _ROWS:
        m = models.get(key)
        if m is None:
            continue
        chosen = " (chosen)" if key == metrics.get("chosen") else ""
        table.add_row(
            label + chosen,
            _num(m.get("roc_auc")),
            _num(m.get("pr_auc")),
            _num(m.get("brier")),
            _num(m.get("top_decile_rate"), "{:.1%}"),
            _num(m.get("top_decile_lift"), "{:.2f}×"),
        )
    first: dict[str, Any] = next(iter(models.values()), {})
    table.caption = (
        f"{first.get('rows', 0)} held-out rows, base rate {_num(first.get('base_rate'), '{:.1%}')}"
    )
    return table


def calibration_table(metrics: Any) -> Table:
    chosen = metrics.get("chosen", "")
    method = metrics.get("calibration_method", "")
    table = Table(
        "tenth", "rows", "mean predicted", "observed", title=f"calibration of {chosen} ({method})"
    )
    for row in metrics.get("models", {}).get(chosen, {}).get("calibration", []):
        table.add_row(
            str(row["bin"]),
            str(row["rows"]),
            f"{row['mean_predicted']:.1%}",
            f"{row['observed_rate']:.1%}",
        )
    return table


@predictive_app.command("list")
def list_models(as_json: JsonOption = False) -> None:
    """List trained predictive models."""
    from leadgate.services.predictive import predictive_models

    with wired_app() as wired:
        models = predictive_models(wired.uow())
    rows = [_summary(m) for m in models]
    if as_json:
        print_json(rows)
        return
    table = Table("version", "active", "target", "horizon", "algorithm", "ROC AUC", "created")
    for row in rows:
        table.add_row(
            str(row["version"]),
            "yes" if row["active"] else "",
            row["target"],
            f"{row['horizon_days']:g}d",
            row["algorithm"],
            _num(row["roc_auc"]),
            f"{row['created_at']:%Y-%m-%d %H:%M}",
        )
    console.print(table)


@predictive_app.command()
def show(
    version: Annotated[int, typer.Argument(help="Predictive model version.")],
    as_json: JsonOption = False,
) -> None:
    """Show a predictive model: metrics, calibration, top features and training window."""
    from leadgate.services.predictive import predictive_model

    with wired_app() as wired:
        model = predictive_model(wired.uow(), version)
    if as_json:
        print_json({**_summary(model), "metrics": model.metrics, "features": model.features})
        return
    console.print(
        f"[bold]predictive model {model.version}[/]{' (active)' if model.is_active else ''}: "
        f"{model.algorithm}, {model.target} within {model.horizon_days:g} days; trained on "
        f"{model.training_from:%Y-%m-%d} – {model.training_to:%Y-%m-%d} with scoring "
        f"model v{model.scoring_model_version}; labels {model.features.get('label_mode')}",
        highlight=False,
    )
    console.print(metrics_table(model.metrics))
    console.print(calibration_table(model.metrics))
    importance = Table("feature", "mean |contribution| (log-odds)", title="what moves it most")
    for item in model.metrics.get("importance", []):
        importance.add_row(item["feature"], f"{item['mean_abs_contribution']:.3f}")
    console.print(importance)
    for s in model.features.get("screening", []):
        console.print(f"[yellow]warning:[/] {s['feature']}: {s['detail']}", highlight=False)


@predictive_app.command()
def activate(
    version: Annotated[int, typer.Argument(help="Predictive model version.")],
    as_json: JsonOption = False,
) -> None:
    """Make a predictive model active and rescore every lead (probabilities, gates)."""
    from leadgate.services.predictive import activate_predictive

    with wired_app() as wired, progress_bar("rescoring", disable=as_json) as advance:
        result = activate_predictive(wired.uow(), version, now=now(), progress=advance)
    if as_json:
        print_json(result)
    else:
        console.print(
            f"activated predictive model version {version}; rescored {result.rescored} "
            f"leads, {result.transitions} transitions"
        )


@predictive_app.command()
def deactivate(as_json: JsonOption = False) -> None:
    """Leave no predictive model active (scores carry no probability) and rescore."""
    from leadgate.services.predictive import activate_predictive

    with wired_app() as wired, progress_bar("rescoring", disable=as_json) as advance:
        result = activate_predictive(wired.uow(), None, now=now(), progress=advance)
    if as_json:
        print_json(result)
    else:
        console.print(f"no predictive model active; rescored {result.rescored} leads")


def register(app: typer.Typer) -> None:
    """Add ``leadgate train`` to the root command (``model predictive`` hangs under
    ``leadgate model``)."""
    app.command()(train)
