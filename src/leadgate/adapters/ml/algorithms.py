"""The two learners: regularised logistic regression and LightGBM gradient-boosted trees.

Both answer raw scores in log-odds (calibration turns them into probabilities later) and
per-lead contributions per encoded column, in log-odds against the average lead:
coefficient × standardised value for the logistic regression, LightGBM's own
``pred_contrib`` (SHAP values) for the trees.
"""

from __future__ import annotations

import os
from typing import Any, Protocol

import numpy as np

# One thread unless told otherwise: on a machine shared with ingestion (the usual case),
# LightGBM's OpenMP threads and BLAS threads spin against other processes, and were 3-7x
# slower than one thread on the 2-core development machine. LEADGATE_TRAIN_THREADS=N
# gives a dedicated machine its cores.
THREADS = max(1, int(os.environ.get("LEADGATE_TRAIN_THREADS", "1")))


class Learner(Protocol):
    name: str

    def fit(self, matrix: np.ndarray, labels: np.ndarray) -> Learner: ...

    def raw(self, matrix: np.ndarray) -> np.ndarray: ...

    def contributions(self, matrix: np.ndarray) -> np.ndarray: ...


class Logistic:
    """L2-regularised logistic regression over a design that lets it bend.

    Numbers are imputed with the training median, compressed with a signed log (counts and
    durations are long-tailed) and accompanied by quintile step flags, so a straight line
    in log-odds can follow "the first minutes on the site matter most". Everything is
    standardised, which makes the coefficients comparable and the contributions relative
    to the average lead.
    """

    name = "logistic"

    def __init__(self, *, c: float = 0.1, seed: int = 0) -> None:
        self.c = c
        self.seed = seed
        self._numeric: list[int] = []
        self._median: np.ndarray = np.zeros(0)
        self._edges: list[np.ndarray] = []
        self._owner: np.ndarray = np.zeros(0, dtype=np.int64)
        self._mean: np.ndarray = np.zeros(0)
        self._scale: np.ndarray = np.zeros(0)
        self._model: Any = None

    def fit(self, matrix: np.ndarray, labels: np.ndarray) -> Logistic:
        from sklearn.linear_model import LogisticRegression

        self._numeric = [j for j in range(matrix.shape[1]) if not _is_flag(matrix[:, j])]
        numeric = matrix[:, self._numeric].astype(np.float64)
        with np.errstate(all="ignore"):
            median = np.nanmedian(numeric, axis=0) if numeric.size else np.zeros(0)
        self._median = np.nan_to_num(median)
        filled = self._impute(matrix)
        self._edges = []
        for k in range(len(self._numeric)):
            values = filled[:, k]
            if np.unique(values[: min(values.size, 5000)]).size >= 10:
                self._edges.append(np.unique(np.quantile(values, [0.2, 0.4, 0.6, 0.8])))
            else:
                self._edges.append(np.zeros(0))
        design, owner = self._design(matrix)
        self._owner = owner
        self._mean = design.mean(axis=0)
        scale = design.std(axis=0)
        self._scale = np.where(scale > 0, scale, 1.0)
        self._model = LogisticRegression(C=self.c, max_iter=1000, random_state=self.seed)
        self._model.fit((design - self._mean) / self._scale, labels)
        return self

    def _impute(self, matrix: np.ndarray) -> np.ndarray:
        numeric = matrix[:, self._numeric].astype(np.float64)
        return np.where(np.isnan(numeric), self._median, numeric)

    def _design(self, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The expanded design and, per design column, the encoded column it comes from."""
        parts = [np.nan_to_num(matrix.astype(np.float64))]
        owner = list(range(matrix.shape[1]))
        filled = self._impute(matrix)
        if self._numeric:
            parts[0][:, self._numeric] = np.sign(filled) * np.log1p(np.abs(filled))
        for k, column in enumerate(self._numeric):
            for edge in self._edges[k]:
                parts.append((filled[:, k] > edge).astype(np.float64)[:, None])
                owner.append(column)
        return np.hstack(parts), np.asarray(owner, dtype=np.int64)

    def _standardised(self, matrix: np.ndarray) -> np.ndarray:
        design, _ = self._design(matrix)
        standardised: np.ndarray = (design - self._mean) / self._scale
        return standardised

    def raw(self, matrix: np.ndarray) -> np.ndarray:
        return np.asarray(self._model.decision_function(self._standardised(matrix)))

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        per_design = self._standardised(matrix) * self._model.coef_[0]
        out = np.zeros((matrix.shape[0], matrix.shape[1]))
        np.add.at(out.T, self._owner, per_design.T)
        return out


class Boosted:
    """LightGBM gradient-boosted trees; unknown numbers stay NaN (LightGBM routes them)."""

    name = "lightgbm"

    def __init__(self, *, rows: int, seed: int = 0) -> None:
        self.seed = seed
        # Small data wants small, slow trees (X Education: 9 k leads); large data can
        # afford deeper trees and fewer rounds, which keeps 100 k leads within budget.
        small = rows < 20_000
        self.params: dict[str, Any] = {
            "n_estimators": 400 if small else 250,
            "learning_rate": 0.03 if small else 0.06,
            "num_leaves": 7 if small else 31,
            "min_child_samples": 20 if small else 50,
            "subsample": 0.8,
            "subsample_freq": 1,
            "colsample_bytree": 0.7,
            "reg_lambda": 1.0,
            "max_bin": 255 if small else 63,
        }
        self._model: Any = None

    def fit(self, matrix: np.ndarray, labels: np.ndarray) -> Boosted:
        import lightgbm

        self._model = lightgbm.LGBMClassifier(
            **self.params, random_state=self.seed, n_jobs=THREADS, verbose=-1
        )
        self._model.fit(matrix, labels)
        return self

    def raw(self, matrix: np.ndarray) -> np.ndarray:
        return np.asarray(self._model.predict(matrix, raw_score=True))

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        contrib = np.asarray(self._model.predict(matrix, pred_contrib=True))
        return contrib[:, :-1]  # the last column is the expected value, not a feature


def _is_flag(column: np.ndarray) -> bool:
    values = column[~np.isnan(column)]
    return bool(values.size == 0 or np.all((values == 0) | (values == 1)))


def learner(name: str, *, rows: int, seed: int) -> Learner:
    """Given an algorithm name, return a fresh learner."""
    if name == Logistic.name:
        return Logistic(seed=seed)
    if name == Boosted.name:
        return Boosted(rows=rows, seed=seed)
    raise ValueError(f"unknown algorithm {name!r}")


ALGORITHMS = (Logistic.name, Boosted.name)
