"""Score listings: leads ranked by their stored current score."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from leadgate.adapters.db import tables as t


@dataclass(frozen=True, slots=True)
class ScoreRow:
    lead_id: int
    email: str | None
    account: str | None
    stage: str
    fit: float
    engagement: float
    total: float
    grade: str | None
    model_version: int
    scored_at: datetime


def ranked_scores(
    connection: Connection,
    *,
    lead_id: int | None = None,
    stage: str | None = None,
    limit: int = 20,
    offset: int = 0,
) -> list[ScoreRow]:
    """Leads with a stored score, highest total first (ties by lead id), paginated."""
    s, lead, account = t.scores, t.leads, t.accounts
    query = (
        select(
            s.c.lead_id,
            lead.c.email,
            account.c.domain.label("account"),
            lead.c.stage,
            s.c.fit,
            s.c.engagement,
            s.c.total,
            s.c.grade,
            s.c.model_version,
            s.c.scored_at,
        )
        .join(lead, lead.c.id == s.c.lead_id)
        .outerjoin(account, account.c.id == lead.c.account_id)
        .order_by(s.c.total.desc(), s.c.lead_id)
        .limit(limit)
        .offset(offset)
    )
    if lead_id is not None:
        query = query.where(s.c.lead_id == lead_id)
    if stage is not None:
        query = query.where(lead.c.stage == stage)
    return [ScoreRow(**row._asdict()) for row in connection.execute(query)]
