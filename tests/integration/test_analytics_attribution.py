"""Attribution against a plain-Python recount, and hand-computed shares for small journeys.

The recount walks the rows of ``Log``: conversions are first entries, touches the lead's
touchpoints up to the conversion, channels by the rules of docs/analytics.md (its own copy
of the mapping for what the demo data sends), shares by each model's definition.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from leadgate.adapters.db.unit_of_work import SqlUnitOfWork
from leadgate.analytics.attribution import (
    AttributionBy,
    AttributionModel,
    AttributionOptions,
    AttributionReport,
    attribution_report,
)
from leadgate.analytics.channels import ChannelRules
from leadgate.analytics.periods import Period
from leadgate.domain.lifecycle import ActorType, Stage
from leadgate.services.commands import ChangeStage, LeadIn
from leadgate.services.feedback import Feedback, record_feedback
from leadgate.services.ingest import ingest_touchpoints
from leadgate.services.lifecycle import change_stage
from leadgate.services.profiles import upsert_leads
from tests.integration.helpers import touch
from tests.integration.test_analytics_data import Log, Workspace, ws
from tests.integration.test_analytics_funnel import periods

__all__ = ["ws"]

M = AttributionModel
STAGES = (Stage.SQL, Stage.OPPORTUNITY, Stage.CUSTOMER)
EXCLUDED = {
    "intent_surge",
    "email_unsubscribe",
    "email_open",
    "product_active_day",
    "sales_call",
    "sales_email",
    "meeting_booked",
    "sales_reply",
}
MEDIUMS = {"cpc": "paid_search", "paid_social": "paid_social"}  # what the demo sends
NAMES = {
    "email_click": "email",
    "email_open": "email",
    "event_attended": "events",
    "webinar_registered": "webinar",
    "webinar_attended": "webinar",
    "ad_click": "paid",
}


# --------------------------------------------------------------------- reference


def shares(n: int, m: int | None, ages: list[float], half_life: float) -> dict[M, list[float]]:
    """Each model's shares of touches 1..n (m: the MQL touch, 1-based, or None)."""

    def normalized(raw: list[float]) -> list[float]:
        total = sum(raw)
        return [r / total for r in raw]

    def positional(roles: dict[int, float], rest: float) -> list[float]:
        raw = [0.0] * n
        for k, weight in roles.items():
            raw[k - 1] += weight
        others = [i for i in range(1, n + 1) if i not in roles]
        for i in others:
            raw[i - 1] += rest / len(others)
        return normalized(raw)

    def roles(*pairs: tuple[int, float]) -> dict[int, float]:
        found: dict[int, float] = defaultdict(float)
        for k, weight in pairs:
            found[k] += weight
        return found

    u = positional(roles((1, 0.4), (n, 0.4)), 0.2)
    w = u if m is None else positional(roles((1, 0.3), (m, 0.3), (n, 0.3)), 0.1)
    return {
        M.FIRST_TOUCH: [1.0 if k == 1 else 0.0 for k in range(1, n + 1)],
        M.LAST_TOUCH: [1.0 if k == n else 0.0 for k in range(1, n + 1)],
        M.LINEAR: [1.0 / n] * n,
        M.U_SHAPED: u,
        M.W_SHAPED: w,
        # Relative to the newest touch: the same shares, and computable for any half-life.
        M.TIME_DECAY: normalized([0.5 ** ((age - min(ages)) / half_life) for age in ages]),
    }


def amount(log: Log, lead_id: int, stage: Stage, at: datetime) -> float | None:
    def latest(kind: str) -> float | None:
        found = None
        for o in log.outcomes:  # in time order
            value = o.details.get("amount")
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            if o.lead_id == lead_id and o.kind == kind and o.occurred_at <= at and numeric:
                found = float(value)
        return found

    if stage is Stage.OPPORTUNITY:
        return latest("opportunity")
    if stage is Stage.CUSTOMER:
        won = latest("won")
        return won if won is not None else latest("opportunity")
    return None


