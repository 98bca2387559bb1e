"""Qualifying a set of leads from their incremental state: score, gates, transitions.

Each lead's ``LeadState`` (domain.lead_state) is loaded, rolled forward with the
touchpoints the caller just stored and advanced to ``at``; the score and the gates are read
from it, so an event costs the same whatever the lead's history. The log is read only for
a lead whose state is missing or was built under another model version (then it is
rebuilt, as ``from_log`` does for every lead), or whose score lies within rounding of a
gate threshold (the gate is then decided exactly, from the log). A predictive model's
probabilities are computed off the hot path (``predict``: refresh, rescore, activation);
an event's gates read the latest stored one.

The result carries the domain events (stage changes, ready for sales); the caller hands
them to ``services.handlers.handle`` in the same transaction, or leaves them out.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from leadgate.domain.events import DomainEvent
from leadgate.domain.lead_state import (
    LeadState,
    StatePlan,
    ambiguous,
    build_state,
    micros,
    reset,
    resettable,
    state_plan,
)
from leadgate.domain.leads import Lead
from leadgate.domain.qualification import Qualification, decide, qualify
from leadgate.domain.touchpoints import Touchpoint
from leadgate.services.active import active_model
from leadgate.services.ports import (
    ModelVersion,
    StageChange,
    StoredLeadState,
    StoredScore,
    UnitOfWork,
)
from leadgate.services.predictive_ports import StoredProbability
from leadgate.services.predictive_scoring import predict_leads

__all__ = [
    "QualifyStats",
    "active_model",
    "qualify_leads",
    "rescore_leads",
    "stored_score",
    "usable_state",
]


@dataclass(frozen=True, slots=True)
class QualifyStats:
    """How many leads were rescored, how many transitions the gates wrote, and the events
    for the handlers."""

    rescored: int = 0
    transitions: int = 0
    events: tuple[DomainEvent, ...] = ()

    def __add__(self, other: QualifyStats) -> QualifyStats:
        return QualifyStats(
            self.rescored + other.rescored,
            self.transitions + other.transitions,
            self.events + other.events,
        )


def qualify_leads(
    uow: UnitOfWork,
    lead_ids: Collection[int],
    active: ModelVersion,
    at: datetime,
    *,
    added: Mapping[int, Sequence[Touchpoint]] | None = None,
    from_log: bool = False,
    predict: bool = False,
) -> QualifyStats:
    """Inside an open unit of work: score the leads as of ``at`` and apply the gates,
    storing scores, states, transitions and stages; return the counts and the events.

    ``added``: the touchpoints this transaction just stored, by lead (each is folded into
    its lead's state once). ``from_log``: rebuild every state from the log (a full rescore).
    ``predict``: with a predictive model active, compute each lead's probability now (its
    features read the lead's history, so refresh, rescore and activation do it); otherwise
    gates read the latest stored one, and the cost of an event stays that of its rules.
    """
    return _qualify(
        uow, lead_ids, active, at, added or {}, from_log=from_log, gates=True, predict=predict
    )


def rescore_leads(
    uow: UnitOfWork, lead_ids: Collection[int], active: ModelVersion, at: datetime
) -> QualifyStats:
    """As ``qualify_leads`` but without gate moves: after a person's decision or an import
    the score is brought up to date, and gates wait for the next touchpoint or refresh (a
    decision is never undone in the same breath)."""
    return _qualify(uow, lead_ids, active, at, {}, from_log=False, gates=False, predict=False)


def _qualify(
    uow: UnitOfWork,
    lead_ids: Collection[int],
    active: ModelVersion,
    at: datetime,
    added: Mapping[int, Sequence[Touchpoint]],
    *,
    from_log: bool,
    gates: bool,
    predict: bool,
) -> QualifyStats:
    leads = uow.leads.get_many(lead_ids) if lead_ids else {}
    if not leads:
        return QualifyStats()
    active_predictor = uow.predictive.active()
    predictive = active_predictor if predict else None
    facts = _load(
        uow, leads, active, at, added, from_log=from_log, all_histories=predictive is not None
    )
    if gates and active.model.gates.requires_acceptance:
        facts.was_ready = {
            lead_id
            for lead_id, row in uow.scores.get_many(list(leads)).items()
            if row.sales_ready_gate
        }
    probabilities: dict[int, float] = {}
    if predictive is not None:
        predictions = predict_leads(uow, predictive, leads, facts.histories, active, at)
        probabilities = {lead_id: p.probability for lead_id, p in predictions.items()}
    elif active_predictor is not None:
        version = active_predictor.model.version
        probabilities = {
            lead_id: row.probability
            for lead_id, row in uow.predictive.scores(list(leads)).items()
            if row.model_version == version
        }
    results = _decide(uow, facts, active, at, probabilities, gates=gates)

    transitions = [t for r in results.values() for t in r.transitions] if gates else []
    changes = [
        StageChange(lead_id, r.transitions[-1].to_stage, at, leads[lead_id].engagement_reset_at)
        for lead_id, r in results.items()
        if gates and r.transitions
    ]
    uow.scores.upsert([stored_score(active, result, at) for result in results.values()])
    uow.lead_states.upsert(
        [
            StoredLeadState(lead_id, active.version, state.to_document(), at)
            for lead_id, state in facts.states.items()
        ]
    )
    if stateless := [lead_id for lead_id in leads if lead_id not in facts.states]:
        uow.lead_states.delete(stateless)
    if predictive is not None:
        uow.predictive.upsert_scores(
            [
                StoredProbability(lead_id, predictive.model.version, probability, at)
                for lead_id, probability in probabilities.items()
            ]
        )
    uow.transitions.add(transitions)
    uow.leads.set_stages(changes, at)
    events = tuple(e for r in results.values() for e in r.events) if gates else ()
    return QualifyStats(len(results), len(transitions), events)


@dataclass(slots=True)
class _Facts:
    """What a batch's decisions read: the leads, their states (a lead without one is
    scored from the log), the histories read, and which were sales-ready before."""

    leads: dict[int, Lead]
    states: dict[int, LeadState]
    histories: dict[int, list[Touchpoint]]
    was_ready: set[int] = field(default_factory=set)


def _load(
    uow: UnitOfWork,
    leads: dict[int, Lead],
    active: ModelVersion,
    at: datetime,
    added: Mapping[int, Sequence[Touchpoint]],
    *,
    from_log: bool,
    all_histories: bool,
) -> _Facts:
    """Each lead's state rolled forward to ``at`` with its added touchpoints, or rebuilt
    from its log when the stored one cannot be (missing, another model version, asked
    about an earlier moment, a reset it cannot take)."""
    model, plan = active.model, state_plan(active.model)
    stored = {} if from_log else uow.lead_states.get_many(list(leads))
    states: dict[int, LeadState] = {}
    for lead_id, lead in leads.items():
        state = usable_state(stored.get(lead_id), lead, active.version, at, plan)
        if state is not None:
            state.advance(plan, at)
            for touchpoint in added.get(lead_id, ()):
                state.add(plan, touchpoint)
            states[lead_id] = state
    rebuild = [lead_id for lead_id in leads if lead_id not in states]
    histories = uow.touchpoints.for_leads(list(leads) if all_histories else rebuild)
    for lead_id in rebuild:
        lead = leads[lead_id]
        if not _log_only(lead, at):
            states[lead_id] = build_state(
                model, active.version, histories.get(lead_id, ()), at, lead.engagement_reset_at
            )
    return _Facts(leads, states, histories)


def _decide(
    uow: UnitOfWork,
    facts: _Facts,
    active: ModelVersion,
    at: datetime,
    probabilities: Mapping[int, float],
    *,
    gates: bool,
) -> dict[int, Qualification]:
    """Each lead's qualification, from its state; from its log where it has no state or
    its score lies within rounding of a gate's threshold (a gate decision is exact)."""
    model = active.model
    results: dict[int, Qualification] = {}
    exact: list[int] = []
    for lead_id in sorted(facts.leads):
        lead, state = facts.leads[lead_id], facts.states.get(lead_id)
        if state is None:
            exact.append(lead_id)
            continue
        score, error = state.score(lead, model, at)
        if gates and ambiguous(model, score, error):
            exact.append(lead_id)
            continue
        results[lead_id] = decide(
            lead,
            score,
            state.facts(model, at),
            state.trigger,
            model,
            at,
            model_version=active.version,
            probability=probabilities.get(lead_id),
            was_sales_ready=lead_id in facts.was_ready,
        )
    if missing := [lead_id for lead_id in exact if lead_id not in facts.histories]:
        facts.histories.update(uow.touchpoints.for_leads(missing))
    for lead_id in exact:
        results[lead_id] = qualify(
            facts.leads[lead_id],
            facts.histories.get(lead_id, ()),
            model,
            at,
            model_version=active.version,
            probability=probabilities.get(lead_id),
            was_sales_ready=lead_id in facts.was_ready,
        )
    return dict(sorted(results.items()))


