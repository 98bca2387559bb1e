"""Multi-touch attribution of SQLs, opportunities and won deals to channels and campaigns.

Definitions (docs/analytics.md, "Attribution"):

* A **conversion** is a lead's first entry into ``sql``, ``opportunity`` or ``customer``
  (won) that falls in the period; one per lead and stage.
* Its **touches** are the lead's attributable touchpoints (``ChannelRules.excluded`` left
  out) at or before the conversion, optionally only those within ``lookback_days`` of it,
  ordered by time then id: touch 1 is the first, touch n the last.
* Each model gives every touch a share; the shares of one conversion sum to 1:

  - ``first_touch``: all to touch 1; ``last_touch``: all to touch n;
  - ``linear``: 1/n each;
  - ``u_shaped``: 40% first, 40% last, 20% shared by the touches between;
  - ``w_shaped``: 30% first, 30% the **MQL touch** (the last touch at or before the lead's
    latest MQL entry before the conversion), 30% last, 10% shared by the others;
  - ``time_decay``: weight 2^(−age/half-life), age = days from touch to conversion.
    Weights are computed relative to the conversion's newest touch (the same shares:
    the common factor cancels), so a short half-life never makes them all underflow.

  Roles add up when one touch plays several (a one-touch conversion's touch is first,
  last and MQL touch). When some share has no touch to go to (no touches between first and
  last; n = 1 or 2), the shares given out are scaled to sum to 1: with two touches U-shaped
  is 50/50; with one touch every model gives it 100%. A lead that was never an MQL before
  converting (skipped to SQL) has no MQL touch: W-shaped is then U-shaped.
* A conversion with no touches is credited whole to the channel None ("no touches").
* **Amount**: for an opportunity, the ``amount`` of the lead's latest ``opportunity``
  outcome recorded at or before it (its pipeline); for a won deal, the ``amount`` of the
  ``won`` outcome if it carries one, else of the latest ``opportunity`` outcome (the won
  revenue). A touch's amount credit is its share × the conversion's amount. SQLs have no
  amount.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Float, and_, case, cast, func, literal, select, union_all
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import CTE, Subquery

from leadgate.adapters.db import tables as t
from leadgate.analytics.channels import ChannelRules
from leadgate.analytics.dimensions import group_order
from leadgate.analytics.entries import first_entries
from leadgate.analytics.output import Table
from leadgate.analytics.periods import Period
from leadgate.analytics.sql import (
    DAY_SECONDS,
    ensure_math,
    half_life_weight,
    json_number,
    materialized_cte,
    seconds_between,
    tuned_for_reads,
)
from leadgate.domain.lifecycle import Stage

ATTRIBUTED_STAGES = (Stage.SQL, Stage.OPPORTUNITY, Stage.CUSTOMER)


class AttributionModel(StrEnum):
    FIRST_TOUCH = "first_touch"
    LAST_TOUCH = "last_touch"
    LINEAR = "linear"
    U_SHAPED = "u_shaped"
    W_SHAPED = "w_shaped"
    TIME_DECAY = "time_decay"


class AttributionBy(StrEnum):
    CHANNEL = "channel"
    CAMPAIGN = "campaign"  # rows per (channel, campaign): one name may run on two channels


@dataclass(frozen=True, slots=True)
class AttributionOptions:
    """``half_life_days`` of the time-decay model (7 days: a touch a week before the
    conversion counts half as much as one on the day); ``lookback_days`` ignores older
    touches (None: the lead's whole history); ``rules`` map touches to channels.

    >>> AttributionOptions(half_life_days=14).lookback_days is None
    True
    """

    half_life_days: float = 7.0
    lookback_days: float | None = None
    rules: ChannelRules = field(default_factory=ChannelRules)

    def __post_init__(self) -> None:
        if not self.half_life_days > 0:
            raise ValueError(f"half_life_days must be positive (got {self.half_life_days})")
        if self.lookback_days is not None and self.lookback_days < 0:
            raise ValueError(f"lookback_days must not be negative (got {self.lookback_days})")


@dataclass(frozen=True, slots=True)
class StageConversions:
    """The conversions into one stage in the period: how many, how many had touches,
    how many carry an amount and the sum of those amounts."""

    stage: Stage
    conversions: int
    touched: int
    with_amount: int
    amount: float


@dataclass(frozen=True, slots=True)
class Credit:
    """The credit one channel (and campaign) earned for one stage, per model: in
    conversions (``credits``) and in amount (``amounts``; 0 for SQLs)."""

    stage: Stage
    channel: str | None
    campaign: str | None
    credits: Mapping[AttributionModel, float]
    amounts: Mapping[AttributionModel, float]


@dataclass(frozen=True, slots=True)
class AttributionReport:
    period: Period
    by: AttributionBy
    options: AttributionOptions
    models: tuple[AttributionModel, ...]
    conversions: tuple[StageConversions, ...]
    credits: tuple[Credit, ...]

    def credit(
        self, stage: Stage, channel: str | None, campaign: str | None = None
    ) -> Credit | None:
        return next(
            (
                c
                for c in self.credits
                if c.stage is stage and c.channel == channel and c.campaign == campaign
            ),
            None,
        )

    def tables(self) -> tuple[Table, ...]:
        keys = ("stage", "channel") + (("campaign",) if self.by is AttributionBy.CAMPAIGN else ())
        names = tuple(m.value for m in self.models)

        def key(c: Credit) -> tuple[Any, ...]:
            return (c.stage, c.channel) + (
                (c.campaign,) if self.by is AttributionBy.CAMPAIGN else ()
            )

        with_amounts = [c for c in self.credits if c.stage is not Stage.SQL]
        return (
            Table.of(
                "conversions",
                ("stage", "conversions", "touched", "with_amount", "amount"),
                (
                    (s.stage, s.conversions, s.touched, s.with_amount, round(s.amount, 2))
                    for s in self.conversions
                ),
            ),
            Table.of(
                "credits",
                (*keys, *names),
                ((*key(c), *(round(c.credits[m], 4) for m in self.models)) for c in self.credits),
            ),
            Table.of(
                "amounts",
                (*keys, *names),
                ((*key(c), *(round(c.amounts[m], 2) for m in self.models)) for c in with_amounts),
            ),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "period": self.period.to_json(),
            "by": self.by.value,
            "half_life_days": self.options.half_life_days,
            "lookback_days": self.options.lookback_days,
            **{table.name: table.to_json() for table in self.tables()},
        }


def _conversions(connection: Connection, period: Period, options: AttributionOptions) -> CTE:
    """One row per conversion: ``conv_id`` (its transition), ``lead_id``, ``stage``, ``at``,
    ``mql_at`` (latest MQL entry at or before it), ``origin_id`` (the lead's first
    attributable touchpoint), ``newest_at`` (its latest attributable touch at or before
    the conversion) and ``amount``.

    A materialized CTE: inlined, SQLite evaluated the per-conversion lookups once per
    joined touchpoint row (20 times as often at 20 touches per lead).
    """
    parts = []
    for stage in ATTRIBUTED_STAGES:
        entries = first_entries(period, stage).subquery()
        parts.append(
            select(
                entries.c.entry_id.label("conv_id"),
                entries.c.lead_id,
                literal(stage.value).label("stage"),
                entries.c.at,
            )
        )
    conv = union_all(*parts).subquery("conv")
    tr = aliased(t.transitions)
    mql_at = (
        select(func.max(tr.c.occurred_at))
        .where(tr.c.lead_id == conv.c.lead_id, tr.c.to_stage == Stage.MQL.value)
        .where(tr.c.occurred_at <= conv.c.at)
        .scalar_subquery()
    )
    tp = aliased(t.touchpoints)
    origin = (
        select(tp.c.id)
        .where(tp.c.lead_id == conv.c.lead_id, tp.c.name.not_in(sorted(options.rules.excluded)))
        .order_by(tp.c.occurred_at, tp.c.id)
        .limit(1)
        .scalar_subquery()
    )
    newest = aliased(t.touchpoints)
    newest_at = (
        select(func.max(newest.c.occurred_at))
        .where(
            newest.c.lead_id == conv.c.lead_id,
            newest.c.occurred_at <= conv.c.at,
            newest.c.name.not_in(sorted(options.rules.excluded)),
        )
        .scalar_subquery()
    )

    def amount_of(kind: str) -> ColumnElement[float]:
        o = aliased(t.outcomes)
        value = json_number(connection, o.c.details, "amount")
        return (
            select(value)
            .where(
                o.c.lead_id == conv.c.lead_id,
                o.c.kind == kind,
                o.c.occurred_at <= conv.c.at,
                value.is_not(None),
            )
            .order_by(o.c.occurred_at.desc(), o.c.id.desc())
            .limit(1)
            .scalar_subquery()
        )

    amount = case(
        (conv.c.stage == Stage.OPPORTUNITY.value, amount_of("opportunity")),
        (
            conv.c.stage == Stage.CUSTOMER.value,
            func.coalesce(amount_of("won"), amount_of("opportunity")),
        ),
        else_=None,
    )
    query = select(
        conv.c.conv_id,
        conv.c.lead_id,
        conv.c.stage,
        conv.c.at,
        mql_at.label("mql_at"),
        origin.label("origin_id"),
        newest_at.label("newest_at"),
        cast(amount, Float).label("amount"),
    )
    cte = query.cte("conversions")
    if materialized_cte(connection):
        cte = cte.prefix_with("MATERIALIZED")
    return cte


def _touch_condition(
    connection: Connection, conv: CTE, tp: Any, options: AttributionOptions
) -> ColumnElement[bool]:
    conditions = [
        tp.c.lead_id == conv.c.lead_id,
        tp.c.occurred_at <= conv.c.at,
        tp.c.name.not_in(sorted(options.rules.excluded)),
    ]
    if options.lookback_days is not None:
        conditions.append(
            seconds_between(connection, tp.c.occurred_at, conv.c.at)
            <= options.lookback_days * DAY_SECONDS
        )
    return and_(*conditions)


def _shares(touches: Subquery) -> dict[AttributionModel, ColumnElement[Any]]:
    """Each model's share of one touch row (columns k, n, m, decay, decay_sum)."""
    k, n, m = touches.c.k, touches.c.n, touches.c.m

    def when(condition: ColumnElement[bool], value: Any) -> ColumnElement[float]:
        return case((condition, value), else_=0.0)

    first, last = k == 1, k == n
    between = and_(k > 1, k < n)
    u_raw = when(first, 0.4) + when(last, 0.4) + when(between, 0.2 / func.nullif(n - 2, 0))
    u_shaped = u_raw / case((n >= 3, 1.0), else_=0.8)
    # Touches with a role: first, last (when n > 1) and the MQL touch (when apart).
    roles = 1 + when(and_(m != 1, m != n), 1) + when(n != 1, 1)
    others = n - roles
    is_other = and_(k != 1, k != n, k != m)
    w_raw = (
        when(first, 0.3)
        + when(k == m, 0.3)
        + when(last, 0.3)
        + when(and_(is_other, others > 0), 0.1 / func.nullif(others, 0))
    )
    w_shaped = case(
        (m.is_(None), u_shaped),
        else_=w_raw / (0.9 + when(others > 0, 0.1)),
    )
    shares: dict[AttributionModel, ColumnElement[Any]] = {
        AttributionModel.FIRST_TOUCH: when(first, 1.0),
        AttributionModel.LAST_TOUCH: when(last, 1.0),
        AttributionModel.LINEAR: 1.0 / cast(func.nullif(n, 0), Float),
        AttributionModel.U_SHAPED: u_shaped,
        AttributionModel.W_SHAPED: w_shaped,
        AttributionModel.TIME_DECAY: touches.c.decay / touches.c.decay_sum,
    }
    # A conversion without touches is one row with n = 0: it takes the whole credit.
    return {model: case((n == 0, 1.0), else_=share) for model, share in shares.items()}


def attribution_report(
    connection: Connection,
    period: Period,
    *,
    by: AttributionBy = AttributionBy.CHANNEL,
    options: AttributionOptions | None = None,
    models: tuple[AttributionModel, ...] = tuple(AttributionModel),
) -> AttributionReport:
    """Credit the period's SQLs, opportunities and won deals to channels (or channels and
    campaigns) under each attribution model; see the module docstring. Example::

        report = attribution_report(c, Period(q1_start, q2_start), by=AttributionBy.CHANNEL)
        report.credit(Stage.CUSTOMER, "paid_search").amounts[AttributionModel.W_SHAPED]

    For each stage and model the credits over all rows sum to the number of conversions.
    The work is one join of the period's conversions to their leads' touchpoints (index
    ``touchpoints(lead_id, occurred_at)``) with window functions over that join.
    """
    options = options or AttributionOptions()
    rules = options.rules
    ensure_math(connection)  # time decay needs exp()
    conv = _conversions(connection, period, options)
    tp, lead = t.touchpoints, t.leads

    # One pass: a LEFT JOIN keeps conversions without touches as one row with no touch.
    source = conv.outerjoin(tp, _touch_condition(connection, conv, tp, options))
    origin: list[ColumnElement[Any]] = []
    if rules.use_lead_source:
        source = source.join(lead, lead.c.id == conv.c.lead_id)
        from_source = and_(tp.c.id == conv.c.origin_id, lead.c.source_channel.is_not(None))
        origin = [
            case((from_source, 1), else_=0).label("from_source"),
            lead.c.source_channel,
            lead.c.source_campaign,
        ]
    order = (tp.c.occurred_at, tp.c.id)
    # Age from the newest touch, not the conversion: the shares are the same (the common
    # factor 2^(-gap/half-life) cancels), and the newest touch weighs 1, so a half-life
    # short beside the gap cannot turn every weight into 0 (SQLite) or an error (PostgreSQL).
    age_days = seconds_between(connection, tp.c.occurred_at, conv.c.newest_at) / DAY_SECONDS
    decay = half_life_weight(connection, age_days, options.half_life_days)
    part = conv.c.conv_id
    # Touches are ordered by time, so those at or before the MQL entry are the first m:
    # the MQL touch's rank is their count (None when there is none). One layer of window
    # functions over one partitioning (each layer costs SQLite a sort of every row), which
    # also reads each touch's JSON once; the channel is mapped from it in the next layer.
    before_mql = func.sum(case((tp.c.occurred_at <= conv.c.mql_at, 1), else_=0))
    touches = (
        select(
            conv.c.conv_id,
            conv.c.stage,
            conv.c.amount,
            tp.c.name,
            rules.medium(tp.c.properties).label("medium"),
            rules.tagged_campaign(tp.c.properties).label("tagged_campaign"),
            *origin,
            func.row_number().over(partition_by=part, order_by=order).label("k"),
            func.count(tp.c.id).over(partition_by=part).label("n"),
            func.nullif(before_mql.over(partition_by=part), 0).label("m"),
            decay.label("decay"),
            func.sum(decay).over(partition_by=part).label("decay_sum"),
        )
        .select_from(source)
        .subquery("touches")
    )
    from_origin = touches.c.from_source == 1 if origin else None
    untouched = touches.c.n == 0
    channel = case(
        (untouched, None),
        else_=rules.channel_of(
            touches.c.name,
            touches.c.medium,
            from_source=from_origin,
            source_channel=touches.c.source_channel if origin else None,
        ),
    )
    campaign = case(
        (untouched, None),
        else_=rules.campaign_of(
            touches.c.tagged_campaign,
            from_source=from_origin,
            source_campaign=touches.c.source_campaign if origin else None,
        ),
    )
    shares = _shares(touches)
    # Each share is computed once per row in its own layer; the conversion's own figures
    # are read from its first row (k = 1), which lies in exactly one group.
    head = touches.c.k == 1
    per_touch = select(
        touches.c.stage,
        channel.label("channel"),
        campaign.label("campaign"),
        touches.c.amount,
        case((head, 1), else_=0).label("head"),
        case((and_(head, touches.c.n > 0), 1), else_=0).label("touched"),
        *(shares[model].label(model.value) for model in AttributionModel),
    ).subquery("shares")
    keys = [per_touch.c.stage, per_touch.c.channel]
    if by is AttributionBy.CAMPAIGN:
        keys.append(per_touch.c.campaign)
    head_amount = case((per_touch.c.head == 1, per_touch.c.amount), else_=None)
    query = select(
        *keys,
        func.sum(per_touch.c.head),
        func.sum(per_touch.c.touched),
        func.count(head_amount),
        func.sum(head_amount),
        *(func.sum(per_touch.c[model.value]) for model in AttributionModel),
        *(func.sum(per_touch.c[model.value] * per_touch.c.amount) for model in AttributionModel),
    ).group_by(*keys)
    credits: dict[tuple[str, str | None, str | None], Credit] = {}
    totals: dict[str, list[float]] = {}
    width = len(AttributionModel)
    with tuned_for_reads(connection):
        rows = connection.execute(query).all()
    for row in rows:
        stage, chan = Stage(row[0]), row[1]
        camp = row[2] if by is AttributionBy.CAMPAIGN else None
        heads, touched_n, with_amount, amount_sum = row[len(keys) : len(keys) + 4]
        values = row[len(keys) + 4 :]
        total = totals.setdefault(stage.value, [0, 0, 0, 0.0])
        total[0] += int(heads or 0)
        total[1] += int(touched_n or 0)
        total[2] += int(with_amount or 0)
        total[3] += float(amount_sum or 0.0)
        credits[(stage.value, chan, camp)] = Credit(
            stage,
            chan,
            camp,
            {m: float(values[i] or 0.0) for i, m in enumerate(AttributionModel)},
            {m: float(values[width + i] or 0.0) for i, m in enumerate(AttributionModel)},
        )
    found = {
        name: StageConversions(Stage(name), int(c), int(tc), int(wa), float(a))
        for name, (c, tc, wa, a) in totals.items()
    }
    conversions = tuple(
        found.get(s.value, StageConversions(s, 0, 0, 0, 0.0)) for s in ATTRIBUTED_STAGES
    )
    stage_rank = {s.value: i for i, s in enumerate(ATTRIBUTED_STAGES)}
    ordered = sorted(
        credits.values(),
        key=lambda c: (
            stage_rank[c.stage.value],
            -c.credits[AttributionModel.LINEAR],
            group_order(c.channel),
            group_order(c.campaign),
        ),
    )
    return AttributionReport(period, by, options, models, conversions, tuple(ordered))