def expected(
    log: Log,
    period: Period,
    by_campaign: bool,
    half_life: float = 7.0,
    lookback: float | None = None,
) -> tuple[dict[tuple[Any, ...], dict[M, float]], dict[tuple[Any, ...], dict[M, float]]]:
    credits: dict[tuple[Any, ...], dict[M, float]] = defaultdict(lambda: dict.fromkeys(M, 0.0))
    amounts: dict[tuple[Any, ...], dict[M, float]] = defaultdict(lambda: dict.fromkeys(M, 0.0))
    for stage in STAGES:
        for lead_id, lead in log.leads.items():
            first = log.first_entry(lead_id, stage)
            if first is None or not period.contains(first[0]):
                continue
            at = first[0]
            history = [tp for tp in log.touchpoints.get(lead_id, []) if tp.name not in EXCLUDED]
            origin = history[0].id if history else None
            touches = [
                tp
                for tp in history
                if tp.occurred_at <= at
                and (lookback is None or at - tp.occurred_at <= timedelta(days=lookback))
            ]
            value = amount(log, lead_id, stage, at)
            if not touches:
                key: tuple[Any, ...] = (stage, None, None) if by_campaign else (stage, None)
                for model in M:
                    credits[key][model] += 1.0
                    amounts[key][model] += value or 0.0
                continue
            mqls = [e for e, _, _ in log.entries(lead_id, Stage.MQL) if e <= at]
            m = None
            if mqls:
                before = [k for k, tp in enumerate(touches, 1) if tp.occurred_at <= max(mqls)]
                m = before[-1] if before else None
            ages = [(at - tp.occurred_at) / timedelta(days=1) for tp in touches]
            given = shares(len(touches), m, ages, half_life)
            for index, tp in enumerate(touches):
                props = tp.properties
                utm = props.get("utm") if isinstance(props.get("utm"), dict) else {}
                if tp.id == origin and lead.source_channel is not None:
                    channel, campaign = lead.source_channel, lead.source_campaign
                else:
                    medium = utm.get("medium")
                    if medium is not None and str(medium).lower() != "":
                        channel = MEDIUMS.get(str(medium).lower(), str(medium).lower())
                    else:
                        channel = NAMES.get(tp.name, "direct")
                    campaign = utm.get("campaign") or props.get("campaign")
                key = (stage, channel, campaign) if by_campaign else (stage, channel)
                for model in M:
                    credits[key][model] += given[model][index]
                    amounts[key][model] += given[model][index] * (value or 0.0)
    return dict(credits), dict(amounts)


def reported(
    report: AttributionReport, by_campaign: bool
) -> tuple[dict[tuple[Any, ...], dict[M, float]], dict[tuple[Any, ...], dict[M, float]]]:
    def key(c: Any) -> tuple[Any, ...]:
        return (c.stage, c.channel, c.campaign) if by_campaign else (c.stage, c.channel)

    return (
        {key(c): dict(c.credits) for c in report.credits},
        {key(c): dict(c.amounts) for c in report.credits},
    )


def assert_close(
    got: dict[tuple[Any, ...], dict[M, float]], want: dict[tuple[Any, ...], dict[M, float]]
) -> None:
    assert set(got) == set(want)
    for key, values in want.items():
        for model, value in values.items():
            assert got[key][model] == pytest.approx(value, rel=1e-9, abs=1e-6), (key, model)


# --------------------------------------------------------------------- workspace


@pytest.mark.parametrize("by", list(AttributionBy))
def test_credits_and_amounts_match_the_recount(ws: Workspace, by: AttributionBy) -> None:
    campaign = by is AttributionBy.CAMPAIGN
    with ws.engine.connect() as c:
        for period in periods(ws):
            report = attribution_report(c, period, by=by)
            want_credits, want_amounts = expected(ws.log, period, campaign)
            got_credits, got_amounts = reported(report, campaign)
            assert_close(got_credits, want_credits)
            assert_close(got_amounts, want_amounts)


