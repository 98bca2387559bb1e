"""Refreshing every lead as time passes, from its stored state (the log is not read).

Decay, expiring look-back windows, touchpoints whose time has come and ended recycle
cool-downs change scores and gates with time alone. A refresh reads, page by page, each
lead's stage, stored state and stored score (fit does not change with time, so the stored
fit serves), advances the state to ``now`` and reads the score and the gates from it. It
writes only what changed: a score row whose numbers or gate flags moved, and, for a lead a
gate now moves (or one without a usable state, or within rounding of a threshold), the
full qualification with its transitions, events and handlers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from leadgate.domain.lead_state import ambiguous, state_plan
from leadgate.domain.leads import Lead
from leadgate.domain.qualification import decide
from leadgate.domain.scoring import Score
from leadgate.services.handlers import handle
from leadgate.services.ports import ModelVersion, RefreshFacts, StoredScore, UnitOfWork
from leadgate.services.qualification import (
    active_model,
    qualify_leads,
    stored_score,
    usable_state,
)
from leadgate.services.rescore import Progress, RescoreResult, requalify_all

_PAGE = 5_000


def refresh_all(
    uow: UnitOfWork,
    *,
    now: datetime,
    chunk_size: int = _PAGE,
    progress: Progress | None = None,
) -> RescoreResult:
    """Bring every lead's score and gates up to ``now`` from its stored state; return how
    many scores changed and how many transitions the gates wrote.

    With a predictive model active, its probabilities are computed afresh (their features
    read each lead's history), so every lead is requalified from its history."""
    with uow:
        active = active_model(uow)
        if uow.predictive.active() is not None:
            stats = requalify_all(uow, active, now, chunk_size=chunk_size, progress=progress)
            uow.commit()
            return RescoreResult(active.version, stats.rescored, stats.transitions)
        total, done, changed, transitions, after = uow.leads.count(), 0, 0, 0, 0
        while page := uow.lead_states.page(after, chunk_size):
            after = page[-1].lead_id
            updates, requalify = _refresh_page(page, active, now)
            uow.scores.upsert(updates)
            qualified = qualify_leads(uow, requalify, active, now)
            handle(uow, qualified.events, active, now)
            changed += len(updates) + qualified.rescored
            transitions += qualified.transitions
            done += len(page)
            if progress:
                progress(done, total)
        uow.commit()
    return RescoreResult(active.version, changed, transitions)


def _refresh_page(
    page: Sequence[RefreshFacts], active: ModelVersion, now: datetime
) -> tuple[list[StoredScore], list[int]]:
    """The score rows that changed, and the leads to qualify in full (a gate moves them,
    they have no usable state or score, or a gate is too close to call from the state)."""
    model, plan = active.model, state_plan(active.model)
    updates: list[StoredScore] = []
    requalify: list[int] = []
    for facts in page:
        stored = facts.score
        lead = Lead(
            id=facts.lead_id,
            stage=facts.stage,
            stage_entered_at=facts.stage_entered_at,
            engagement_reset_at=facts.engagement_reset_at,
        )
        state = usable_state(facts.state, lead, active.version, now, plan)
        if state is None or stored is None or stored.model_version != active.version:
            requalify.append(facts.lead_id)
            continue
        state.advance(plan, now)
        engagement, error = state.engagement_and_error(model, now)
        score = Score(
            stored.fit, engagement, stored.fit + engagement, model.grade_for(stored.fit), now
        )
        if ambiguous(model, score, error):
            requalify.append(facts.lead_id)
            continue
        result = decide(
            lead,
            score,
            state.facts(model, now),
            state.trigger,
            model,
            now,
            model_version=active.version,
            was_sales_ready=stored.sales_ready_gate,
        )
        if result.transitions or result.events:
            requalify.append(facts.lead_id)
        elif (score.engagement, result.gates.mql, result.gates.sales_ready) != (
            stored.engagement,
            stored.mql_gate,
            stored.sales_ready_gate,
        ):
            updates.append(stored_score(active, result, now))
    return updates, requalify
