"""Raw scores into probabilities that mean what they say.

A calibrator is fitted on held-out scores (out-of-fold, or the later cohort of a time
split), never on the rows the model learnt from: a model's scores on its own training
rows are over-confident. Isotonic regression when there are enough held-out rows, else
Platt scaling (a logistic curve), which needs fewer.

The probabilities reported for validation are *cross-fitted*: each part of the held-out
rows is calibrated by a calibrator fitted on the other parts, so no row's label helps to
calibrate its own probability.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_ISOTONIC_ROWS = 1000
_LOW, _HIGH = 1e-4, 1 - 1e-4


class Calibrator:
    """A fitted monotone map from raw score to probability."""

    def __init__(self, method: str, model: Any) -> None:
        self.method = method
        self._model = model

    @classmethod
    def fit(cls, raw: np.ndarray, labels: np.ndarray) -> Calibrator:
        if raw.size >= _ISOTONIC_ROWS:
            from sklearn.isotonic import IsotonicRegression

            iso = IsotonicRegression(out_of_bounds="clip", y_min=_LOW, y_max=_HIGH)
            iso.fit(raw, labels.astype(np.float64))
            return cls("isotonic", iso)
        from sklearn.linear_model import LogisticRegression

        platt = LogisticRegression(C=1e6, max_iter=1000)
        platt.fit(raw.reshape(-1, 1), labels)
        return cls("sigmoid", platt)

    def apply(self, raw: np.ndarray) -> np.ndarray:
        if self.method == "isotonic":
            probabilities = np.asarray(self._model.predict(raw))
        else:
            probabilities = np.asarray(self._model.predict_proba(raw.reshape(-1, 1))[:, 1])
        clipped: np.ndarray = np.clip(probabilities, _LOW, _HIGH)
        return clipped


def cross_fitted(raw: np.ndarray, labels: np.ndarray, parts: np.ndarray) -> np.ndarray:
    """Given held-out raw scores, their labels and a part number per row, return each
    row's probability from a calibrator fitted on the other parts."""
    out = np.empty(raw.size)
    for part in np.unique(parts):
        inside = parts == part
        others = ~inside
        if labels[others].min() == labels[others].max():
            out[inside] = labels[others].mean()  # one class only: nothing to calibrate
            continue
        out[inside] = Calibrator.fit(raw[others], labels[others]).apply(raw[inside])
    return np.clip(out, _LOW, _HIGH)