def test_look_back_and_half_life_options(ws: Workspace) -> None:
    options = AttributionOptions(half_life_days=3, lookback_days=10)
    period = periods(ws)[0]
    with ws.engine.connect() as c:
        report = attribution_report(c, period, options=options)
    want_credits, want_amounts = expected(ws.log, period, False, half_life=3, lookback=10)
    got_credits, got_amounts = reported(report, False)
    assert_close(got_credits, want_credits)
    assert_close(got_amounts, want_amounts)
    # A ten-day look-back leaves some conversions without touches.
    assert any(key[1] is None for key in got_credits)


def test_a_half_life_of_seconds_still_hands_out_every_credit(ws: Workspace) -> None:
    # 2^(-age/half-life) of a touch days old with a 9-second half-life is below what a
    # double holds: weighed from the conversion, every weight would be 0 (SQLite) or an
    # error (PostgreSQL). Weighed from the newest touch, nearly all goes to it.
    options = AttributionOptions(half_life_days=0.0001)
    period = periods(ws)[0]
    with ws.engine.connect() as c:
        report = attribution_report(c, period, options=options)
    want_credits, _ = expected(ws.log, period, False, half_life=0.0001)
    got_credits, _ = reported(report, False)
    assert_close(got_credits, want_credits)
    for summary in report.conversions:
        rows = [r for r in report.credits if r.stage is summary.stage]
        assert sum(r.credits[M.TIME_DECAY] for r in rows) == pytest.approx(summary.conversions)


def test_each_conversion_hands_out_exactly_one_credit(ws: Workspace) -> None:
    with ws.engine.connect() as c:
        report = attribution_report(c, periods(ws)[0])
    assert all(s.conversions > 0 for s in report.conversions)
    won = next(s for s in report.conversions if s.stage is Stage.CUSTOMER)
    assert won.with_amount > 0 and won.amount > 0
    for summary in report.conversions:
        rows = [r for r in report.credits if r.stage is summary.stage]
        for model in M:
            assert sum(r.credits[model] for r in rows) == pytest.approx(summary.conversions)
            assert sum(r.amounts[model] for r in rows) == pytest.approx(summary.amount)
    tables = {t.name: t for t in report.tables()}
    assert tables["credits"].columns == ("stage", "channel", *(m.value for m in M))
    assert {row[0] for row in tables["amounts"].rows} <= {"opportunity", "customer"}


def test_an_empty_period_has_no_conversions(ws: Workspace) -> None:
    far = datetime(2031, 1, 1, tzinfo=UTC)
    with ws.engine.connect() as c:
        report = attribution_report(c, Period(far, far + timedelta(days=7)))
    assert report.credits == ()
    assert [(s.conversions, s.amount) for s in report.conversions] == [(0, 0.0)] * 3


# --------------------------------------------------------------------- hand-made

AT = datetime(2026, 3, 20, 12, tzinfo=UTC)
DAY = timedelta(days=1)
MARCH = Period(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))


class Journeys:
    """Leads with a few touches each, moved by hand at exact times (no fit: no gate fires)."""

    def __init__(self, uow: Callable[[], SqlUnitOfWork]) -> None:
        self.uow = uow
        self.count = 0

    def lead(self, source: str | None = None, campaign: str | None = None) -> tuple[int, str]:
        self.count += 1
        email = f"j{self.count}@gmail.com"
        lead = LeadIn(email=email, source_channel=source, source_campaign=campaign)
        return upsert_leads(self.uow(), [lead], now=AT - 60 * DAY).ids[0], email

    def touches(self, email: str, *items: tuple[str, float, dict[str, Any]]) -> None:
        batch = [
            touch(f"{email}-{i}", name, AT - days_before * DAY, email=email, **props)
            for i, (name, days_before, props) in enumerate(items)
        ]
        ingest_touchpoints(self.uow(), batch, now=AT - 59 * DAY)

    def move(self, lead_id: int, stage: Stage, days_before: float) -> None:
        at = AT - days_before * DAY
        command = ChangeStage(lead_id, stage, "t", "rep", ActorType.USER, at=at)
        change_stage(self.uow(), command, now=at)


