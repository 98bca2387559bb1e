"""Ports of predictive scoring: the model registry, stored probabilities, training reads.

Kept beside ``ports`` for their size; the unit of work protocol there names this
repository as ``uow.predictive``, which the SQL unit of work and the test fake provide.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from leadgate.domain.features import AccountActivity
from leadgate.domain.predictive import Milestone, Predictor

if TYPE_CHECKING:
    pass


@dataclass(frozen=True, slots=True)
class PredictiveModel:
    """A trained predictive model as registered (without its artefact's bytes).

    ``features`` holds how features were built (windows, exclusions, account features)
    and the names the model reads; ``metrics`` the validation report.
    """

    version: int
    created_at: datetime
    created_by: str
    target: str
    horizon_days: float
    algorithm: str
    metrics: Mapping[str, Any]
    features: Mapping[str, Any]
    training_from: datetime | None
    training_to: datetime | None
    scoring_model_version: int | None
    artefact_sha256: str
    is_active: bool
    activated_at: datetime | None


@dataclass(frozen=True, slots=True)
class NewPredictiveModel:
    """What training registers."""

    created_at: datetime
    created_by: str
    target: str
    horizon_days: float
    algorithm: str
    metrics: Mapping[str, Any]
    features: Mapping[str, Any]
    training_from: datetime | None
    training_to: datetime | None
    scoring_model_version: int | None
    artefact: bytes


@dataclass(frozen=True, slots=True)
class ActivePredictor:
    """The active predictive model and its loaded artefact."""

    model: PredictiveModel
    predictor: Predictor


@dataclass(frozen=True, slots=True)
class StoredProbability:
    """A lead's probability under a predictive model version, as of ``scored_at``."""

    lead_id: int
    model_version: int
    probability: float
    scored_at: datetime


class PredictiveRepository(Protocol):
    def add(self, model: NewPredictiveModel) -> PredictiveModel:
        """Register a trained model as the next version (not active)."""
        ...

    def get(self, version: int) -> PredictiveModel | None: ...

    def all(self) -> list[PredictiveModel]: ...

    def activate(self, version: int, now: datetime) -> PredictiveModel:
        """Make this version the only active one (KeyError when there is no such version)."""
        ...

    def deactivate(self) -> None:
        """Leave no predictive model active and forget the stored probabilities."""
        ...

    def active(self) -> ActivePredictor | None:
        """The active model with its artefact loaded (once per process), or None."""
        ...

    def load(self, version: int) -> ActivePredictor | None:
        """Any version with its artefact loaded, or None when there is no such version."""
        ...

    def upsert_scores(self, rows: Sequence[StoredProbability]) -> None: ...

    def scores(self, lead_ids: Collection[int]) -> dict[int, StoredProbability]: ...

    def created_at(self, lead_ids: Collection[int]) -> dict[int, datetime]:
        """When each lead was created in leadgate."""
        ...

    def milestones(self, lead_ids: Collection[int]) -> dict[int, list[Milestone]]:
        """Each lead's transitions and outcomes, oldest first."""
        ...

    def account_activity(
        self,
        account_ids: Collection[int] | None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> dict[int, AccountActivity]:
        """The touchpoints of everyone at these accounts (None: every account) with time
        in [since, until], grouped by account."""
        ...
