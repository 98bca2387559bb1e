"""The lead list, the lead page, and sales' answer to a handoff (accept, recycle,
disqualify) through the real feedback use case."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from leadgate.analytics.leads import lead_by_id, lead_touchpoints
from leadgate.domain.lifecycle import Stage
from leadgate.domain.notifications import ContextPackage
from leadgate.domain.scoring_model import Grade
from leadgate.domain.users import Role
from leadgate.services.errors import ServiceError
from leadgate.services.feedback import Feedback, record_feedback
from leadgate.services.handoff_queries import lead_handoffs
from leadgate.services.queries import Explanation, explain_lead, lead_transitions
from leadgate.web.access import answers_lead, sees_lead
from leadgate.web.auth import BadInput, CurrentUser, Forbidden, PageNotFound, Wired
from leadgate.web.charts import stacked
from leadgate.web.labels import STAGE_LABELS, stage_label
from leadgate.web.queries import LeadQuery, LeadSort, handed_to, list_leads, owners
from leadgate.web.session import CSRF_FIELD, csrf_ok
from leadgate.web.templating import render

router = APIRouter(include_in_schema=False)

TIMELINE = 100  # touchpoints on the lead page, newest first


@router.get("/leads")
def leads_page(
    request: Request,
    user: CurrentUser,
    wired: Wired,
    stage: str | None = None,
    grade: str | None = None,
    owner: str | None = None,
    min_score: str | None = None,
    q: str | None = None,
    sort: str = LeadSort.SCORE.value,
    order: str = "desc",
    page: str = "1",
) -> HTMLResponse:
    query = _lead_query(stage, grade, owner, min_score, q, sort, order, page)
    if user.role is Role.SALES:
        # A rep's list is their own leads, whatever the owner filter says.
        query = replace(query, owner=user.rep)
    with wired.engine.connect() as connection:
        found = list_leads(connection, query)
        picker = owners(connection) if user.role is not Role.SALES else []
    params = {
        k: v
        for k, v in (
            ("stage", query.stage),
            ("grade", query.grade),
            ("owner", owner if user.role is not Role.SALES else None),
            ("min_score", min_score),
            ("q", q),
            ("sort", query.sort.value),
            ("order", "desc" if query.descending else "asc"),
        )
        if v
    }
    return render(
        request,
        "leads.html",
        user,
        query=query,
        found=found,
        owners=picker,
        stages=list(Stage),
        grades=list(Grade),
        sorts=list(LeadSort),
        stage_label=stage_label,
        params=params,
        page_url=lambda n: "/leads?" + urlencode({**params, "page": n}),
        sort_url=lambda key: (
            "/leads?"
            + urlencode(
                {
                    **params,
                    "sort": key,
                    "order": "asc" if query.sort.value == key and query.descending else "desc",
                }
            )
        ),
    )


def _lead_query(
    stage: str | None,
    grade: str | None,
    owner: str | None,
    min_score: str | None,
    q: str | None,
    sort: str,
    order: str,
    page: str,
) -> LeadQuery:
    if stage and stage not in {s.value for s in Stage}:
        raise BadInput(
            f"stage: unknown stage {stage!r}; one of {', '.join(s.value for s in Stage)}"
        )
    if grade and grade not in {g.value for g in Grade}:
        raise BadInput(f"grade: unknown grade {grade!r}; one of A, B, C, D")
    try:
        sorted_by = LeadSort(sort)
    except ValueError:
        raise BadInput(
            f"sort: unknown sort {sort!r}; one of {', '.join(s.value for s in LeadSort)}"
        ) from None
    if order not in ("asc", "desc"):
        raise BadInput(f"order: {order!r} is neither asc nor desc")
    try:
        score = float(min_score) if min_score else None
    except ValueError:
        raise BadInput(f"min_score: {min_score!r} is not a number") from None
    try:
        number = int(page)
    except ValueError:
        raise BadInput(f"page: {page!r} is not a page number") from None
    return LeadQuery(
        stage=stage or None,
        grade=grade or None,
        owner=owner or None,
        min_score=score,
        search=(q or "").strip() or None,
        sort=sorted_by,
        descending=order == "desc",
        page=max(1, number),
    )


@router.get("/leads/{lead_id}")
def lead_page(request: Request, lead_id: int, user: CurrentUser, wired: Wired) -> HTMLResponse:
    with wired.engine.connect() as connection:
        lead = lead_by_id(connection, lead_id)
        if lead is None:
            raise PageNotFound(f"There is no lead {lead_id}.")
        handed = handed_to(connection, lead_id)
        if not sees_lead(user, lead.owner, handed):
            raise Forbidden("This lead is not yours: reps see the leads they own.")
        timeline = lead_touchpoints(connection, lead_id, limit=TIMELINE)
    transitions = lead_transitions(wired.uow(), lead_id)
    handoffs = lead_handoffs(wired.uow(), lead_id)
    explanation = _explain(wired, lead_id)
    handoff = handoffs[-1] if handoffs else None
    package = ContextPackage.from_json(handoff.context) if handoff else None
    with wired.uow() as uow:
        config = uow.configs.handoff_config()
    bar = None
    if explanation is not None:
        bar = stacked(
            [
                (c.rule_id, c.points, "fit" if c.kind == "fit" else "engagement")
                for c in explanation.qualification.score.contributions
                if c.points
            ]
        )
    return render(
        request,
        "lead.html",
        user,
        lead=lead,
        timeline=timeline,
        transitions=transitions,
        handoffs=handoffs,
        handoff=handoff,
        package=package,
        explanation=explanation,
        bar=bar,
        can_answer=answers_lead(user, lead.owner, handed),
        recycle_reasons=config.recycle_reasons,
        disqualify_reasons=config.disqualify_reasons,
        nurture_tracks=config.nurture_tracks,
        default_track=config.default_nurture_track,
        stage_label=stage_label,
        stage_labels=STAGE_LABELS,
        flash=request.session.pop("flash", None),
    )


def _explain(wired: Wired, lead_id: int) -> Explanation | None:
    """The stored score explained, or None when the lead has none (never scored, or no
    model is active)."""
    try:
        return explain_lead(wired.uow(), lead_id)
    except ServiceError:
        return None


_KINDS: dict[str, Literal["accepted", "recycled", "disqualified"]] = {
    "accept": "accepted",
    "recycle": "recycled",
    "disqualify": "disqualified",
}


@router.post("/leads/{lead_id}/feedback")
def answer(
    request: Request,
    lead_id: int,
    user: CurrentUser,
    wired: Wired,
    action: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    track: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    """Accept, recycle (reason) or disqualify (reason): one call of ``record_feedback``,
    so the outcome, the transition, the closed handoff and the alerts are what the API
    and the CLI would write."""
    if not csrf_ok(request.session, csrf_token):
        raise Forbidden("The form expired or did not come from this dashboard. Reload the page.")
    with wired.engine.connect() as connection:
        lead = lead_by_id(connection, lead_id)
        if lead is None:
            raise PageNotFound(f"There is no lead {lead_id}.")
        handed = handed_to(connection, lead_id)
    if not answers_lead(user, lead.owner, handed):
        raise Forbidden("Only the lead's rep (or an admin) can answer for it.")
    kind = _KINDS.get(action)
    if kind is None:
        raise BadInput(f"action: {action!r} is not one of accept, recycle, disqualify")
    feedback = Feedback(
        lead_id=lead_id,
        kind=kind,
        actor=user.username,
        reason=reason.strip() or None,
        note=note.strip() or None,
        nurture_track=(track.strip() or None) if kind == "recycled" else None,
    )
    try:
        result = record_feedback(wired.uow(), feedback, now=datetime.now(UTC))
    except ServiceError as exc:
        request.session["flash"] = {"kind": "error", "text": str(exc)}
        return RedirectResponse(f"/leads/{lead_id}#answer", status_code=303)
    moved = (
        f"; the lead moved from {stage_label(result.from_stage)} to {stage_label(result.to_stage)}"
        if result.to_stage
        else ""
    )
    request.session["flash"] = {"kind": "ok", "text": f"Recorded: {action}{moved}."}
    return RedirectResponse(f"/leads/{lead_id}", status_code=303)