def _credits(
    report: AttributionReport, stage: Stage = Stage.SQL
) -> dict[str | None, dict[M, float]]:
    return {
        c.channel: {m: round(v, 6) for m, v in c.credits.items()}
        for c in report.credits
        if c.stage is stage
    }


def ad(campaign: str) -> dict[str, Any]:
    return {"utm": {"source": "google", "medium": "CPC", "campaign": campaign}}


def test_one_two_three_and_four_touches(
    uow_factory: Callable[[], SqlUnitOfWork], default_model: int, engine: Engine
) -> None:
    j = Journeys(uow_factory)
    # One touch: every model gives it all.
    one, email = j.lead()
    j.touches(email, ("ad_click", 3, ad("brand")))
    j.move(one, Stage.SQL, 0)
    with engine.connect() as c:
        report = attribution_report(c, MARCH, by=AttributionBy.CAMPAIGN)
    single = report.credit(Stage.SQL, "paid_search", "brand")
    assert single is not None
    assert {m: round(v, 9) for m, v in single.credits.items()} == dict.fromkeys(M, 1.0)

    # Two touches, MQL after the first: U 50/50, W 2/3 (first + MQL touch) and 1/3.
    two, email = j.lead()
    j.touches(email, ("event_attended", 10, {}), ("webinar_attended", 2, {}))
    j.move(two, Stage.MQL, 5)
    j.move(two, Stage.SQL, 0)
    # Three touches, MQL after the first: W 60 / 10 / 30.
    three, email = j.lead()
    j.touches(email, ("form_submit", 9, {}), ("email_click", 6, {}), ("content_download", 1, {}))
    j.move(three, Stage.MQL, 8)
    j.move(three, Stage.SQL, 0)
    with engine.connect() as c:
        both = _credits(attribution_report(c, MARCH))
    u2 = {"events": 0.5, "webinar": 0.5}
    assert {k: both[k][M.U_SHAPED] for k in u2} == u2
    assert both["events"][M.W_SHAPED] == round(2 / 3, 6)
    assert both["webinar"][M.W_SHAPED] == round(1 / 3, 6)
    assert both["direct"][M.W_SHAPED] == round(0.6 + 0.3, 6)  # form and download: direct
    assert both["email"][M.W_SHAPED] == 0.1
    assert both["email"][M.U_SHAPED] == 0.2 and both["direct"][M.U_SHAPED] == 0.8

    # Four touches, MQL after the second: W 30 / 30 / 10 / 30; no MQL at all: W is U.
    four, email = j.lead()
    j.touches(
        email,
        ("ad_click", 20, ad("a")),
        ("ad_click", 15, ad("b")),
        ("ad_click", 10, ad("c")),
        ("ad_click", 5, ad("d")),
    )
    j.move(four, Stage.MQL, 12)
    j.move(four, Stage.SQL, 0)
    skip, email = j.lead()
    j.touches(email, ("ad_click", 20, ad("e")), ("ad_click", 15, ad("f")), ("ad_click", 5, ad("g")))
    j.move(skip, Stage.SQL, 0)  # lead → sql: never an MQL
    # The touch at the very moment of the MQL entry is the MQL touch: thirds each.
    exact, email = j.lead()
    j.touches(email, ("ad_click", 20, ad("h")), ("ad_click", 10, ad("i")), ("ad_click", 5, ad("j")))
    j.move(exact, Stage.MQL, 10)
    j.move(exact, Stage.SQL, 0)
    with engine.connect() as c:
        report = attribution_report(c, MARCH, by=AttributionBy.CAMPAIGN)
    w = {x: report.credit(Stage.SQL, "paid_search", x).credits[M.W_SHAPED] for x in "abcdefg"}  # type: ignore[union-attr]
    assert [round(w[x], 6) for x in "abcd"] == [0.3, 0.3, 0.1, 0.3]
    assert [round(w[x], 6) for x in "efg"] == [0.4, 0.2, 0.4]
    w = {x: report.credit(Stage.SQL, "paid_search", x).credits[M.W_SHAPED] for x in "hij"}  # type: ignore[union-attr]
    assert [round(w[x], 6) for x in "hij"] == [round(1 / 3, 6)] * 3
    linear = report.credit(Stage.SQL, "paid_search", "b").credits[M.LINEAR]  # type: ignore[union-attr]
    assert linear == pytest.approx(0.25)


