"""Predictive models: train one from the recorded history, list, show, activate.

Training reads the history in short transactions of ``chunk_size`` leads (SQLite has one
writer at a time and every transaction takes its lock: tracking keeps flowing while a
model trains), learns outside any transaction, and registers the result in one more.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from leadgate.domain.features import (
    DEFAULT_WINDOWS,
    AccountActivity,
    Excluder,
    FeatureOptions,
    Timeline,
    features_at,
    profile_features,
)
from leadgate.domain.leakage import Concern, Screening, screen
from leadgate.domain.predictive import FeatureRow, Target, reached_at, stage_before
from leadgate.domain.snapshots import (
    DEFAULT_LANDMARKS,
    LabelMode,
    Snapshot,
    choose_snapshots,
    lead_snapshots,
)
from leadgate.domain.training import Progress, Trainer, TrainingSet
from leadgate.services.errors import InvalidInput, NotFound, ServiceError
from leadgate.services.lead_histories import LeadRecord, lead_records
from leadgate.services.ports import UnitOfWork
from leadgate.services.predictive_ports import NewPredictiveModel, PredictiveModel
from leadgate.services.qualification import active_model
from leadgate.services.rescore import requalify_all

_SCREEN_SAMPLE = 20_000


class NotEnoughData(ServiceError):
    """Too few leads of one class to learn from; the message says how many are needed."""


class PredictiveModelNotFound(NotFound):
    def __init__(self, version: int) -> None:
        super().__init__(
            f"no predictive model version {version} (see `leadgate model predictive list`)"
        )


@dataclass(frozen=True, slots=True)
class TrainOptions:
    """What to learn and from what. ``landmarks``: days after a lead is first seen at
    which it is looked at; ``max_rows``: above this many rows, whole leads are sampled
    (deterministically) to stay within time and memory."""

    target: Target = Target.SQL
    horizon_days: float = 90.0
    exclude: tuple[str, ...] = ()
    min_positives: int = 50
    min_negatives: int = 50
    landmarks: tuple[float, ...] = DEFAULT_LANDMARKS
    windows: tuple[int, ...] = DEFAULT_WINDOWS
    account_features: bool = True
    seed: int = 0
    chunk_size: int = 2000
    max_rows: int = 300_000

    def __post_init__(self) -> None:
        if self.horizon_days <= 0:
            raise InvalidInput("--horizon must be positive (e.g. 90d)")
        if self.min_positives < 1 or self.min_negatives < 1:
            raise InvalidInput("--min-positives and --min-negatives must be at least 1")


@dataclass(frozen=True, slots=True)
class TrainReport:
    """The registered model and what training found on the way."""

    model: PredictiveModel
    label_mode: LabelMode
    rows: int
    positives: int
    screening: list[Screening] = field(default_factory=list)


@dataclass(slots=True)
class _Collected:
    snapshots: list[Snapshot] = field(default_factory=list)
    rows: list[FeatureRow] = field(default_factory=list)
    already_reached: int = 0


def train_predictive(
    uow: UnitOfWork,
    trainer: Trainer,
    options: TrainOptions,
    *,
    now: datetime,
    actor: str,
    progress: Progress | None = None,
) -> TrainReport:
    """Build point-in-time features and labels from the history, train, validate and
    register a model (not active). Refuses (NotEnoughData) when either class is short."""
    horizon = timedelta(days=options.horizon_days)
    feature_options = FeatureOptions(
        options.windows, frozenset(options.exclude), options.account_features
    )
    with uow:
        active = active_model(uow)
        chunks = list(uow.leads.id_chunks(options.chunk_size))
        activity = (
            uow.predictive.account_activity(None, None, now) if options.account_features else {}
        )
    collected = _Collected()
    excluder = Excluder(feature_options.exclude)
    building = (
        (lambda done, total: progress(done, total, "building features")) if progress else None
    )
    for records in lead_records(uow, chunks, building):
        _collect(
            records,
            active.model,
            activity,
            options,
            feature_options,
            excluder,
            horizon,
            now,
            collected,
        )
    kept, mode = _choose(collected, options)
    rows = [collected.rows[i] for i in kept]
    snapshots = [collected.snapshots[i] for i in kept]
    labels = [s.label for s in snapshots]
    _refuse_if_short(labels, options, mode, collected.already_reached)

    screening = _screen(rows, labels, snapshots)
    identifiers = {s.feature for s in screening if s.concern is Concern.IDENTIFIER}
    if identifiers:
        rows = [{k: v for k, v in row.items() if k not in identifiers} for row in rows]
    data = TrainingSet(
        rows,
        labels,
        [s.at for s in snapshots],
        [s.lead_id for s in snapshots],
        options.horizon_days,
        mode,
        options.seed,
    )
    trained = trainer(data, progress)
    start = min(s.at for s in snapshots)
    end = min(now, max(s.at for s in snapshots) + horizon)
    features: dict[str, Any] = {
        "names": trained.features,
        "windows": list(options.windows),
        "exclude": sorted(options.exclude),
        "account": options.account_features,
        "landmarks": list(options.landmarks),
        "label_mode": mode.value,
        "screening": [
            {"feature": s.feature, "concern": s.concern.value, "detail": s.detail}
            for s in screening
        ],
    }
    with uow:
        model = uow.predictive.add(
            NewPredictiveModel(
                created_at=now,
                created_by=actor,
                target=options.target.value,
                horizon_days=options.horizon_days,
                algorithm=trained.algorithm,
                metrics=trained.metrics,
                features=features,
                training_from=start,
                training_to=end,
                scoring_model_version=active.version,
                artefact=trained.artefact,
            )
        )
        uow.commit()
    return TrainReport(model, mode, len(rows), sum(labels), screening)


def _collect(
    records: list[LeadRecord],
    model: Any,
    activity: dict[int, AccountActivity],
    options: TrainOptions,
    feature_options: FeatureOptions,
    excluder: Excluder,
    horizon: timedelta,
    now: datetime,
    out: _Collected,
) -> None:
    """Snapshots and their features for one chunk of leads."""
    for record in records:
        lead, lead_id = record.lead, record.lead.id
        assert lead_id is not None  # read from the database
        timeline = Timeline(lead, record.history, model)
        seen = record.first_seen
        events = record.milestones
        reached = reached_at(options.target, events)
        found = lead_snapshots(
            lead_id, seen, reached, now=now, horizon=horizon, landmarks=options.landmarks
        )
        if not found and reached is not None and reached <= seen:
            out.already_reached += 1
        if not found:
            continue
        profile = profile_features(lead)
        account = activity.get(lead.account_id) if lead.account_id is not None else None
        for snapshot in found:
            out.snapshots.append(snapshot)
            out.rows.append(
                features_at(
                    timeline,
                    profile,
                    snapshot.at,
                    stage=stage_before(events, snapshot.at),
                    seen_at=seen,
                    account=account,
                    options=feature_options,
                    excluder=excluder,
                )
            )


def _choose(collected: _Collected, options: TrainOptions) -> tuple[list[int], LabelMode]:
    """Indexes of the rows to train on (matured or censored labels), sampled by lead when
    there are more than ``max_rows``."""
    chosen, mode = choose_snapshots(
        collected.snapshots,
        min_positives=options.min_positives,
        min_negatives=options.min_negatives,
    )
    wanted = {(s.lead_id, s.at) for s in chosen}
    kept = [i for i, s in enumerate(collected.snapshots) if (s.lead_id, s.at) in wanted]
    if len(kept) > options.max_rows:
        share = options.max_rows / len(kept)
        kept = [i for i in kept if _unit(collected.snapshots[i].lead_id, options.seed) < share]
    return kept, mode


def _unit(lead_id: int, seed: int) -> float:
    """A number in [0, 1) fixed per lead and seed (sampling whole leads reproducibly)."""
    digest = hashlib.blake2b(f"{seed}:{lead_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _refuse_if_short(
    labels: list[bool], options: TrainOptions, mode: LabelMode, already: int
) -> None:
    positives = sum(labels)
    negatives = len(labels) - positives
    if positives >= options.min_positives and negatives >= options.min_negatives:
        return
    target, days = options.target.value, f"{options.horizon_days:g}"
    how = (
        "each lead counted once, as of when it was first seen, since too few have a whole "
        "horizon of history"
        if mode is LabelMode.CENSORED
        else "snapshots whose horizon has passed"
    )
    note = f"; {already} leads had reached {target} before they were first seen" if already else ""
    raise NotEnoughData(
        f"not enough data to train: {positives} positives (reached {target} within {days} "
        f"days) and {negatives} negatives ({how}){note}; at least {options.min_positives} "
        f"positives and {options.min_negatives} negatives are needed "
        "(--min-positives, --min-negatives)"
    )


def _screen(
    rows: list[FeatureRow], labels: list[bool], snapshots: list[Snapshot]
) -> list[Screening]:
    """Leak and identifier checks over one row per lead (profile attributes do not change
    between a lead's snapshots), on a reproducible sample when there are many."""
    first: dict[int, int] = {}
    for i, s in enumerate(snapshots):
        first.setdefault(s.lead_id, i)
    picked = sorted(first.values())
    if len(picked) > _SCREEN_SAMPLE:
        step = len(picked) / _SCREEN_SAMPLE
        picked = [picked[int(k * step)] for k in range(_SCREEN_SAMPLE)]
    return screen(
        [rows[i] for i in picked],
        [labels[i] for i in picked],
        [int(_unit(snapshots[i].lead_id, 1) * 2) for i in picked],
    )


@dataclass(frozen=True, slots=True)
class PredictiveActivation:
    version: int | None
    rescored: int
    transitions: int


def activate_predictive(
    uow: UnitOfWork,
    version: int | None,
    *,
    now: datetime,
    chunk_size: int = 2000,
    progress: Callable[[int, int], None] | None = None,
) -> PredictiveActivation:
    """Make a predictive model version active (None: none) and rescore every lead, so the
    stored probabilities and any gate on ``probability`` follow it."""
    with uow:
        repo = uow.predictive
        if version is None:
            repo.deactivate()
        else:
            try:
                repo.activate(version, now)
            except KeyError:
                raise PredictiveModelNotFound(version) from None
        active = active_model(uow)
        stats = requalify_all(uow, active, now, chunk_size=chunk_size, progress=progress)
        uow.commit()
    return PredictiveActivation(version, stats.rescored, stats.transitions)


def predictive_models(uow: UnitOfWork) -> list[PredictiveModel]:
    with uow:
        return uow.predictive.all()


def predictive_model(uow: UnitOfWork, version: int) -> PredictiveModel:
    with uow:
        found = uow.predictive.get(version)
    if found is None:
        raise PredictiveModelNotFound(version)
    return found
