"""The context package a rep gets with a handoff, built from what leadgate stores."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from leadgate.domain.leads import Lead
from leadgate.domain.lifecycle import Transition
from leadgate.domain.notifications import (
    AccountSummary,
    ContentItem,
    ContextPackage,
    IntentTopic,
    LeadSummary,
    PageVisit,
    ScoreSummary,
    StageStep,
    TopContribution,
    TouchpointSummary,
)
from leadgate.domain.qualification import qualify
from leadgate.domain.touchpoints import Touchpoint
from leadgate.services.ports import ModelVersion

_CONTENT = {"content_download", "webinar_registered", "webinar_attended", "event_attended"}
_TOP = 5


def build_context(
    lead: Lead,
    history: Sequence[Touchpoint],
    transitions: Sequence[Transition],
    active: ModelVersion,
    at: datetime,
) -> ContextPackage:
    """Given a lead (with its account), its touchpoints and transitions, return the package:
    who, the company, why now (top contributions; the most recent touchpoints that fed
    them), source and campaign, pages and content, form answers, intent, earlier stages."""
    result = qualify(lead, history, active.model, at, model_version=active.version, explain=True)
    score = result.score
    contributions = sorted(score.contributions, key=lambda c: -abs(c.points))
    fed = {m.message_id for c in score.contributions for m in c.matches}
    recent = sorted((tp for tp in history if tp.message_id in fed), key=lambda tp: tp.occurred_at)[
        -_TOP:
    ][::-1]
    ordered = sorted(history, key=lambda tp: tp.occurred_at)
    first_utm: dict[str, Any] = next(
        (tp.properties["utm"] for tp in ordered if _mapping(tp, "utm")), {}
    )
    return ContextPackage(
        lead=LeadSummary.from_lead(lead),
        account=AccountSummary.from_account(lead.account) if lead.account else None,
        score=ScoreSummary.from_score(score, active.version),
        top_contributions=tuple(
            TopContribution.from_contribution(c) for c in contributions[:_TOP] if c.points
        ),
        crossing_touchpoints=tuple(TouchpointSummary.from_touchpoint(tp) for tp in recent),
        source=lead.source_channel,
        campaign=lead.source_campaign or (first_utm.get("campaign") if first_utm else None),
        utm={str(k): str(v) for k, v in first_utm.items()},
        pages=_pages(ordered),
        content=tuple(
            ContentItem(_title(tp), tp.name, tp.occurred_at)
            for tp in reversed(ordered)
            if tp.name in _CONTENT
        )[:10],
        form_answers=_form_answers(ordered),
        intent_topics=tuple(
            IntentTopic(
                str(tp.properties.get("topic", "")),
                _float(tp.properties.get("score")),
                _str(tp.properties.get("provider")),
                tp.occurred_at,
            )
            for tp in reversed(ordered)
            if tp.name == "intent_surge" and tp.properties.get("topic")
        )[:10],
        stage_history=tuple(StageStep.from_transition(t) for t in transitions),
    )


def _pages(ordered: Sequence[Touchpoint]) -> tuple[PageVisit, ...]:
    views = [tp for tp in ordered if tp.name == "page_view" and tp.properties.get("path")]
    counts = Counter(str(tp.properties["path"]) for tp in views)
    last = {str(tp.properties["path"]): tp for tp in views}
    return tuple(
        PageVisit(
            path,
            count,
            last[path].occurred_at,
            _str(last[path].properties.get("title")),
            _str(last[path].properties.get("category")),
        )
        for path, count in counts.most_common(10)
    )


def _form_answers(ordered: Sequence[Touchpoint]) -> dict[str, Any]:
    """The answers of the lead's forms, the latest answer to each question winning."""
    answers: dict[str, Any] = {}
    for tp in ordered:
        if tp.name == "form_submit":
            fields = tp.properties.get("fields")
            source = fields if isinstance(fields, dict) else tp.properties
            answers.update({k: v for k, v in source.items() if isinstance(v, str | int | float)})
    return answers


def _mapping(tp: Touchpoint, key: str) -> bool:
    return isinstance(tp.properties.get(key), dict) and bool(tp.properties[key])


def _title(tp: Touchpoint) -> str:
    for key in ("title", "name", "asset", "webinar", "event"):
        if tp.properties.get(key):
            return str(tp.properties[key])
    return tp.name


def _str(value: Any) -> str | None:
    return str(value) if value is not None else None


def _float(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