def test_origin_touch_carries_the_lead_source_and_untouched_conversions(
    uow_factory: Callable[[], SqlUnitOfWork], default_model: int, engine: Engine
) -> None:
    j = Journeys(uow_factory)
    sourced, email = j.lead(source="partner", campaign="partner-hubspot")
    # The earliest touch is an email open (not attributed): the origin is the page view.
    j.touches(
        email,
        ("email_open", 30, {"campaign": "newsletter"}),
        ("page_view", 20, {"path": "/"}),
        ("ad_click", 1, ad("brand")),
    )
    j.move(sourced, Stage.SQL, 0)
    bare, _ = j.lead()
    j.move(bare, Stage.SQL, 0)  # no touches at all
    with engine.connect() as c:
        report = attribution_report(c, MARCH, by=AttributionBy.CAMPAIGN)
        plain = attribution_report(
            c, MARCH, options=AttributionOptions(rules=ChannelRules(use_lead_source=False))
        )
    first = report.credit(Stage.SQL, "partner", "partner-hubspot")
    assert first is not None and first.credits[M.FIRST_TOUCH] == 1.0
    assert report.credit(Stage.SQL, "paid_search", "brand").credits[M.LAST_TOUCH] == 1.0  # type: ignore[union-attr]
    assert report.credit(Stage.SQL, None, None).credits == dict.fromkeys(M, 1.0)  # type: ignore[union-attr]
    assert report.conversions[0].conversions == 2 and report.conversions[0].touched == 1
    assert set(_credits(plain)) == {"direct", "paid_search", None}


def test_look_back_and_time_decay(
    uow_factory: Callable[[], SqlUnitOfWork], default_model: int, engine: Engine
) -> None:
    j = Journeys(uow_factory)
    lead, email = j.lead()
    j.touches(
        email,
        ("event_attended", 40, {}),
        ("webinar_attended", 7, {}),
        ("email_click", 0, {"campaign": "launch"}),
    )
    j.move(lead, Stage.SQL, 0)
    with engine.connect() as c:
        all_time = _credits(attribution_report(c, MARCH))
        recent = _credits(
            attribution_report(c, MARCH, options=AttributionOptions(lookback_days=30))
        )
        slow = _credits(attribution_report(c, MARCH, options=AttributionOptions(half_life_days=70)))
    assert all_time["events"][M.FIRST_TOUCH] == 1.0
    assert "events" not in recent  # 40 days is outside the look-back
    assert recent["webinar"][M.FIRST_TOUCH] == 1.0
    # Half-life 7: ages 7 and 0 weigh 1/2 and 1, so 1/3 and 2/3.
    assert recent["webinar"][M.TIME_DECAY] == round(1 / 3, 6)
    assert recent["email"][M.TIME_DECAY] == round(2 / 3, 6)
    weights = [0.5 ** (40 / 70), 0.5 ** (7 / 70), 1.0]
    assert slow["events"][M.TIME_DECAY] == round(weights[0] / sum(weights), 6)


