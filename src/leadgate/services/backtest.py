"""Backtest: replay the recorded history through a candidate model and a baseline.

Nothing is written. The history is read in short transactions of ``chunk_size`` leads
(SQLite has one writer at a time, and a long read would hold tracking back on
PostgreSQL's snapshot too); each chunk is replayed outside any transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from leadgate.domain.backtest import LeadHistory, LeadReplay, Window, reads_probability
from leadgate.domain.backtest_report import BacktestFigures, LeadFacts, Tally
from leadgate.domain.predictive import Milestone, Target, reached_at
from leadgate.domain.scoring_model import ScoringModel
from leadgate.services.active import active_model
from leadgate.services.errors import InvalidInput, NotFound
from leadgate.services.lead_histories import lead_records
from leadgate.services.ports import UnitOfWork

DEFAULT_DAYS = 90
MAX_DAYS = 731
# Days a window may name: room on both sides for the default span and a day's end.
_EARLIEST, _LATEST = date(1971, 1, 1), date(9998, 12, 31)

Progress = Callable[[int, int], None]

CONVERTED_MEANS = {
    Target.SQL: "reached sql or beyond (transition log) or sales accepted it (outcomes)",
    Target.OPPORTUNITY: "reached opportunity, customer or lost (transition log) or sales "
    "reported an opportunity, a win or a loss (outcomes)",
    Target.CUSTOMER: "reached customer (transition log) or sales reported a win (outcomes)",
}


@dataclass(frozen=True, slots=True)
class ModelRef:
    """Which model a side of the backtest is: its name, stored version (None: a document
    that is not stored) and how it was named (``active``, ``version 3``, a file)."""

    name: str
    version: int | None
    source: str


@dataclass(frozen=True, slots=True)
class Baseline:
    """What the candidate is compared with: the active version (the default), a stored
    ``version``, or a ``model`` read from a document named ``source``."""

    version: int | None = None
    model: ScoringModel | None = None
    source: str = "active"


@dataclass(frozen=True, slots=True)
class BacktestReport:
    """The figures, the two models, what "converted" meant, and caveats."""

    candidate: ModelRef
    baseline: ModelRef
    converted: Target
    figures: BacktestFigures
    warnings: tuple[str, ...] = ()


def window_for(first: date | None, last: date | None, today: date) -> Window:
    """Given the --from/--to days (either may be missing), return the window: by default
    the 90 days ending today; one bound given, 90 days from or to it."""
    for name, day in (("--from", first), ("--to", last)):
        if day is not None and not _EARLIEST <= day <= _LATEST:
            raise InvalidInput(f"{name} ({day}) must be between {_EARLIEST} and {_LATEST}")
    span = timedelta(days=DEFAULT_DAYS - 1)
    if last is None:
        last = today if first is None else min(today, first + span)
        last = max(last, first) if first is not None else last
    if first is None:
        first = last - span
    if last < first:
        raise InvalidInput(f"--to ({last}) is before --from ({first})")
    if (last - first).days + 1 > MAX_DAYS:
        raise InvalidInput(
            f"the window from {first} to {last} is {(last - first).days + 1} days; "
            f"at most {MAX_DAYS} are replayed at once"
        )
    return Window(first, last)


def run_backtest(
    uow: UnitOfWork,
    candidate: ScoringModel,
    *,
    candidate_source: str = "candidate",
    baseline: Baseline = Baseline(),
    first: date | None = None,
    last: date | None = None,
    converted: Target = Target.OPPORTUNITY,
    now: datetime,
    chunk_size: int = 2000,
    progress: Progress | None = None,
) -> BacktestReport:
    """Replay every lead's recorded touchpoints through ``candidate`` and the baseline at
    the end of each day of the window and compare what each would have flagged."""
    window = window_for(first, last, now.astimezone(UTC).date())
    with uow:
        base_model, base_ref = _baseline(uow, baseline)
        chunks = list(uow.leads.id_chunks(chunk_size))
    models = (base_model, candidate)
    ends = window.ends()
    tally = Tally(window)
    for records in lead_records(uow, chunks, progress):
        for record in records:
            lead = record.lead
            assert lead.id is not None  # read from the database
            shared = LeadHistory(lead, record.history, ends)
            days = [
                LeadReplay(shared, None, m, window).gate_days(record.first_seen) for m in models
            ]
            facts = _facts(lead.id, lead.email, record.milestones, converted)
            tally.add(facts, days[0], days[1])
    warnings = []
    for label, model in (("baseline", base_model), ("candidate", candidate)):
        if reads_probability(model):
            warnings.append(
                f"the {label}'s gates read probability, which a backtest does not replay: "
                "those conditions never hold here"
            )
    return BacktestReport(
        candidate=ModelRef(candidate.name, None, candidate_source),
        baseline=base_ref,
        converted=converted,
        figures=tally.figures(),
        warnings=tuple(warnings),
    )


def _baseline(uow: UnitOfWork, baseline: Baseline) -> tuple[ScoringModel, ModelRef]:
    if baseline.model is not None:
        return baseline.model, ModelRef(baseline.model.name, None, baseline.source)
    if baseline.version is not None:
        stored = uow.models.get(baseline.version)
        if stored is None:
            raise NotFound(f"no model version {baseline.version} (see `leadgate model list`)")
        return stored.model, ModelRef(stored.name, stored.version, f"version {stored.version}")
    active = active_model(uow)
    return active.model, ModelRef(active.name, active.version, "active")


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _facts(
    lead_id: int, email: str | None, milestones: Iterable[Milestone], target: Target
) -> LeadFacts:
    events = list(milestones)
    reached = sorted({_utc(m.occurred_at).date() for m in events if m.reaches(target)})
    opportunity = reached_at(Target.OPPORTUNITY, events)
    customer = reached_at(Target.CUSTOMER, events)
    return LeadFacts(
        lead_id,
        email,
        tuple(reached),
        _utc(opportunity).date() if opportunity else None,
        _utc(customer).date() if customer else None,
    )


def report_json(
    report: BacktestReport, offset: int = 0, limit: int | None = None
) -> dict[str, Any]:
    """The report as plain JSON values (dates as ISO text), for the CLI and the API;
    ``changes`` from ``offset``, at most ``limit`` of them (None: all)."""
    figures = report.figures
    changes = figures.changes[offset : None if limit is None else offset + limit]
    plain: dict[str, Any] = _plain(
        {
            "window": {"from": figures.first, "to": figures.last},
            "candidate": asdict(report.candidate),
            "baseline": asdict(report.baseline),
            "converted": {
                "stage": report.converted.value,
                "means": CONVERTED_MEANS[report.converted],
            },
            "leads": figures.leads,
            "opportunities": figures.opportunities,
            "customers": figures.customers,
            "totals": {
                "baseline": asdict(figures.baseline),
                "candidate": asdict(figures.candidate),
            },
            "timing": asdict(figures.timing),
            "weeks": [asdict(week) for week in figures.weeks],
            "changes_total": len(figures.changes),
            "changes": [asdict(change) for change in changes],
            "warnings": list(report.warnings),
        }
    )
    return plain


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value
