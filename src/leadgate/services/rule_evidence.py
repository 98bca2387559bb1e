"""``leadgate model suggest``: the evidence behind each rule of the active model, and the
points it suggests (see ``leadgate.domain.rule_evidence`` for the definitions).

The history is read in short transactions of ``chunk_size`` leads, as training reads it,
so tracking keeps flowing on SQLite while the evidence is gathered.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from leadgate.domain.predictive import Target, reached_at
from leadgate.domain.rule_evidence import (
    Cohort,
    Evidence,
    Exposure,
    Pattern,
    Suggestion,
    Thresholds,
    evidence,
    exposure_cells,
    lead_exposure,
    subjects_of,
    suggest,
    tally,
)
from leadgate.services.errors import InvalidInput
from leadgate.services.lead_histories import LeadRecord, lead_records
from leadgate.services.ports import ModelVersion, UnitOfWork
from leadgate.services.qualification import active_model

Progress = Callable[[int, int], None]
JointEstimator = Callable[[Mapping[Pattern, list[int]], int], list[float] | None]
"""Given the exposure cells of N subjects and N, return each one's joint rate ratio
(``leadgate.adapters.ml.rule_effects.joint_lifts``), or None."""


@dataclass(frozen=True, slots=True)
class SuggestOptions:
    """Which conversion to explain and over which leads: those first seen in
    [``since``, ``until``) (None: open), followed for ``horizon_days``."""

    target: Target = Target.SQL
    horizon_days: float = 90.0
    since: datetime | None = None
    until: datetime | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)
    chunk_size: int = 2000

    def __post_init__(self) -> None:
        if self.horizon_days <= 0:
            raise InvalidInput("--horizon must be positive (e.g. 90d)")
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise InvalidInput("--from must be before --to")
        if self.thresholds.min_leads < 1 or self.thresholds.min_conversions < 1:
            raise InvalidInput("--min-leads and --min-conversions must be at least 1")


@dataclass(frozen=True, slots=True)
class SuggestReport:
    """The active model, the cohort, the evidence per subject and the proposals."""

    model: ModelVersion
    options: SuggestOptions
    cohort: Cohort
    evidence: list[Evidence]
    suggestion: Suggestion


def suggest_points(
    uow: UnitOfWork,
    options: SuggestOptions,
    *,
    now: datetime,
    progress: Progress | None = None,
    joint: JointEstimator | None = None,
) -> SuggestReport:
    """Gather each lead's exposure to the active model's rules and its conversion, count
    the evidence and propose points (from each subject's own lift). With ``joint``, each
    subject's lift with the others held fixed is reported too. Reads only."""
    with uow:
        active = active_model(uow)
        chunks = list(uow.leads.id_chunks(options.chunk_size))
    exposures: list[Exposure] = []
    for records in lead_records(uow, chunks, progress):
        exposures.extend(_exposures(records, active, options))
    subjects = subjects_of(active.model, exposures)
    cohort, counts = tally(exposures, subjects, horizon_days=options.horizon_days, now=now)
    found = [evidence(subject, counts[subject]) for subject in subjects]
    if joint is not None:
        cells = exposure_cells(exposures, subjects, horizon_days=options.horizon_days, now=now)
        lifts = joint(cells, len(subjects))
        if lifts is not None:
            found = [
                replace(e, joint_lift=lift) if e.tally.exposed_days else e
                for e, lift in zip(found, lifts, strict=True)
            ]
    return SuggestReport(
        active, options, cohort, found, suggest(active.model, found, options.thresholds)
    )


def _exposures(
    records: list[LeadRecord], active: ModelVersion, options: SuggestOptions
) -> list[Exposure]:
    found = []
    for record in records:
        seen = record.first_seen
        if options.since is not None and seen < options.since:
            continue
        if options.until is not None and seen >= options.until:
            continue
        reached = reached_at(options.target, record.milestones)
        found.append(
            lead_exposure(
                record.lead, record.history, active.model, seen_at=seen, reached_at=reached
            )
        )
    return found
