"""Accounts ranked by the engagement of their people: the buying group, and its intent.

Definitions (docs/analytics.md, "Accounts"):

* **engagement** of an account: the sum of its leads' engagement scores as last stored
  (each lead's score is recomputed whenever it is touched or rescored; decay since then
  is not applied);
* **contacts**: its leads; **engaged contacts** (the buying group): leads whose stored
  engagement is at least ``engaged_min`` points;
* **touches**: touchpoints of its leads in the period;
* **intent topics**: the ``topic`` of its leads' ``intent_surge`` touchpoints in the
  period, with how many surges and the highest ``score``, strongest first.

Accounts are ranked by engagement, then engaged contacts, then id; leads without an
account (free-mail addresses) are in no account.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, case, func, select

from leadgate.adapters.db import tables as t
from leadgate.analytics.output import Table
from leadgate.analytics.periods import Period
from leadgate.analytics.sql import json_number, json_text


@dataclass(frozen=True, slots=True)
class IntentTopic:
    topic: str
    surges: int
    max_score: float | None


@dataclass(frozen=True, slots=True)
class AccountEngagement:
    account_id: int
    domain: str
    name: str | None
    industry: str | None
    employees: int | None
    region: str | None
    engagement: float
    contacts: int
    engaged_contacts: int
    touches: int
    intent: tuple[IntentTopic, ...]


@dataclass(frozen=True, slots=True)
class AccountReport:
    period: Period
    engaged_min: float
    accounts: tuple[AccountEngagement, ...]

    def tables(self) -> tuple[Table, ...]:
        def topics(a: AccountEngagement) -> str:
            return "; ".join(
                f"{i.topic} ({i.surges}×, max {i.max_score:g})"
                if i.max_score is not None
                else f"{i.topic} ({i.surges}×)"
                for i in a.intent
            )

        return (
            Table.of(
                "accounts",
                (
                    "rank",
                    "domain",
                    "name",
                    "industry",
                    "employees",
                    "region",
                    "engagement",
                    "contacts",
                    "engaged_contacts",
                    "touches",
                    "intent_topics",
                ),
                (
                    (
                        rank,
                        a.domain,
                        a.name,
                        a.industry,
                        a.employees,
                        a.region,
                        round(a.engagement, 2),
                        a.contacts,
                        a.engaged_contacts,
                        a.touches,
                        topics(a),
                    )
                    for rank, a in enumerate(self.accounts, start=1)
                ),
            ),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "period": self.period.to_json(),
            "engaged_min": self.engaged_min,
            "accounts": [
                {
                    "rank": rank,
                    "account_id": a.account_id,
                    "domain": a.domain,
                    "name": a.name,
                    "industry": a.industry,
                    "employees": a.employees,
                    "region": a.region,
                    "engagement": round(a.engagement, 4),
                    "contacts": a.contacts,
                    "engaged_contacts": a.engaged_contacts,
                    "touches": a.touches,
                    "intent_topics": [
                        {"topic": i.topic, "surges": i.surges, "max_score": i.max_score}
                        for i in a.intent
                    ],
                }
                for rank, a in enumerate(self.accounts, start=1)
            ],
        }


def account_report(
    connection: Connection, period: Period, *, limit: int = 25, engaged_min: float = 10.0
) -> AccountReport:
    """The ``limit`` accounts with the most combined engagement, with their buying group,
    touches and intent topics in the period. Example::

        report = account_report(c, Period.last_days(30, now=now), limit=10)
        report.accounts[0].domain, report.accounts[0].engaged_contacts
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1 (got {limit})")
    lead, score = t.leads, t.scores
    engagement = func.coalesce(func.sum(score.c.engagement), 0.0)
    engaged = func.coalesce(func.sum(case((score.c.engagement >= engaged_min, 1), else_=0)), 0)
    ranked = (
        select(lead.c.account_id, engagement, func.count(lead.c.id), engaged)
        .select_from(lead.outerjoin(score, score.c.lead_id == lead.c.id))
        .where(lead.c.account_id.is_not(None))
        .group_by(lead.c.account_id)
        .order_by(engagement.desc(), engaged.desc(), lead.c.account_id)
        .limit(limit)
    )
    top = [(int(a), float(e), int(n), int(g)) for a, e, n, g in connection.execute(ranked)]
    if not top:
        return AccountReport(period, engaged_min, ())
    ids = [a for a, _, _, _ in top]
    a = t.accounts
    profiles = {
        row.id: row
        for row in connection.execute(
            select(a.c.id, a.c.domain, a.c.name, a.c.industry, a.c.employees, a.c.region).where(
                a.c.id.in_(ids)
            )
        )
    }
    tp = t.touchpoints
    in_period = (tp.c.occurred_at >= period.start, tp.c.occurred_at < period.end)
    joined = tp.join(lead, lead.c.id == tp.c.lead_id)
    touches: dict[int, int] = dict(
        connection.execute(
            select(lead.c.account_id, func.count())
            .select_from(joined)
            .where(lead.c.account_id.in_(ids), *in_period)
            .group_by(lead.c.account_id)
        ).all()
    )
    topic = json_text(tp.c.properties, "topic")
    intent: dict[int, list[IntentTopic]] = defaultdict(list)
    for account_id, name, surges, best in connection.execute(
        select(
            lead.c.account_id,
            topic,
            func.count(),
            func.max(json_number(connection, tp.c.properties, "score")),
        )
        .select_from(joined)
        .where(lead.c.account_id.in_(ids), tp.c.name == "intent_surge", *in_period)
        .where(topic.is_not(None))
        .group_by(lead.c.account_id, topic)
    ):
        intent[account_id].append(
            IntentTopic(str(name), int(surges), None if best is None else float(best))
        )
    accounts = []
    for account_id, total, contacts, engaged_n in top:
        profile = profiles[account_id]
        topics = sorted(
            intent.get(account_id, []),
            key=lambda i: (-(i.max_score if i.max_score is not None else float("-inf")), i.topic),
        )
        accounts.append(
            AccountEngagement(
                account_id,
                profile.domain,
                profile.name,
                profile.industry,
                profile.employees,
                profile.region,
                total,
                contacts,
                engaged_n,
                int(touches.get(account_id, 0)),
                tuple(topics),
            )
        )
    return AccountReport(period, engaged_min, tuple(accounts))
