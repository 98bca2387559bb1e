"""Scoring leads with the active predictive model, inside the caller's transaction.

Features are built as in training (``leadgate.domain.features``), as of the moment the
lead is scored, with the scoring model the predictive model was trained with (its rule
features name that model's rules).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from leadgate.domain.features import (
    DEFAULT_WINDOWS,
    Excluder,
    FeatureOptions,
    Timeline,
    features_at,
    first_seen,
    profile_features,
)
from leadgate.domain.leads import Lead
from leadgate.domain.predictive import Prediction
from leadgate.domain.scoring_model import ScoringModel
from leadgate.domain.touchpoints import Touchpoint
from leadgate.services.ports import ModelVersion, UnitOfWork
from leadgate.services.predictive_ports import ActivePredictor


def feature_options(spec: Mapping[str, Any]) -> FeatureOptions:
    """Given a registered model's ``features`` document, return how its features are built."""
    return FeatureOptions(
        windows=tuple(int(w) for w in spec.get("windows", DEFAULT_WINDOWS)),
        exclude=frozenset(str(x) for x in spec.get("exclude", ())),
        account=bool(spec.get("account", True)),
    )


def feature_model(
    uow: UnitOfWork, predictive: ActivePredictor, active: ModelVersion
) -> ScoringModel:
    """The scoring model whose rules the predictive model's features were built with (the
    active one when that version is gone)."""
    version = predictive.model.scoring_model_version
    if version is None or version == active.version:
        return active.model
    stored = uow.models.get(version)
    return stored.model if stored is not None else active.model


def predict_leads(
    uow: UnitOfWork,
    predictive: ActivePredictor,
    leads: Mapping[int, Lead],
    histories: Mapping[int, Sequence[Touchpoint]],
    active: ModelVersion,
    at: datetime,
    *,
    stages: Mapping[int, str] | None = None,
    explain: bool = False,
) -> dict[int, Prediction]:
    """Given leads (with their accounts) and their touchpoints, return each lead's
    prediction as of ``at``; ``stages`` is each lead's stage just before ``at`` (default:
    its current stage, right when scoring as it happens)."""
    if not leads:
        return {}
    repo = uow.predictive
    options = feature_options(predictive.model.features)
    model = feature_model(uow, predictive, active)
    created = repo.created_at(list(leads))
    accounts = _account_ids(leads.values()) if options.account else set()
    activity = (
        repo.account_activity(accounts, at - timedelta(days=max(options.windows)), at)
        if accounts
        else {}
    )
    excluder = Excluder(options.exclude)
    ids = sorted(leads)
    rows = []
    for lead_id in ids:
        lead = leads[lead_id]
        timeline = Timeline(lead, histories.get(lead_id, ()), model)
        stage = stages[lead_id] if stages is not None else lead.stage.value
        rows.append(
            features_at(
                timeline,
                profile_features(lead),
                at,
                stage=stage,
                seen_at=first_seen(created.get(lead_id, at), timeline),
                account=activity.get(lead.account_id) if lead.account_id is not None else None,
                options=options,
                excluder=excluder,
            )
        )
    predictions = predictive.predictor.predict(rows, explain=explain)
    return dict(zip(ids, predictions, strict=True))


def _account_ids(leads: Collection[Lead]) -> set[int]:
    return {lead.account_id for lead in leads if lead.account_id is not None}
