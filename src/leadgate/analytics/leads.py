"""Lead, account and touchpoint listings for the REST API: filtered, keyset-paginated reads.

Pages are cut by keyset (``id > after``; for touchpoints ``(occurred_at, id) < before``),
not by offset, so a page never repeats or skips a row when other rows are added or change
while a client walks the list. Each query asks for one row more than the page holds to
know whether another page follows.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Connection, Select, and_, func, or_, select

from leadgate.adapters.db import tables as t
from leadgate.domain.identity import IDENTITY_PRIORITY, IdentityKind

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """Up to ``limit`` rows, and whether more follow the last one."""

    items: list[T]
    more: bool


@dataclass(frozen=True, slots=True)
class ScoreSummary:
    """A lead's stored current score (no explanation: that is recomputed on demand)."""

    fit: float
    engagement: float
    total: float
    grade: str | None
    mql_gate: bool
    sales_ready_gate: bool
    model_version: int
    scored_at: datetime


@dataclass(frozen=True, slots=True)
class IdentityRow:
    kind: IdentityKind
    value: str


@dataclass(frozen=True, slots=True)
class AccountRef:
    id: int
    domain: str
    name: str | None


@dataclass(frozen=True, slots=True)
class LeadRow:
    id: int
    email: str | None
    first_name: str | None
    last_name: str | None
    title: str | None
    seniority: str | None
    department: str | None
    persona: str | None
    source_channel: str | None
    source_campaign: str | None
    country: str | None
    owner: str | None
    stage: str
    stage_entered_at: datetime | None
    account: AccountRef | None
    identities: list[IdentityRow]
    traits: dict[str, Any]
    score: ScoreSummary | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class LeadFilters:
    """Every filter is optional; given ones must all hold."""

    stage: str | None = None
    owner: str | None = None
    grade: str | None = None
    min_score: float | None = None
    max_score: float | None = None
    updated_since: datetime | None = None
    account_domain: str | None = None
    account_id: int | None = None


@dataclass(frozen=True, slots=True)
class AccountRow:
    id: int
    domain: str
    name: str | None
    industry: str | None
    employees: int | None
    annual_revenue: float | None
    country: str | None
    region: str | None
    technographics: list[str]
    owner: str | None
    traits: dict[str, Any]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class TouchpointRow:
    id: int
    message_id: str
    name: str
    original_name: str
    occurred_at: datetime
    received_at: datetime
    properties: dict[str, Any]


_PROFILE = (
    "email",
    "first_name",
    "last_name",
    "title",
    "seniority",
    "department",
    "persona",
    "source_channel",
    "source_campaign",
    "country",
    "owner",
    "stage",
    "stage_entered_at",
    "traits",
    "created_at",
    "updated_at",
)
_SCORE = tuple(c.name for c in t.scores.c if c.name != "lead_id")


def _lead_select() -> Select[Any]:
    lead, account, score = t.leads, t.accounts, t.scores
    return (
        select(
            lead.c.id,
            *(lead.c[name] for name in _PROFILE),
            account.c.id.label("account_id"),
            account.c.domain.label("account_domain"),
            account.c.name.label("account_name"),
            *(score.c[name].label(f"score_{name}") for name in _SCORE),
        )
        .outerjoin(account, account.c.id == lead.c.account_id)
        .outerjoin(score, score.c.lead_id == lead.c.id)
    )


def _lead_conditions(filters: LeadFilters) -> list[ColumnElement[bool]]:
    lead, account, score = t.leads, t.accounts, t.scores
    conditions: list[ColumnElement[bool]] = []
    if filters.stage is not None:
        conditions.append(lead.c.stage == filters.stage)
    if filters.owner is not None:
        conditions.append(lead.c.owner == filters.owner)
    # A lead without a stored score has no grade or total, so score filters leave it out.
    if filters.grade is not None:
        conditions.append(score.c.grade == filters.grade)
    if filters.min_score is not None:
        conditions.append(score.c.total >= filters.min_score)
    if filters.max_score is not None:
        conditions.append(score.c.total <= filters.max_score)
    if filters.updated_since is not None:
        conditions.append(lead.c.updated_at >= filters.updated_since)
    if filters.account_domain is not None:
        conditions.append(account.c.domain == filters.account_domain)
    if filters.account_id is not None:
        conditions.append(lead.c.account_id == filters.account_id)
    return conditions


