"""Predictive scoring end to end on SQLite and PostgreSQL: train from recorded history,
register, activate; the probability and top factors reach explanations and stored scores,
a gate on ``probability`` moves leads; too little data is refused; nothing after the
as-of moment reaches a feature, in training or in scoring."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine, select

from leadgate.adapters.db import tables as t
from leadgate.adapters.ml.training import train
from leadgate.domain.lifecycle import ActorType, Stage
from leadgate.domain.predictive import Target
from leadgate.domain.training import Progress, TrainedModel, TrainingSet
from leadgate.services.commands import ChangeStage, LeadIn
from leadgate.services.ingest import ingest_touchpoints
from leadgate.services.lifecycle import change_stage
from leadgate.services.models import activate_model
from leadgate.services.predictive import (
    NotEnoughData,
    PredictiveModelNotFound,
    TrainOptions,
    activate_predictive,
    predictive_model,
    predictive_models,
    train_predictive,
)
from leadgate.services.profiles import upsert_leads
from leadgate.services.queries import explain_lead
from tests.conftest import T0
from tests.integration.helpers import SIMPLE_MODEL, UowFactory, activate_simple, days, touch

NOW = T0 + days(30)
OPTIONS = TrainOptions(target=Target.SQL, horizon_days=7, min_positives=10, min_negatives=10)
PROBABILITY_GATE = SIMPLE_MODEL.replace("name: simple", "name: simple-probability").replace(
    """  mql:
    all:
      - {field: total, gte: 40}
      - {field: grade, in: [A, B, C]}""",
    """  mql:
    all:
      - {field: probability, gte: 0.5}""",
)


def world(uow_factory: UowFactory, n: int = 80) -> dict[str, int]:
    """``n`` leads at four companies, created at T0; 'pro' leads mostly reach SQL three
    days later, 'free' ones rarely. Every lead viewed a page two days before it was
    created (an imported history), so its first snapshot sees that page view."""
    activate_simple(uow_factory, T0)
    emails = [f"p{i}@co{i % 4}.io" for i in range(n)]
    plans = ["pro" if i % 2 else "free" for i in range(n)]
    ids = upsert_leads(
        uow_factory(),
        [LeadIn(email=e, traits={"plan": p}) for e, p in zip(emails, plans, strict=True)],
        now=T0,
    ).ids
    ingest_touchpoints(
        uow_factory(),
        [
            touch(f"v{i}", "page_view", T0 - days(2), email=e, category="blog")
            for i, e in enumerate(emails)
        ],
        now=T0,
    )
    for i, lead_id in enumerate(ids):
        if (plans[i] == "pro" and i % 7) or (plans[i] == "free" and i % 9 == 0):
            change_stage(
                uow_factory(),
                ChangeStage(lead_id, Stage.SQL, "accepted", "rep", ActorType.USER, at=T0 + days(3)),
                now=T0 + days(3),
            )
    return dict(zip(emails, ids, strict=True))


def recording(
    captured: list[TrainingSet],
) -> Callable[[TrainingSet, Progress | None], TrainedModel]:
    def trainer(data: TrainingSet, progress: Progress | None) -> TrainedModel:
        captured.append(data)
        return train(data, progress)

    return trainer


def test_train_register_activate_explain_and_gate(uow_factory: UowFactory, engine: Engine) -> None:
    leads = world(uow_factory)
    captured: list[TrainingSet] = []
    report = train_predictive(uow_factory(), recording(captured), OPTIONS, now=NOW, actor="test")
    data = captured[0]
    assert report.label_mode.value == "matured"
    assert len(data.rows) == 80 and report.positives == sum(data.labels)
    # The first snapshot is two days before creation, when the page view happened.
    assert all(row["touch.page_view.7d"] == 1.0 for row in data.rows)
    assert all(row["lead.stage"] == "lead" for row in data.rows)

    # Registry round trip.
    model = predictive_model(uow_factory(), report.model.version)
    assert (model.version, model.target, model.horizon_days) == (1, "sql", 7.0)
    assert model.algorithm in ("logistic", "lightgbm") and not model.is_active
    assert model.metrics["models"][model.algorithm]["roc_auc"] > 0.7
    assert {"rule_total", "naive_bayes"} <= set(model.metrics["models"])
    assert "trait.plan" in model.features["names"]
    assert model.training_from == T0 - days(2) and model.scoring_model_version == 1
    assert [m.version for m in predictive_models(uow_factory())] == [1]

    pro, free = leads["p1@co1.io"], leads["p2@co2.io"]
    assert explain_lead(uow_factory(), pro).prediction is None
    with pytest.raises(PredictiveModelNotFound):
        activate_predictive(uow_factory(), 9, now=NOW)

    activation = activate_predictive(uow_factory(), 1, now=NOW)
    assert activation.rescored == 80
    assert predictive_model(uow_factory(), 1).is_active
    with engine.connect() as connection:
        stored = dict(
            connection.execute(
                select(t.predictive_scores.c.lead_id, t.predictive_scores.c.probability)
            ).all()
        )
    assert len(stored) == 80

    explained = explain_lead(uow_factory(), pro)
    assert explained.prediction is not None and explained.predictive_version == 1
    assert explained.qualification.score.probability == pytest.approx(stored[pro])
    assert explained.prediction.factors[0].feature == "trait.plan"
    assert explained.prediction.factors[0].value == "pro"
    assert stored[pro] > 0.5 > stored[free]

    # A scoring model whose MQL gate reads the probability: activating it rescores every
    # lead with the predictive model's probability, and the gate moves the likely ones.
    activate_model(uow_factory(), PROBABILITY_GATE, now=NOW + days(1), actor="test")
    with engine.connect() as connection:
        moved = set(
            connection.execute(
                select(t.transitions.c.lead_id).where(
                    t.transitions.c.to_stage == "mql", t.transitions.c.actor == "gate:mql"
                )
            ).scalars()
        )
        stages = dict(connection.execute(select(t.leads.c.id, t.leads.c.stage)).all())
    assert pro not in moved  # already an SQL: gates only move leads forward from 'lead'
    assert free not in moved
    still_leads = {i for i, s in stages.items() if s == "lead"}
    expected = {i for i in leads.values() if stored[i] >= 0.5} - (
        set(leads.values()) - still_leads - moved
    )
    assert moved == expected and moved

    # Deactivating takes the probability away again.
    activate_predictive(uow_factory(), None, now=NOW + days(2))
    assert explain_lead(uow_factory(), free).qualification.score.probability is None


def test_nothing_after_the_as_of_moment_reaches_a_feature(uow_factory: UowFactory) -> None:
    """Touchpoints dated after every snapshot, to the leads and to colleagues at their
    accounts, change neither the training rows nor a probability explained as of then."""
    leads = world(uow_factory)
    captured: list[TrainingSet] = []
    train_predictive(uow_factory(), recording(captured), OPTIONS, now=NOW, actor="test")
    activate_predictive(uow_factory(), 1, now=NOW)
    lead_id = leads["p3@co3.io"]
    before = explain_lead(uow_factory(), lead_id, at=T0 + days(1)).prediction

    later = [
        touch(f"late{i}", name, T0 + days(5), email=email, category="pricing")
        for i, (email, name) in enumerate(
            [(e, n) for e in list(leads)[:12] for n in ("page_view", "intent_surge")]
        )
    ]
    ingest_touchpoints(uow_factory(), later, now=T0 + days(6))
    train_predictive(uow_factory(), recording(captured), OPTIONS, now=NOW, actor="test")
    after = explain_lead(uow_factory(), lead_id, at=T0 + days(1)).prediction

    assert captured[1].rows == captured[0].rows
    assert captured[1].labels == captured[0].labels
    assert after == before


def test_too_little_data_is_refused_with_the_numbers(uow_factory: UowFactory) -> None:
    world(uow_factory, n=12)
    with pytest.raises(NotEnoughData) as refused:
        train_predictive(
            uow_factory(),
            train,
            TrainOptions(target=Target.SQL, horizon_days=7, min_positives=30),
            now=NOW,
            actor="test",
        )
    message = str(refused.value)
    assert "6 positives (reached sql within 7 days) and 6 negatives" in message
    assert "at least 30 positives and 50 negatives are needed" in message
    with uow_factory() as uow:
        assert uow.predictive.all() == []
