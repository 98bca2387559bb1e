"""What a trainer is given and what it gives back (plain data, no learning here)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from leadgate.domain.predictive import FeatureRow
from leadgate.domain.snapshots import LabelMode

Progress = Callable[[int, int, str], None]
"""Called with (steps done, steps in all, what is being done)."""


@dataclass(frozen=True, slots=True)
class TrainingSet:
    """Rows of features with their labels, the moment each row is as of, and the lead it
    belongs to (a lead can give several rows, which must stay in one fold)."""

    rows: list[FeatureRow]
    labels: list[bool]
    times: list[datetime]
    groups: list[int]
    horizon_days: float
    mode: LabelMode
    seed: int = 0


@dataclass(frozen=True, slots=True)
class TrainedModel:
    """The chosen model's bytes, its algorithm, the validation report and its features."""

    algorithm: str
    artefact: bytes
    metrics: dict[str, Any]
    features: list[str] = field(default_factory=list)


Trainer = Callable[[TrainingSet, Progress | None], TrainedModel]
"""Trains candidates on a training set, validates, picks one and returns it."""
