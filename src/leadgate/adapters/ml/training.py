"""Training: validate each candidate on held-out rows, pick one, refit it, calibrate it.

Validation is a time split when the rows allow it (labels final, several moments): the
model learns from rows whose label window closed before a split moment and is tested on
rows as of that moment or later, as it will be used. Otherwise stratified k-fold, with a
lead's rows kept in one fold. Candidates (logistic regression, LightGBM) and the two
baselines (the rule-based total score; the naive Bayes frequency model Odoo CRM ships)
are measured on the same held-out rows. The candidate with the best held-out ROC AUC is
refitted on every row and calibrated on its held-out scores.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from leadgate.adapters.ml.algorithms import ALGORITHMS, THREADS, learner
from leadgate.adapters.ml.artefact import Artefact, dumps
from leadgate.adapters.ml.calibration import Calibrator, cross_fitted
from leadgate.adapters.ml.encoding import Encoder
from leadgate.adapters.ml.metrics import evaluate
from leadgate.domain.features import value_of
from leadgate.domain.naive_bayes import fit_naive_bayes
from leadgate.domain.predictive import FeatureRow
from leadgate.domain.snapshots import LabelMode
from leadgate.domain.training import Progress, TrainedModel, TrainingSet

_DAY = 86_400.0
_MIN_HELD_OUT_CLASS = 10  # each class needs this many rows on each side of a time split
_IMPORTANCE_SAMPLE = 500


@dataclass(frozen=True, slots=True)
class Plan:
    """How rows are held out: (train, test) index pairs, and a part per held-out row for
    cross-fitted calibration."""

    method: str
    folds: list[tuple[np.ndarray, np.ndarray]]
    parts: np.ndarray
    held_out: np.ndarray


def validation_plan(data: TrainingSet, labels: np.ndarray) -> Plan:
    """Given a training set, return a time split when it is possible, else k-fold."""
    n = labels.size
    times = np.asarray([t.timestamp() for t in data.times])
    if data.mode is LabelMode.MATURED and np.unique(times).size > 1:
        split = float(np.quantile(times, 0.75))
        train = np.flatnonzero(times + data.horizon_days * _DAY <= split)
        test = np.flatnonzero(times >= split)
        if _both_classes(labels[train]) and _both_classes(labels[test]):
            parts = np.full(n, -1)
            parts[test] = np.arange(test.size) % 5
            held = np.zeros(n, dtype=bool)
            held[test] = True
            when = datetime.fromtimestamp(split, UTC).date().isoformat()
            return Plan(
                f"time split: learnt from rows whose {data.horizon_days:g}-day window closed "
                f"before {when}, tested on the {test.size} rows as of {when} or later",
                [(train, test)],
                parts,
                held,
            )
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    k = 5 if n < 50_000 else 3
    groups = np.asarray(data.groups)
    if np.unique(groups).size == n:
        splitter: Any = StratifiedKFold(k, shuffle=True, random_state=data.seed)
    else:
        splitter = StratifiedGroupKFold(k, shuffle=True, random_state=data.seed)
    split_groups = None if isinstance(splitter, StratifiedKFold) else groups
    folds = [(tr, te) for tr, te in splitter.split(np.zeros(n), labels, split_groups)]
    parts = np.empty(n, dtype=np.int64)
    for number, (_, test) in enumerate(folds):
        parts[test] = number
    grouped = "" if np.unique(groups).size == n else ", a lead's rows in one fold"
    return Plan(f"stratified {k}-fold cross-validation{grouped}", folds, parts, np.ones(n, bool))


def _both_classes(labels: np.ndarray) -> bool:
    positives = int(labels.sum())
    return positives >= _MIN_HELD_OUT_CLASS and labels.size - positives >= _MIN_HELD_OUT_CLASS


def train(data: TrainingSet, progress: Progress | None = None) -> TrainedModel:
    """Given a training set, return the best calibrated model with its validation report."""
    from threadpoolctl import threadpool_limits

    # BLAS threads as LightGBM's (see algorithms.THREADS).
    with threadpool_limits(THREADS):
        return _train(data, progress)


def _train(data: TrainingSet, progress: Progress | None) -> TrainedModel:
    labels = np.asarray(data.labels, dtype=np.int64)
    plan = validation_plan(data, labels)
    steps = len(ALGORITHMS) * len(plan.folds) + 3
    done = 0

    def step(what: str) -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, steps, what)

    if progress:
        progress(0, steps, "encoding features")
    encoder, matrix = Encoder.fit_transform(data.rows)
    held = plan.held_out
    y_held = labels[held]
    parts = plan.parts[held]

    held_raw: dict[str, np.ndarray] = {}
    report: dict[str, Any] = {}
    for name in ALGORITHMS:
        raw = np.full(labels.size, np.nan)
        for number, (train_rows, test_rows) in enumerate(plan.folds, start=1):
            model = learner(name, rows=train_rows.size, seed=data.seed)
            model.fit(matrix[train_rows], labels[train_rows])
            raw[test_rows] = model.raw(matrix[test_rows])
            step(f"validating {name} ({number}/{len(plan.folds)})")
        held_raw[name] = raw[held]
        report[name] = evaluate(y_held, cross_fitted(raw[held], y_held, parts))

    report.update(_baselines(data.rows, labels, plan))
    step("baselines")

    chosen = max(ALGORITHMS, key=lambda name: report[name]["roc_auc"] or 0.0)
    final = learner(chosen, rows=labels.size, seed=data.seed).fit(matrix, labels)
    calibrator = Calibrator.fit(held_raw[chosen], y_held)
    artefact = Artefact(encoder, final, calibrator)
    step(f"refitting {chosen} on every row")

    importance = _importance(artefact, matrix, data.seed)
    step("explaining")
    metrics = {
        "validation": plan.method,
        "held_out_rows": int(held.sum()),
        "training_rows": int(labels.size),
        "training_positives": int(labels.sum()),
        "label_mode": data.mode.value,
        "chosen": chosen,
        "calibration_method": calibrator.method,
        "models": report,
        "importance": importance,
        "versions": _versions(),
    }
    return TrainedModel(chosen, dumps(artefact), metrics, artefact.features)


def _baselines(rows: list[FeatureRow], labels: np.ndarray, plan: Plan) -> dict[str, Any]:
    """The rule-based total (ranked as is; calibrated, cross-fitted, for the Brier score
    and the calibration table) and the naive Bayes frequency model over the categorical
    attributes (its own probabilities, as Odoo shows them)."""
    held = plan.held_out
    total = np.asarray([_number(value_of(row, "score.total")) for row in rows])
    y_held = labels[held]
    rule = evaluate(
        y_held, cross_fitted(total[held], y_held, plan.parts[held]), ranking=total[held]
    )
    categorical = [{k: v for k, v in row.items() if isinstance(v, str)} for row in rows]
    bayes = np.full(labels.size, np.nan)
    for train_rows, test_rows in plan.folds:
        model = fit_naive_bayes(
            [categorical[i] for i in train_rows], [bool(labels[i]) for i in train_rows]
        )
        bayes[test_rows] = [model.probability(categorical[i]) for i in test_rows]
    return {"rule_total": rule, "naive_bayes": evaluate(y_held, bayes[held])}


def _number(value: object) -> float:
    return float(value) if isinstance(value, float) else 0.0


def _importance(artefact: Artefact, matrix: np.ndarray, seed: int) -> list[dict[str, Any]]:
    """The features that move predictions most: mean absolute contribution (log-odds)
    over a sample of the rows, the top 15."""
    rng = np.random.default_rng(seed)
    rows = matrix
    if matrix.shape[0] > _IMPORTANCE_SAMPLE:
        rows = matrix[rng.choice(matrix.shape[0], _IMPORTANCE_SAMPLE, replace=False)]
    mean = np.abs(artefact.feature_contributions(rows)).mean(axis=0)
    order = np.argsort(-mean)[:15]
    return [
        {"feature": artefact.features[k], "mean_abs_contribution": float(mean[k])}
        for k in order
        if mean[k] > 0
    ]


def _versions() -> dict[str, str]:
    import lightgbm
    import sklearn

    return {"scikit-learn": sklearn.__version__, "lightgbm": lightgbm.__version__}


TRAINER: Callable[[TrainingSet, Progress | None], TrainedModel] = train