def _identities(connection: Connection, lead_ids: Collection[int]) -> dict[int, list[IdentityRow]]:
    """Each lead's identities, strongest kind first (the order resolution uses)."""
    found: dict[int, list[IdentityRow]] = {}
    if not lead_ids:
        return found
    rank = {kind.value: position for position, kind in enumerate(IDENTITY_PRIORITY)}
    rows = connection.execute(
        select(t.identities.c.lead_id, t.identities.c.kind, t.identities.c.value).where(
            t.identities.c.lead_id.in_(sorted(lead_ids))
        )
    ).all()
    for row in sorted(rows, key=lambda r: (r.lead_id, rank.get(r.kind, len(rank)), r.value)):
        found.setdefault(row.lead_id, []).append(IdentityRow(IdentityKind(row.kind), row.value))
    return found


def _lead_rows(connection: Connection, rows: Sequence[Any]) -> list[LeadRow]:
    identities = _identities(connection, [row.id for row in rows])
    leads = []
    for row in rows:
        score = None
        if row.score_model_version is not None:
            score = ScoreSummary(**{name: getattr(row, f"score_{name}") for name in _SCORE})
        account = None
        if row.account_id is not None:
            account = AccountRef(row.account_id, row.account_domain, row.account_name)
        leads.append(
            LeadRow(
                id=row.id,
                **{name: getattr(row, name) for name in _PROFILE},
                account=account,
                identities=identities.get(row.id, []),
                score=score,
            )
        )
    return leads


def lead_by_id(connection: Connection, lead_id: int) -> LeadRow | None:
    """A lead with its account, identities and stored score, or None."""
    rows = connection.execute(_lead_select().where(t.leads.c.id == lead_id)).all()
    found = _lead_rows(connection, rows)
    return found[0] if found else None


def list_leads(
    connection: Connection, filters: LeadFilters, *, limit: int, after: int | None = None
) -> Page[LeadRow]:
    """Leads matching the filters, by ascending id, starting after lead id ``after``."""
    query = _lead_select().where(*_lead_conditions(filters))
    if after is not None:
        query = query.where(t.leads.c.id > after)
    rows = connection.execute(query.order_by(t.leads.c.id).limit(limit + 1)).all()
    return Page(_lead_rows(connection, rows[:limit]), len(rows) > limit)


def merged_into(connection: Connection, lead_id: int) -> int | None:
    """The surviving lead a merged lead id now points at, or None when it was never merged."""
    return connection.execute(
        select(t.lead_merges.c.into_id).where(t.lead_merges.c.merged_id == lead_id)
    ).scalar_one_or_none()


def lead_exists(connection: Connection, lead_id: int) -> bool:
    return (
        connection.execute(select(t.leads.c.id).where(t.leads.c.id == lead_id)).first() is not None
    )


def lead_touchpoints(
    connection: Connection,
    lead_id: int,
    *,
    limit: int,
    before: tuple[datetime, int] | None = None,
    name: str | None = None,
) -> Page[TouchpointRow]:
    """A lead's touchpoints, newest first (ties by id), starting below ``before``."""
    tp = t.touchpoints
    query = select(
        tp.c.id,
        tp.c.message_id,
        tp.c.name,
        tp.c.original_name,
        tp.c.occurred_at,
        tp.c.received_at,
        tp.c.properties,
    ).where(tp.c.lead_id == lead_id)
    if name is not None:
        query = query.where(tp.c.name == name)
    if before is not None:
        at, last_id = before
        query = query.where(
            or_(tp.c.occurred_at < at, and_(tp.c.occurred_at == at, tp.c.id < last_id))
        )
    rows = connection.execute(
        query.order_by(tp.c.occurred_at.desc(), tp.c.id.desc()).limit(limit + 1)
    ).all()
    return Page([TouchpointRow(**row._asdict()) for row in rows[:limit]], len(rows) > limit)


def account_by_id(connection: Connection, account_id: int) -> AccountRow | None:
    row = connection.execute(select(t.accounts).where(t.accounts.c.id == account_id)).first()
    return None if row is None else AccountRow(**row._asdict())


def list_accounts(
    connection: Connection,
    *,
    limit: int,
    after: int | None = None,
    domain: str | None = None,
    industry: str | None = None,
) -> Page[AccountRow]:
    """Accounts by ascending id after ``after``; ``industry`` matches ignoring case."""
    a = t.accounts
    query = select(a)
    if domain is not None:
        query = query.where(a.c.domain == domain)
    if industry is not None:
        query = query.where(func.lower(a.c.industry) == func.lower(industry))
    if after is not None:
        query = query.where(a.c.id > after)
    rows = connection.execute(query.order_by(a.c.id).limit(limit + 1)).all()
    return Page([AccountRow(**row._asdict()) for row in rows[:limit]], len(rows) > limit)
