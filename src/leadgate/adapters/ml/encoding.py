"""Feature rows (name → text, number or None) into a numeric matrix, and back to names.

Learned from the training rows and stored with the model, so a lead is encoded at
scoring time exactly as the training leads were:

* a feature whose filled values are (almost all) numbers is one numeric column (NaN when
  unknown) plus, when enough are unknown, a ``=<missing>`` flag;
* any other is one flag per frequent value (case-insensitive, as rule predicates
  compare), a ``=<other>`` flag for rare values and a ``=<missing>`` flag;
* counts missing from a row are 0 (see ``leadgate.domain.features.absent_value``);
* columns that are constant in training are dropped: they cannot tell leads apart.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from leadgate.domain.features import absent_value
from leadgate.domain.predictive import FeatureRow, FeatureValue

MISSING = "<missing>"
OTHER = "<other>"
_NUMERIC_SHARE = 0.9  # a feature is numeric when this share of its values are numbers
_MAX_LEVELS = 50


@dataclass(frozen=True, slots=True)
class Column:
    """One encoded column: the feature it comes from, and what it holds."""

    feature: str
    kind: Literal["numeric", "level", "missing", "other"]
    level: str | None = None

    @property
    def name(self) -> str:
        if self.kind == "numeric":
            return self.feature
        if self.kind == "level":
            return f"{self.feature}={self.level}"
        return f"{self.feature}={MISSING if self.kind == 'missing' else OTHER}"


@dataclass(slots=True)
class _Feature:
    numeric: bool
    default: float | None
    value_column: int | None = None
    missing_column: int | None = None
    other_column: int | None = None
    levels: dict[str, int] | None = None


def text(value: FeatureValue) -> str:
    """A value as a category label: whole numbers without '.0'."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class Encoder:
    """``Encoder.fit(rows)`` learns the columns; ``transform(rows)`` gives the matrix."""

    def __init__(self, features: dict[str, _Feature], columns: list[Column]) -> None:
        self._features = features
        self.columns = columns

    @classmethod
    def fit(cls, rows: Sequence[FeatureRow], *, min_count: int | None = None) -> Encoder:
        """Given the training rows, return an encoder for them (constant columns dropped)."""
        return cls.fit_transform(rows, min_count=min_count)[0]

    @classmethod
    def fit_transform(
        cls, rows: Sequence[FeatureRow], *, min_count: int | None = None
    ) -> tuple[Encoder, np.ndarray]:
        """Given the training rows, return their encoder and their matrix (what
        ``transform`` gives, without encoding the rows a second time)."""
        minimum = min_count if min_count is not None else max(10, len(rows) // 2000)
        seen: dict[str, list[FeatureValue]] = {}
        for row in rows:
            for name, value in row.items():
                if value is not None:
                    seen.setdefault(name, []).append(value)
        features: dict[str, _Feature] = {}
        columns: list[Column] = []
        for name in sorted(seen):
            values = seen[name]
            default = absent_value(name)
            unknown = len(rows) - len(values) if default is None else 0
            numbers = sum(1 for v in values if isinstance(v, float))
            feature = _Feature(numbers >= _NUMERIC_SHARE * len(values), default)
            if feature.numeric:
                feature.value_column = len(columns)
                columns.append(Column(name, "numeric"))
            else:
                counts = Counter(text(v).casefold() for v in values)
                frequent = [lv for lv, n in counts.most_common(_MAX_LEVELS) if n >= minimum]
                feature.levels = {}
                for level in frequent:
                    feature.levels[level] = len(columns)
                    columns.append(Column(name, "level", level))
                if sum(counts.values()) - sum(counts[lv] for lv in frequent) >= minimum:
                    feature.other_column = len(columns)
                    columns.append(Column(name, "other"))
            if unknown >= minimum:
                feature.missing_column = len(columns)
                columns.append(Column(name, "missing"))
            features[name] = feature
        encoder = cls(features, columns)
        matrix = encoder.transform(rows)
        keep = encoder._varying(matrix)
        return encoder._keeping(keep), matrix[:, keep]

    @staticmethod
    def _varying(matrix: np.ndarray) -> list[int]:
        keep = []
        for index in range(matrix.shape[1]):
            column = matrix[:, index]
            finite = column[~np.isnan(column)]
            varies = finite.size > 0 and (finite.min() != finite.max() or finite.size < column.size)
            if varies:
                keep.append(index)
        return keep

    def _keeping(self, keep: list[int]) -> Encoder:
        renumber = {old: new for new, old in enumerate(keep)}
        features: dict[str, _Feature] = {}
        for name, f in self._features.items():
            kept = _Feature(
                f.numeric,
                f.default,
                renumber.get(f.value_column) if f.value_column is not None else None,
                renumber.get(f.missing_column) if f.missing_column is not None else None,
                renumber.get(f.other_column) if f.other_column is not None else None,
                None
                if f.levels is None
                else {lv: renumber[i] for lv, i in f.levels.items() if i in renumber},
            )
            if (
                kept.value_column is not None
                or kept.missing_column is not None
                or kept.other_column is not None
                or kept.levels
            ):
                features[name] = kept
        return Encoder(features, [self.columns[i] for i in keep])

    @property
    def features(self) -> list[str]:
        """The feature names that feed at least one column."""
        return sorted(self._features)

    def transform(self, rows: Sequence[FeatureRow]) -> np.ndarray:
        """Given rows, return their matrix (float32; NaN where a number is unknown)."""
        matrix = np.zeros((len(rows), len(self.columns)), dtype=np.float32)
        for f in self._features.values():
            if f.value_column is not None:
                matrix[:, f.value_column] = np.nan if f.default is None else f.default
            if f.missing_column is not None:
                matrix[:, f.missing_column] = 1.0
        features = self._features
        for i, row in enumerate(rows):
            line = matrix[i]
            for name, value in row.items():
                feature = features.get(name)
                if feature is None or value is None:
                    continue
                if feature.missing_column is not None:
                    line[feature.missing_column] = 0.0
                if feature.numeric:
                    if feature.value_column is not None:
                        line[feature.value_column] = value if isinstance(value, float) else np.nan
                    continue
                assert feature.levels is not None
                column = feature.levels.get(text(value).casefold())
                if column is None:
                    column = feature.other_column
                if column is not None:
                    line[column] = 1.0
        return matrix
