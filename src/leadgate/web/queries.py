"""The dashboard's own reads: the sortable lead list, a rep's queue, owners for pickers.

Set-based SQL like the rest of the read side; one query per table shown. The lead list
pages by offset (people jump to "page 7 of 40"); its sort always ends on the lead id so
that pages never overlap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, or_, select

from leadgate.adapters.db import tables as t


class LeadSort(StrEnum):
    SCORE = "score"
    FIT = "fit"
    ENGAGEMENT = "engagement"
    UPDATED = "updated"
    CREATED = "created"
    NAME = "name"


@dataclass(frozen=True, slots=True)
class LeadQuery:
    stage: str | None = None
    grade: str | None = None
    owner: str | None = None
    min_score: float | None = None
    search: str | None = None  # part of the email, name or company domain
    sort: LeadSort = LeadSort.SCORE
    descending: bool = True
    page: int = 1
    per_page: int = 50


@dataclass(frozen=True, slots=True)
class LeadLine:
    id: int
    email: str | None
    name: str
    title: str | None
    company: str | None
    owner: str | None
    stage: str
    total: float | None
    fit: float | None
    engagement: float | None
    grade: str | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class LeadList:
    lines: list[LeadLine]
    total: int
    page: int
    pages: int


def _name(first: str | None, last: str | None, email: str | None) -> str:
    return " ".join(p for p in (first, last) if p) or email or "(anonymous)"


def _conditions(query: LeadQuery, *, sqlite: bool) -> list[ColumnElement[bool]]:
    lead, score, account = t.leads, t.scores, t.accounts
    conditions: list[ColumnElement[bool]] = []
    if query.stage:
        conditions.append(lead.c.stage == query.stage)
    if query.owner:
        conditions.append(lead.c.owner == query.owner)
    if query.grade:
        conditions.append(score.c.grade == query.grade)
    if query.min_score is not None:
        conditions.append(score.c.total >= query.min_score)
    if query.search:
        # Wildcards typed by the user are matched literally.
        term = query.search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like = f"%{term}%"
        columns = (lead.c.email, lead.c.first_name, lead.c.last_name, account.c.domain)
        if sqlite:
            # SQLite's LIKE ignores ASCII case by itself; lower() on every row costs 2x.
            conditions.append(or_(*(c.like(like, escape="\\") for c in columns)))
        else:
            conditions.append(or_(*(c.ilike(like, escape="\\") for c in columns)))
    return conditions


def list_leads(connection: Connection, query: LeadQuery) -> LeadList:
    """One page of leads matching the query, and how many match in all."""
    lead, score, account = t.leads, t.scores, t.accounts
    joined = lead.outerjoin(score, score.c.lead_id == lead.c.id).outerjoin(
        account, account.c.id == lead.c.account_id
    )
    conditions = _conditions(query, sqlite=connection.dialect.name == "sqlite")
    # The count joins only what the filters read: a plain count of leads is an index scan.
    counted: Any = lead
    if query.grade or query.min_score is not None:
        counted = counted.join(score, score.c.lead_id == lead.c.id)
    if query.search:
        counted = counted.outerjoin(account, account.c.id == lead.c.account_id)
    count = connection.execute(
        select(func.count()).select_from(counted).where(*conditions)
    ).scalar_one()
    key: Any = {
        LeadSort.SCORE: score.c.total,
        LeadSort.FIT: score.c.fit,
        LeadSort.ENGAGEMENT: score.c.engagement,
        LeadSort.UPDATED: lead.c.updated_at,
        LeadSort.CREATED: lead.c.created_at,
        LeadSort.NAME: func.lower(func.coalesce(lead.c.last_name, lead.c.email, "")),
    }[query.sort]
    # Unscored leads sort last either way (NULLS LAST is spelled the same on both back ends).
    order = key.desc().nulls_last() if query.descending else key.asc().nulls_last()
    tiebreak = lead.c.id.desc() if query.descending else lead.c.id.asc()
    pages = max(1, -(-count // query.per_page))
    page = min(max(1, query.page), pages)
    rows = connection.execute(
        select(
            lead.c.id,
            lead.c.email,
            lead.c.first_name,
            lead.c.last_name,
            lead.c.title,
            lead.c.owner,
            lead.c.stage,
            lead.c.updated_at,
            account.c.name.label("company"),
            account.c.domain,
            score.c.total,
            score.c.fit,
            score.c.engagement,
            score.c.grade,
        )
        .select_from(joined)
        .where(*conditions)
        .order_by(order, tiebreak)
        .limit(query.per_page)
        .offset((page - 1) * query.per_page)
    ).all()
    lines = [
        LeadLine(
            id=r.id,
            email=r.email,
            name=_name(r.first_name, r.last_name, r.email),
            title=r.title,
            company=r.company or r.domain,
            owner=r.owner,
            stage=r.stage,
            total=r.total,
            fit=r.fit,
            engagement=r.engagement,
            grade=r.grade,
            updated_at=r.updated_at,
        )
        for r in rows
    ]
    return LeadList(lines, count, page, pages)


def owners(connection: Connection) -> list[str]:
    """Every owner name on a lead or a handoff, for the owner picker."""
    on_leads = select(t.leads.c.owner).where(t.leads.c.owner.is_not(None)).distinct()
    on_handoffs = select(t.handoffs.c.owner).where(t.handoffs.c.owner.is_not(None)).distinct()
    names = {r[0] for r in connection.execute(on_leads)} | {
        r[0] for r in connection.execute(on_handoffs)
    }
    return sorted(names)


@dataclass(frozen=True, slots=True)
class QueueLine:
    handoff_id: int
    lead_id: int
    name: str
    email: str | None
    company: str | None
    stage: str
    owner: str | None
    team: str
    trigger: str | None
    created_at: datetime
    due_at: datetime | None
    sla_status: str
    first_touch_at: datetime | None
    total: float | None
    grade: str | None


def queue(connection: Connection, owner: str | None, *, limit: int = 200) -> list[QueueLine]:
    """Pending handoffs (of ``owner``, or all when None), soonest SLA deadline first;
    handoffs without a deadline last, oldest first."""
    h, lead, account, score = t.handoffs, t.leads, t.accounts, t.scores
    query = (
        select(
            h.c.id,
            h.c.lead_id,
            h.c.owner,
            h.c.team,
            h.c.created_at,
            h.c.due_at,
            h.c.sla_status,
            h.c.first_touch_at,
            h.c.context,
            lead.c.first_name,
            lead.c.last_name,
            lead.c.email,
            lead.c.stage,
            account.c.name.label("company"),
            account.c.domain,
            score.c.total,
            score.c.grade,
        )
        .join(lead, lead.c.id == h.c.lead_id)
        .outerjoin(account, account.c.id == lead.c.account_id)
        .outerjoin(score, score.c.lead_id == lead.c.id)
        .where(h.c.status == "pending")
    )
    if owner is not None:
        query = query.where(h.c.owner == owner)
    query = query.order_by(h.c.due_at.asc().nulls_last(), h.c.created_at, h.c.id).limit(limit)
    lines = []
    for r in connection.execute(query):
        context = r.context if isinstance(r.context, dict) else {}
        crossing = context.get("crossing_touchpoints") or []
        trigger = crossing[0].get("name") if crossing and isinstance(crossing[0], dict) else None
        lines.append(
            QueueLine(
                handoff_id=r.id,
                lead_id=r.lead_id,
                name=_name(r.first_name, r.last_name, r.email),
                email=r.email,
                company=r.company or r.domain,
                stage=r.stage,
                owner=r.owner,
                team=r.team,
                trigger=trigger,
                created_at=r.created_at,
                due_at=r.due_at,
                sla_status=r.sla_status,
                first_touch_at=r.first_touch_at,
                total=r.total,
                grade=r.grade,
            )
        )
    return lines


def handed_to(connection: Connection, lead_id: int) -> list[str | None]:
    """The owners every handoff of the lead went to."""
    rows = connection.execute(select(t.handoffs.c.owner).where(t.handoffs.c.lead_id == lead_id))
    return [r[0] for r in rows]