def usable_state(
    row: StoredLeadState | None, lead: Lead, version: int, at: datetime, plan: StatePlan
) -> LeadState | None:
    """The lead's stored state when it can be rolled forward to ``at``, with the lead's
    engagement reset applied; None when it must be rebuilt from the log."""
    if row is None or row.model_version != version:
        return None
    state = LeadState.from_document(version, dict(row.document), plan)
    if state.as_of > micros(at) or _log_only(lead, at):
        return None  # asked about an earlier moment: the log answers
    since = lead.engagement_reset_at
    if (None if since is None else micros(since)) == state.since:
        return state
    if since is not None and resettable(state, since):
        reset(state, since)
        return state
    return None


def _log_only(lead: Lead, at: datetime) -> bool:
    """Whether the lead's score at ``at`` can only come from the log: its engagement reset
    lies after ``at`` (so it does not apply yet), which a state cannot express."""
    reset_at = lead.engagement_reset_at
    return reset_at is not None and reset_at > at


def stored_score(active: ModelVersion, result: Qualification, at: datetime) -> StoredScore:
    """The score row a qualification at ``at`` leaves for its lead."""
    score = result.score
    return StoredScore(
        lead_id=result.lead_id,
        model_version=active.version,
        fit=score.fit,
        engagement=score.engagement,
        total=score.total,
        grade=score.grade.value if score.grade else None,
        mql_gate=result.gates.mql,
        sales_ready_gate=result.gates.sales_ready,
        scored_at=at,
    )
