"""SQL side of predictive scoring: the model registry, stored probabilities, and the
reads training needs (lead creation times, milestones, account activity)."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, case, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from leadgate.adapters.db import tables as t
from leadgate.domain.features import AccountActivity
from leadgate.domain.predictive import Milestone, Predictor
from leadgate.services.predictive_ports import (
    ActivePredictor,
    NewPredictiveModel,
    PredictiveModel,
    StoredProbability,
)

_CHUNK = 1000
_PM = t.predictive_models
_PS = t.predictive_scores
_INFO = [c for c in _PM.c if c.name != "artefact"]

# Loaded artefacts by SHA-256, a few per process: unpickling is slow, and a stored
# artefact never changes.
_LOADED: OrderedDict[str, Predictor] = OrderedDict()
_LOADED_LOCK = threading.Lock()
_KEEP = 4
# Registry rows by (version, SHA-256), so that scoring a batch costs one small query.
_INFO_CACHE: dict[tuple[int, str], PredictiveModel] = {}


def digest(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _model(row: Row[Any]) -> PredictiveModel:
    return PredictiveModel(
        version=row.version,
        created_at=row.created_at,
        created_by=row.created_by,
        target=row.target,
        horizon_days=row.horizon_days,
        algorithm=row.algorithm,
        metrics=row.metrics,
        features=row.features,
        training_from=row.training_from,
        training_to=row.training_to,
        scoring_model_version=row.scoring_model_version,
        artefact_sha256=row.artefact_sha256,
        is_active=row.is_active,
        activated_at=row.activated_at,
    )


class CorruptArtefact(RuntimeError):
    """A stored artefact's bytes do not match their checksum."""


class SqlPredictiveRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    # --- registry -----------------------------------------------------------------

    def add(self, model: NewPredictiveModel) -> PredictiveModel:
        latest = self._c.execute(select(func.max(_PM.c.version))).scalar()
        version = (latest or 0) + 1
        self._c.execute(
            _PM.insert().values(
                version=version,
                created_at=model.created_at,
                created_by=model.created_by,
                target=model.target,
                horizon_days=model.horizon_days,
                algorithm=model.algorithm,
                metrics=dict(model.metrics),
                features=dict(model.features),
                training_from=model.training_from,
                training_to=model.training_to,
                scoring_model_version=model.scoring_model_version,
                artefact=model.artefact,
                artefact_sha256=digest(model.artefact),
                is_active=False,
                activated_at=None,
            )
        )
        found = self.get(version)
        assert found is not None
        return found

    def get(self, version: int) -> PredictiveModel | None:
        row = self._c.execute(select(*_INFO).where(_PM.c.version == version)).first()
        return None if row is None else _model(row)

    def all(self) -> list[PredictiveModel]:
        return [_model(row) for row in self._c.execute(select(*_INFO).order_by(_PM.c.version))]

    def activate(self, version: int, now: datetime) -> PredictiveModel:
        if self.get(version) is None:
            raise KeyError(f"no predictive model version {version}")
        self._c.execute(update(_PM).where(_PM.c.is_active).values(is_active=False))
        self._c.execute(
            update(_PM).where(_PM.c.version == version).values(is_active=True, activated_at=now)
        )
        self._c.execute(delete(_PS))  # probabilities of another version are stale
        found = self.get(version)
        assert found is not None
        return found

    def deactivate(self) -> None:
        self._c.execute(update(_PM).where(_PM.c.is_active).values(is_active=False))
        self._c.execute(delete(_PS))

    def active(self) -> ActivePredictor | None:
        row = self._c.execute(
            select(_PM.c.version, _PM.c.artefact_sha256).where(_PM.c.is_active)
        ).first()
        if row is None:
            return None
        return self._loaded(row.version, row.artefact_sha256)

    def load(self, version: int) -> ActivePredictor | None:
        row = self._c.execute(
            select(_PM.c.version, _PM.c.artefact_sha256).where(_PM.c.version == version)
        ).first()
        return None if row is None else self._loaded(row.version, row.artefact_sha256)

    def _loaded(self, version: int, sha: str) -> ActivePredictor:
        info = _INFO_CACHE.get((version, sha))
        if info is None:
            info = self.get(version)
            assert info is not None
            _INFO_CACHE[(version, sha)] = info
        with _LOADED_LOCK:
            predictor = _LOADED.get(sha)
            if predictor is not None:
                _LOADED.move_to_end(sha)
        if predictor is None:
            blob = self._c.execute(
                select(_PM.c.artefact).where(_PM.c.version == version)
            ).scalar_one()
            if digest(blob) != sha:
                raise CorruptArtefact(
                    f"predictive model version {version}: the artefact does not match its "
                    "checksum; retrain with `leadgate train`"
                )
            # numpy, scikit-learn and LightGBM load only when a model is used.
            from leadgate.adapters.ml.artefact import loads

            predictor = loads(blob)
            with _LOADED_LOCK:
                _LOADED[sha] = predictor
                while len(_LOADED) > _KEEP:
                    _LOADED.popitem(last=False)
        return ActivePredictor(info, predictor)

    # --- stored probabilities -----------------------------------------------------

    def upsert_scores(self, rows: Sequence[StoredProbability]) -> None:
        if not rows:
            return
        latest = {row.lead_id: row for row in rows}
        values = [
            {
                "lead_id": r.lead_id,
                "model_version": r.model_version,
                "probability": float(r.probability),
                "scored_at": r.scored_at,
            }
            for r in latest.values()
        ]
        insert = pg_insert if self._c.dialect.name == "postgresql" else sqlite_insert
        for chunk in _chunks(values):
            statement = insert(_PS).values(list(chunk))
            statement = statement.on_conflict_do_update(
                index_elements=[_PS.c.lead_id],
                set_={
                    "model_version": statement.excluded.model_version,
                    "probability": statement.excluded.probability,
                    "scored_at": statement.excluded.scored_at,
                },
            )
            self._c.execute(statement)

    def scores(self, lead_ids: Collection[int]) -> dict[int, StoredProbability]:
        found: dict[int, StoredProbability] = {}
        for chunk in _chunks(sorted(lead_ids)):
            for row in self._c.execute(select(_PS).where(_PS.c.lead_id.in_(chunk))):
                found[row.lead_id] = StoredProbability(
                    row.lead_id, row.model_version, row.probability, row.scored_at
                )
        return found

    # --- what training and scoring read -------------------------------------------

    def created_at(self, lead_ids: Collection[int]) -> dict[int, datetime]:
        found: dict[int, datetime] = {}
        for chunk in _chunks(sorted(lead_ids)):
            rows = self._c.execute(
                select(t.leads.c.id, t.leads.c.created_at).where(t.leads.c.id.in_(chunk))
            )
            found.update({row.id: row.created_at for row in rows})
        return found

    def milestones(self, lead_ids: Collection[int]) -> dict[int, list[Milestone]]:
        found: dict[int, list[Milestone]] = {}
        tr, oc = t.transitions.c, t.outcomes.c
        for chunk in _chunks(sorted(lead_ids)):
            for row in self._c.execute(
                select(tr.lead_id, tr.to_stage, tr.occurred_at).where(tr.lead_id.in_(chunk))
            ):
                found.setdefault(row.lead_id, []).append(
                    Milestone(row.occurred_at, stage=row.to_stage)
                )
            for row in self._c.execute(
                select(oc.lead_id, oc.kind, oc.occurred_at).where(oc.lead_id.in_(chunk))
            ):
                found.setdefault(row.lead_id, []).append(
                    Milestone(row.occurred_at, outcome=row.kind)
                )
        for events in found.values():
            events.sort(key=lambda m: m.occurred_at)
        return found

    def account_activity(
        self,
        account_ids: Collection[int] | None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> dict[int, AccountActivity]:
        tp, ld = t.touchpoints.c, t.leads.c
        query = (
            select(
                ld.account_id,
                tp.lead_id,
                tp.name,
                tp.occurred_at,
                # Only an intent surge's properties are read (its score): the others stay
                # in the database.
                case((tp.name == "intent_surge", tp.properties), else_=None).label("props"),
            )
            .join(t.leads, ld.id == tp.lead_id)
            .where(ld.account_id.is_not(None))
        )
        if since is not None:
            query = query.where(tp.occurred_at >= since)
        if until is not None:
            query = query.where(tp.occurred_at <= until)
        events: dict[int, list[tuple[datetime, int, str, Any]]] = {}
        if account_ids is None:
            batches: list[Sequence[int] | None] = [None]
        else:
            batches = list(_chunks(sorted(account_ids)))
        for chunk in batches:
            statement = query if chunk is None else query.where(ld.account_id.in_(chunk))
            for row in self._c.execute(statement):
                score = row.props.get("score") if isinstance(row.props, dict) else None
                events.setdefault(row.account_id, []).append(
                    (row.occurred_at, row.lead_id, row.name, score)
                )
        return {account: AccountActivity.of(items) for account, items in events.items()}
