"""Training on a small synthetic set: validation method, metrics beside the baselines,
calibration, per-lead factors, and the artefact's round trip."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from leadgate.adapters.ml.artefact import dumps, loads
from leadgate.adapters.ml.encoding import Encoder
from leadgate.adapters.ml.training import train, validation_plan
from leadgate.domain.predictive import FeatureRow
from leadgate.domain.snapshots import LabelMode
from leadgate.domain.training import TrainedModel, TrainingSet

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def synthetic(n: int, *, seed: int = 7, spread_days: int = 0) -> TrainingSet:
    """Leads whose odds rise with a 'pro' plan and with demo requests; noise otherwise."""
    rng = random.Random(seed)
    rows: list[FeatureRow] = []
    labels = []
    for _ in range(n):
        plan = rng.choice(["pro", "free", "team"])
        demos = float(rng.choice([0, 0, 0, 1, 2]))
        row: FeatureRow = {
            "trait.plan": plan,
            "trait.noise": rng.random(),
            "score.total": demos * 30 + (10 if plan == "pro" else 0),
        }
        if demos:
            row["touch.demo_request.30d"] = demos
        logit = -1.5 + (1.8 if plan == "pro" else 0) + 1.2 * demos
        rows.append(row)
        labels.append(rng.random() < 1 / (1 + math.exp(-logit)))
    times = [T0 + timedelta(days=rng.uniform(0, spread_days)) for _ in range(n)]
    mode = LabelMode.MATURED if spread_days else LabelMode.CENSORED
    return TrainingSet(rows, labels, times, list(range(n)), 30.0, mode, seed=0)


@pytest.fixture(scope="module")
def trained_kfold() -> TrainedModel:
    return train(synthetic(500))


def test_both_candidates_and_both_baselines_are_measured_on_the_same_rows(
    trained_kfold: TrainedModel,
) -> None:
    metrics = trained_kfold.metrics
    assert metrics["validation"] == "stratified 5-fold cross-validation"
    models = metrics["models"]
    assert set(models) == {"logistic", "lightgbm", "rule_total", "naive_bayes"}
    assert {m["rows"] for m in models.values()} == {500}
    for name in ("logistic", "lightgbm"):
        assert models[name]["roc_auc"] > 0.7
        assert 0 <= models[name]["brier"] < 0.25
        assert models[name]["top_decile_lift"] > 1.5
        assert len(models[name]["calibration"]) == 10
    assert metrics["chosen"] in ("logistic", "lightgbm")
    assert models[metrics["chosen"]]["roc_auc"] == max(
        models["logistic"]["roc_auc"], models["lightgbm"]["roc_auc"]
    )
    assert models["naive_bayes"]["roc_auc"] > 0.6  # the plan alone carries signal


def test_the_artefact_round_trips_and_explains_each_lead(
    trained_kfold: TrainedModel,
) -> None:
    artefact = loads(trained_kfold.artefact)
    hot: FeatureRow = {"trait.plan": "pro", "touch.demo_request.30d": 2.0, "score.total": 70.0}
    cold: FeatureRow = {"trait.plan": "free", "score.total": 0.0}
    hot_p, cold_p = artefact.predict([hot, cold], explain=True)
    assert hot_p.probability > 0.7
    assert cold_p.probability < 0.3
    top = {f.feature: f for f in hot_p.factors}
    assert top["trait.plan"].value == "pro" and top["trait.plan"].contribution > 0
    assert cold_p.factors[0].contribution < 0
    # Same bytes, same answers.
    again = loads(dumps(artefact)).predict([hot, cold])
    assert [p.probability for p in again] == [hot_p.probability, cold_p.probability]


def test_time_split_when_rows_have_matured_labels_over_time() -> None:
    data = synthetic(400, spread_days=200)
    plan = validation_plan(data, np.asarray(data.labels, dtype=np.int64))
    assert plan.method.startswith("time split")
    (train_rows, test_rows) = plan.folds[0]
    latest_train = max(data.times[i] for i in train_rows)
    earliest_test = min(data.times[i] for i in test_rows)
    # Every training label was final before the first tested moment.
    assert latest_train + timedelta(days=data.horizon_days) <= earliest_test


def test_a_lead_with_several_rows_stays_in_one_fold() -> None:
    data = synthetic(300)
    grouped = TrainingSet(
        data.rows, data.labels, data.times, [i // 3 for i in range(300)], 30.0, LabelMode.CENSORED
    )
    plan = validation_plan(grouped, np.asarray(grouped.labels, dtype=np.int64))
    for train_rows, test_rows in plan.folds:
        assert not {i // 3 for i in train_rows} & {i // 3 for i in test_rows}


def test_encoder_levels_missing_flags_and_constant_columns() -> None:
    rows: list[FeatureRow] = [
        {
            "trait.plan": "Pro" if i % 2 else "free",
            "trait.size": float(i) if i % 3 else None,
            "lead.stage": "lead",
        }
        for i in range(60)
    ] + [{"trait.plan": "rare", "lead.stage": "lead"}]
    encoder = Encoder.fit(rows, min_count=5)
    names = [c.name for c in encoder.columns]
    assert "trait.plan=pro" in names and "trait.plan=free" in names
    assert "trait.plan=<other>" not in names  # one rare value is below the minimum
    assert "trait.size" in names and "trait.size=<missing>" in names
    assert not any(n.startswith("lead.stage") for n in names)  # constant: dropped
    matrix = encoder.transform([{"trait.plan": "PRO"}, {"trait.size": 4.0}])
    assert matrix[0, names.index("trait.plan=pro")] == 1.0
    assert np.isnan(matrix[0, names.index("trait.size")])
    assert matrix[1, names.index("trait.size")] == 4.0
    assert matrix[1, names.index("trait.size=<missing>")] == 0.0
    # Training encodes its rows once: the same matrix transform gives.
    fitted, encoded = Encoder.fit_transform(rows, min_count=5)
    assert [c.name for c in fitted.columns] == names
    np.testing.assert_array_equal(encoded, encoder.transform(rows))
