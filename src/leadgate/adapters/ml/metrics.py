"""How good a set of predictions is: ranking, precision, calibration and the top decile."""

from __future__ import annotations

from typing import Any

import numpy as np


def evaluate(
    labels: np.ndarray, probabilities: np.ndarray, ranking: np.ndarray | None = None
) -> dict[str, Any]:
    """Given labels and predicted probabilities (and, for a score that is not a
    probability, the ``ranking`` it induces), return the report's metrics.

    ``top_decile_rate`` is the conversion rate of the 10 % of leads ranked highest and
    ``lift`` that rate over the base rate; ``calibration`` gives, per tenth of the leads by
    predicted probability, the mean prediction and the observed rate.
    """
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    order_by = probabilities if ranking is None else ranking
    y = labels.astype(np.int64)
    base = float(y.mean()) if y.size else 0.0
    both = 0 < y.sum() < y.size
    # Ties broken by row order would flatter or punish a coarse score at random: rows
    # with equal scores are taken at their average conversion rate.
    top = _top_decile_rate(y, order_by)
    return {
        "rows": int(y.size),
        "positives": int(y.sum()),
        "base_rate": base,
        "roc_auc": float(roc_auc_score(y, order_by)) if both else None,
        "pr_auc": float(average_precision_score(y, order_by)) if both else None,
        "brier": float(brier_score_loss(y, probabilities)),
        "top_decile_rate": top,
        "top_decile_lift": top / base if base else None,
        "calibration": calibration_table(y, probabilities),
    }


def _top_decile_rate(y: np.ndarray, scores: np.ndarray) -> float:
    n = y.size
    if n == 0:
        return 0.0
    take = max(1, int(np.ceil(n * 0.1)))
    order = np.argsort(-scores, kind="stable")
    threshold = scores[order[take - 1]]
    above = scores > threshold
    tied = scores == threshold
    rest = take - int(above.sum())
    tied_rate = float(y[tied].mean()) if tied.any() else 0.0
    return float((y[above].sum() + rest * tied_rate) / take)


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict[str, Any]]:
    """Rows sorted by prediction, cut into ``bins`` groups of equal size."""
    order = np.argsort(p, kind="stable")
    table = []
    for number, chunk in enumerate(np.array_split(order, bins), start=1):
        if chunk.size == 0:
            continue
        table.append(
            {
                "bin": number,
                "rows": int(chunk.size),
                "mean_predicted": float(p[chunk].mean()),
                "observed_rate": float(y[chunk].mean()),
            }
        )
    return table
