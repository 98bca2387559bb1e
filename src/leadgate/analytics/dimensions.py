"""Breakdown dimensions: what ``--by`` may name, and the SQL that gives each row its group.

A report's base rows are events of a lead at a moment: a stage entry, a cohort entry, a
completed step. Each has ``lead_id``, ``at`` (when) and ``model_version`` (of the
transition, when there is one). A dimension reads the lead (source, persona, seniority,
owner), its account (industry, employees, region), the event (model version) or its time
(week, month of ``at``, in UTC).

Lead and account attributes are as stored now (a lead's owner today, the account's
current size), not as they were at the event: leadgate keeps no history of profiles.
Missing values group under None (shown as an empty cell).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, String, and_, case, cast
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import FromClause, Subquery

from leadgate.adapters.db import tables as t
from leadgate.analytics.sql import month_start, week_start


class Dimension(StrEnum):
    """What a report can be broken down by.

    >>> Dimension("employee_band").value
    'employee_band'
    """

    SOURCE_CHANNEL = "source_channel"  # leads.source_channel: channel of the first touch
    CAMPAIGN = "campaign"  # leads.source_campaign
    PERSONA = "persona"
    SENIORITY = "seniority"
    INDUSTRY = "industry"  # accounts.industry
    EMPLOYEE_BAND = "employee_band"  # accounts.employees, in EMPLOYEE_BANDS
    REGION = "region"  # accounts.region
    OWNER = "owner"  # leads.owner (the rep who owns the lead now)
    MODEL_VERSION = "model_version"  # the scoring model version on the transition
    WEEK = "week"  # Monday (UTC) of the week of the event, YYYY-MM-DD
    MONTH = "month"  # first day (UTC) of the month of the event, YYYY-MM-DD


# (label, lowest, highest) employee counts; the usual LinkedIn/Salesforce size bands.
EMPLOYEE_BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("1-10", 1, 10),
    ("11-50", 11, 50),
    ("51-200", 51, 200),
    ("201-1000", 201, 1000),
    ("1001-5000", 1001, 5000),
    ("5001+", 5001, None),
)

_LEAD_FIELDS = {
    Dimension.SOURCE_CHANNEL: "source_channel",
    Dimension.CAMPAIGN: "source_campaign",
    Dimension.PERSONA: "persona",
    Dimension.SENIORITY: "seniority",
    Dimension.OWNER: "owner",
}
_ACCOUNT_FIELDS = {Dimension.INDUSTRY: "industry", Dimension.REGION: "region"}


def employee_band(employees: int | None) -> str | None:
    """The band label of a head count (None for unknown or below 1).

    >>> employee_band(7), employee_band(51), employee_band(1000), employee_band(20_000)
    ('1-10', '51-200', '201-1000', '5001+')
    """
    if employees is None:
        return None
    for label, low, high in EMPLOYEE_BANDS:
        if employees >= low and (high is None or employees <= high):
            return label
    return None


def _band(employees: ColumnElement[Any]) -> ColumnElement[str]:
    whens = [
        (
            employees >= low if high is None else and_(employees >= low, employees <= high),
            label,
        )
        for label, low, high in EMPLOYEE_BANDS
    ]
    return case(*whens, else_=None)


def grouped(
    connection: Connection, base: Subquery, by: Dimension | None
) -> tuple[FromClause, ColumnElement[str] | None]:
    """Given base rows (``lead_id``, ``at``, ``model_version`` columns) and a dimension,
    return the FROM clause to select from and the group key expression (None: no
    breakdown). Leads and accounts are joined only when the dimension needs them.

    Example: ``source, key = grouped(c, entries, Dimension.INDUSTRY)`` then
    ``select(key, func.count()).select_from(source).group_by(key)``.
    """
    if by is None:
        return base, None
    lead, account = t.leads, t.accounts
    if by in _LEAD_FIELDS:
        source = base.join(lead, lead.c.id == base.c.lead_id)
        return source, lead.c[_LEAD_FIELDS[by]]
    if by in _ACCOUNT_FIELDS or by is Dimension.EMPLOYEE_BAND:
        source = base.join(lead, lead.c.id == base.c.lead_id).outerjoin(
            account, account.c.id == lead.c.account_id
        )
        if by is Dimension.EMPLOYEE_BAND:
            return source, _band(account.c.employees)
        return source, account.c[_ACCOUNT_FIELDS[by]]
    if by is Dimension.MODEL_VERSION:
        return base, cast(base.c.model_version, String)
    if by is Dimension.WEEK:
        return base, week_start(connection, base.c.at)
    return base, month_start(connection, base.c.at)


def group_order(key: str | None) -> tuple[bool, int, str]:
    """Sort key for group labels: by the number they start with (model versions,
    employee bands, weeks and months, which are YYYY-MM-DD), then as text; None last.

    >>> sorted(["10", "9", None, "2"], key=group_order)
    ['2', '9', '10', None]
    >>> sorted(["5001+", "11-50", "1-10", "1001-5000"], key=group_order)
    ['1-10', '11-50', '1001-5000', '5001+']
    """
    if key is None:
        return (True, 0, "")
    digits = re.match(r"\d+", key)
    return (False, int(digits.group()) if digits else -1, key)
