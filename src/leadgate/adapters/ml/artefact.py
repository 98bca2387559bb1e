"""The stored model: encoder, learner and calibrator in one object, and its bytes.

Trust boundary: an artefact is a pickle (through joblib). Unpickling runs code, so
leadgate only loads artefacts from its own ``predictive_models`` table, written by
``leadgate train``. Whoever can write to that table can run code in every leadgate
process that scores leads; give it the same protection as the database credentials, and
never import an artefact from elsewhere into it. The SHA-256 stored beside each artefact
detects corruption, not tampering (it sits in the same table).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from typing import Any

import numpy as np

from leadgate.adapters.ml.algorithms import Learner
from leadgate.adapters.ml.calibration import Calibrator
from leadgate.adapters.ml.encoding import Encoder
from leadgate.domain.features import value_of
from leadgate.domain.predictive import Factor, FeatureRow, Prediction


class Artefact:
    """A trained predictive model; implements ``leadgate.domain.predictive.Predictor``."""

    def __init__(self, encoder: Encoder, learner: Learner, calibrator: Calibrator) -> None:
        self.encoder = encoder
        self.learner = learner
        self.calibrator = calibrator
        features = sorted({c.feature for c in encoder.columns})
        self._features = features
        index = {name: i for i, name in enumerate(features)}
        self._group = np.asarray([index[c.feature] for c in encoder.columns], dtype=np.int64)

    @property
    def algorithm(self) -> str:
        return self.learner.name

    def probabilities(self, rows: Sequence[FeatureRow]) -> np.ndarray:
        if not rows:
            return np.zeros(0)
        return self.calibrator.apply(self.learner.raw(self.encoder.transform(rows)))

    def predict(
        self, rows: Sequence[FeatureRow], *, explain: bool = False, top: int = 5
    ) -> list[Prediction]:
        if not rows:
            return []
        matrix = self.encoder.transform(rows)
        probabilities = self.calibrator.apply(self.learner.raw(matrix))
        if not explain:
            return [Prediction(float(p)) for p in probabilities]
        per_feature = self.feature_contributions(matrix)
        out = []
        for row, p, shares in zip(rows, probabilities, per_feature, strict=True):
            order = np.argsort(-np.abs(shares))[:top]
            factors = tuple(
                Factor(
                    self._features[k], _shown(value_of(row, self._features[k])), float(shares[k])
                )
                for k in order
                if shares[k] != 0
            )
            out.append(Prediction(float(p), factors))
        return out

    def feature_contributions(self, matrix: np.ndarray) -> np.ndarray:
        """Per row and feature (all the encoded columns of a feature summed), the
        contribution in log-odds against the average lead."""
        per_column = self.learner.contributions(matrix)
        out = np.zeros((matrix.shape[0], len(self._features)))
        np.add.at(out.T, self._group, per_column.T)
        return out

    @property
    def features(self) -> list[str]:
        return list(self._features)


def _shown(value: Any) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def dumps(artefact: Artefact) -> bytes:
    """Given an artefact, return its bytes (a compressed joblib pickle)."""
    import joblib

    buffer = io.BytesIO()
    joblib.dump(artefact, buffer, compress=3)
    return buffer.getvalue()


def loads(blob: bytes) -> Artefact:
    """Given bytes from ``dumps`` (from leadgate's own table only: see the module note),
    return the artefact."""
    import joblib

    artefact = joblib.load(io.BytesIO(blob))
    if not isinstance(artefact, Artefact):
        raise TypeError(f"not a leadgate predictive artefact: {type(artefact).__name__}")
    return artefact


def digest(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()