def test_pipeline_and_won_revenue(
    uow_factory: Callable[[], SqlUnitOfWork], default_model: int, engine: Engine
) -> None:
    """An opportunity of 10,000 then won; a second won with its own amount (99,000) on the
    won outcome; a third opportunity without an amount."""
    j = Journeys(uow_factory)
    leads = []
    for name in ("a", "b", "c"):
        lead, email = j.lead()
        j.touches(email, ("ad_click", 10, ad(name)), ("form_submit", 5, {}))
        j.move(lead, Stage.SQL, 4)
        leads.append(lead)

    def feedback(lead: int, kind: str, days_before: float, **details: Any) -> None:
        record_feedback(
            uow_factory(),
            Feedback(lead, kind, "rep", details=details),  # type: ignore[arg-type]
            now=AT - days_before * DAY,
        )

    feedback(leads[0], "opportunity", 3, amount=10000)
    feedback(leads[0], "won", 1)
    feedback(leads[1], "opportunity", 3, amount=20000)
    feedback(leads[1], "won", 1, amount=99000)
    feedback(leads[2], "opportunity", 3)
    with engine.connect() as c:
        report = attribution_report(c, MARCH, by=AttributionBy.CAMPAIGN)
    opportunity = report.conversions[1]
    assert (opportunity.conversions, opportunity.with_amount, opportunity.amount) == (3, 2, 30000)
    won = report.conversions[2]
    assert (won.conversions, won.with_amount, won.amount) == (2, 2, 109000)
    a = report.credit(Stage.CUSTOMER, "paid_search", "a")
    assert a is not None and a.amounts[M.FIRST_TOUCH] == 10000 and a.amounts[M.LAST_TOUCH] == 0
    b = report.credit(Stage.CUSTOMER, "paid_search", "b")
    assert b is not None and b.amounts[M.LINEAR] == pytest.approx(49500)
    c_row = report.credit(Stage.OPPORTUNITY, "paid_search", "c")
    assert c_row is not None and c_row.amounts[M.LINEAR] == 0 and c_row.credits[M.LINEAR] == 0.5
    direct = report.credit(Stage.CUSTOMER, "direct", None)
    assert direct is not None and direct.amounts[M.U_SHAPED] == pytest.approx(54500)


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="half_life_days"):
        AttributionOptions(half_life_days=0)
    with pytest.raises(ValueError, match="lookback_days"):
        AttributionOptions(lookback_days=-1)


def test_the_example_of_the_documentation(
    uow_factory: Callable[[], SqlUnitOfWork], default_model: int, engine: Engine
) -> None:
    """docs/analytics.md, Attribution, Example: the table there is this report."""
    j = Journeys(uow_factory)
    lead, email = j.lead()
    sql_day = 21  # days after the ad click
    j.touches(
        email,
        ("ad_click", sql_day - 0, ad("gs-brand")),
        ("webinar_attended", sql_day - 10, {}),
        ("content_download", sql_day - 20, {}),
    )
    j.move(lead, Stage.MQL, sql_day - 11)
    j.move(lead, Stage.SQL, 0)
    with engine.connect() as c:
        got = _credits(attribution_report(c, MARCH))
    third = round(1 / 3, 6)
    assert got == {
        "paid_search": {
            M.FIRST_TOUCH: 1.0,
            M.LAST_TOUCH: 0.0,
            M.LINEAR: third,
            M.U_SHAPED: 0.4,
            M.W_SHAPED: third,
            M.TIME_DECAY: 0.091428,
        },
        "webinar": {
            M.FIRST_TOUCH: 0.0,
            M.LAST_TOUCH: 0.0,
            M.LINEAR: third,
            M.U_SHAPED: 0.2,
            M.W_SHAPED: third,
            M.TIME_DECAY: 0.246105,
        },
        "direct": {
            M.FIRST_TOUCH: 0.0,
            M.LAST_TOUCH: 1.0,
            M.LINEAR: third,
            M.U_SHAPED: 0.4,
            M.W_SHAPED: third,
            M.TIME_DECAY: 0.662467,
        },
    }
