"""Backtest use case on SQLite and PostgreSQL: against itself nothing changes, a lower MQL
threshold flags a superset, and every weekly figure equals a plain-Python recount that
asks score_lead and the gates at the end of every day."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from leadgate.adapters.model_yaml import load_model
from leadgate.domain.gates import holds
from leadgate.domain.leads import Lead
from leadgate.domain.lifecycle import ActorType, Stage, Transition
from leadgate.domain.predictive import Milestone, Target
from leadgate.domain.scoring import effective_touchpoints, score_lead
from leadgate.domain.scoring_model import ScoringModel
from leadgate.domain.touchpoints import Touchpoint
from leadgate.services.backtest import BacktestReport, Baseline, run_backtest
from leadgate.services.commands import AccountIn, LeadIn
from leadgate.services.errors import InvalidInput, NoActiveModel, NotFound
from leadgate.services.ingest import ingest_touchpoints
from leadgate.services.profiles import upsert_accounts, upsert_leads
from tests.integration.helpers import SIMPLE_MODEL, UowFactory, activate_simple, touch

START = datetime(2026, 1, 5, tzinfo=UTC)
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
FIRST, LAST = date(2026, 1, 22), date(2026, 2, 28)  # a Thursday to a Saturday
KINDS = [
    ("page_view", {"category": "pricing"}),
    ("page_view", {"category": "blog"}),
    ("webinar_attended", {}),
    ("demo_request", {}),
    ("email_unsubscribe", {}),
]


def lower_mql(threshold: int) -> str:
    text = SIMPLE_MODEL.replace(
        "- {field: total, gte: 40}", f"- {{field: total, gte: {threshold}}}"
    )
    assert text != SIMPLE_MODEL
    return text.replace("name: simple", "name: lower", 1)


def populate(uow_factory: UowFactory, seed: int = 7) -> None:
    """About 30 leads with a few weeks of touchpoints each, some created during the window,
    and opportunities and customers for some of them."""
    rng = random.Random(seed)
    activate_simple(uow_factory, START - timedelta(days=30))
    upsert_accounts(
        uow_factory(),
        [AccountIn("soft.io", industry="software"), AccountIn("shop.io", industry="retail")],
        now=START,
    )
    for i in range(30):
        created = START + timedelta(days=rng.uniform(0, 45))
        email = f"lead{i}@{rng.choice(['soft.io', 'shop.io'])}"
        seniority = rng.choice(["vp", "manager", "c_level"])
        upsert_leads(uow_factory(), [LeadIn(email=email, seniority=seniority)], now=created)
        batch = []
        for j in range(rng.randint(0, 9)):
            name, props = rng.choice(KINDS)
            at = created + timedelta(hours=rng.uniform(-72, 24 * 30))
            batch.append(touch(f"t{i}-{j}", name, min(at, NOW), email=email, **props))
        if batch:
            ingest_touchpoints(uow_factory(), batch, now=NOW)
    uow = uow_factory()
    with uow:
        transitions = []
        for lead_id in range(1, 31):
            if rng.random() < 0.4:
                opened = START + timedelta(days=rng.uniform(15, 55))
                transitions.append(_moved(lead_id, Stage.SQL, Stage.OPPORTUNITY, opened))
                if rng.random() < 0.5:
                    won = opened + timedelta(days=rng.uniform(1, 10))
                    transitions.append(_moved(lead_id, Stage.OPPORTUNITY, Stage.CUSTOMER, won))
        uow.transitions.add(transitions)
        uow.commit()


def _moved(lead_id: int, frm: Stage, to: Stage, at: datetime) -> Transition:
    return Transition(lead_id, frm, to, at, ActorType.USER, "rep", "sales feedback")


def recount(
    uow_factory: UowFactory, model: ScoringModel
) -> tuple[dict[int, tuple[int | None, int | None]], dict[int, list[Milestone]], dict[int, Lead]]:
    """The first day each gate holds for each lead, asking score_lead and the gates at the
    end of every day of the window (index 0: the day before it), from the lead's
    first-seen day on."""
    uow = uow_factory()
    with uow:
        ids = [i for chunk in uow.leads.id_chunks(1000) for i in chunk]
        leads = uow.leads.get_many(ids)
        histories = uow.touchpoints.for_leads(ids)
        created = uow.predictive.created_at(ids)
        milestones = uow.predictive.milestones(ids)
    gates = model.gates
    ends = [
        datetime.combine(FIRST + timedelta(days=k), datetime.min.time(), UTC)
        - timedelta(microseconds=1)
        for k in range((LAST - FIRST).days + 2)
    ]
    result: dict[int, tuple[int | None, int | None]] = {}
    for lead_id, lead in leads.items():
        history: list[Touchpoint] = histories.get(lead_id, [])
        seen = min([created[lead_id], *(tp.occurred_at for tp in history)])
        mql = ready = None
        for index, at in enumerate(ends):
            if at < seen:
                continue
            score = score_lead(lead, history, model, at, explain=False)
            counted = effective_touchpoints(history, at, lead.engagement_reset_at)
            if mql is None and holds(gates.mql, score, counted, at):
                mql = index
            if ready is None and (
                holds(gates.sales_ready, score, counted, at)
                or holds(gates.skip_to_sql, score, counted, at)
            ):
                ready = index
        result[lead_id] = (mql, ready)
    return result, milestones, leads


def day_of(index: int) -> date:
    return FIRST + timedelta(days=index - 1)


def expected_weeks(
    first: dict[int, tuple[int | None, int | None]], milestones: dict[int, list[Milestone]]
) -> list[tuple[date, int, int, int, int, int, int]]:
    """Per week (Monday-based, cut to the window): MQLs, MQLs converted, sales-ready,
    sales-ready converted, opportunities reached and caught, recounted by hand."""
    monday = FIRST - timedelta(days=FIRST.weekday())
    weeks: dict[date, list[int]] = {}
    while monday <= LAST:
        weeks[max(monday, FIRST)] = [0, 0, 0, 0, 0, 0]
        monday += timedelta(days=7)

    def week(day: date) -> list[int]:
        return weeks[max(day - timedelta(days=day.weekday()), FIRST)]

    for lead_id, (mql, ready) in first.items():
        events = milestones.get(lead_id, [])
        converted = [m.occurred_at.date() for m in events if m.reaches(Target.OPPORTUNITY)]
        for slot, index in ((0, mql), (2, ready)):
            if index is not None and index >= 1:
                row = week(day_of(index))
                row[slot] += 1
                row[slot + 1] += any(d >= day_of(index) for d in converted)
        if converted and FIRST <= min(converted) <= LAST:
            reached = min(converted)
            row = week(reached)
            row[4] += 1
            flags = [i for i in (mql, ready) if i is not None]
            row[5] += bool(flags) and day_of(min(flags)) <= reached
    return [(start, *values) for start, values in weeks.items()]  # type: ignore[misc]


def observed_weeks(
    report: BacktestReport, side: str
) -> list[tuple[date, int, int, int, int, int, int]]:
    rows = []
    for week in report.figures.weeks:
        f = week.baseline if side == "baseline" else week.candidate
        rows.append(
            (
                week.start,
                f.mql,
                f.mql_converted,
                f.sales_ready,
                f.sales_ready_converted,
                week.opportunities,
                f.opportunities_caught,
            )
        )
    return rows


def run(uow_factory: UowFactory, candidate: str, **options: object) -> BacktestReport:
    return run_backtest(
        uow_factory(),
        load_model(candidate),
        first=FIRST,
        last=LAST,
        now=NOW,
        chunk_size=7,  # several chunks, several transactions
        **options,  # type: ignore[arg-type]
    )


def test_backtesting_the_active_model_against_itself_changes_nothing(
    uow_factory: UowFactory,
) -> None:
    populate(uow_factory)
    report = run(uow_factory, SIMPLE_MODEL)
    figures = report.figures
    assert figures.leads == 30
    assert figures.baseline == figures.candidate
    assert all(week.baseline == week.candidate for week in figures.weeks)
    assert figures.changes == ()
    timing = figures.timing
    assert timing.earlier == timing.later == timing.only_candidate == timing.only_baseline == 0
    assert timing.median_days in (0.0, None)
    # Not vacuous: the history does produce MQLs and conversions.
    assert figures.baseline.mql + figures.baseline.already_mql > 0
    assert figures.opportunities > 0


def test_weekly_figures_equal_a_recount_with_score_lead_at_every_day_end(
    uow_factory: UowFactory,
) -> None:
    populate(uow_factory)
    report = run(uow_factory, lower_mql(30))
    base, milestones, _ = recount(uow_factory, load_model(SIMPLE_MODEL))
    cand, _, _ = recount(uow_factory, load_model(lower_mql(30)))
    assert observed_weeks(report, "baseline") == expected_weeks(base, milestones)
    assert observed_weeks(report, "candidate") == expected_weeks(cand, milestones)
    already = report.figures.candidate.already_mql
    assert already == sum(1 for mql, _ in cand.values() if mql == 0)
    assert any(row[1] for row in expected_weeks(base, milestones))  # not vacuous


def test_a_lower_mql_threshold_flags_a_superset_of_mqls(uow_factory: UowFactory) -> None:
    populate(uow_factory)
    report = run(uow_factory, lower_mql(25))
    base, _, leads = recount(uow_factory, load_model(SIMPLE_MODEL))
    cand, _, _ = recount(uow_factory, load_model(lower_mql(25)))
    base_mqls = {lead for lead, (mql, _) in base.items() if mql is not None}
    cand_mqls = {lead for lead, (mql, _) in cand.items() if mql is not None}
    assert base_mqls <= cand_mqls and len(cand_mqls) > len(base_mqls)
    # The candidate flags each of the baseline's MQLs on the same day or earlier.
    assert all(cand[lead][0] <= base[lead][0] for lead in base_mqls)  # type: ignore[operator]
    b, c = report.figures.baseline, report.figures.candidate
    assert c.mql + c.already_mql == len(cand_mqls)
    assert b.mql + b.already_mql == len(base_mqls)
    # The leads whose status changes are exactly those the recount says, all upgrades.
    status = {"none": 0, "mql": 1, "sales_ready": 2}

    def state(first: tuple[int | None, int | None]) -> str:
        return "sales_ready" if first[1] is not None else "mql" if first[0] is not None else "none"

    expected = sorted(lead for lead in leads if state(base[lead]) != state(cand[lead]))
    assert [c.lead_id for c in report.figures.changes] == expected
    assert all(status[c.candidate] > status[c.baseline] for c in report.figures.changes)
    assert report.figures.timing.later == 0


def test_a_stored_version_or_another_document_can_be_the_baseline(
    uow_factory: UowFactory,
) -> None:
    populate(uow_factory)
    by_version = run(uow_factory, lower_mql(30), baseline=Baseline(version=1))
    assert by_version.baseline.version == 1 and by_version.baseline.source == "version 1"
    by_document = run(
        uow_factory,
        SIMPLE_MODEL,
        baseline=Baseline(model=load_model(lower_mql(30)), source="lower.yaml"),
    )
    assert by_document.baseline.source == "lower.yaml" and by_document.baseline.version is None
    # The same two models, the other way round: the figures swap sides.
    assert by_document.figures.baseline == by_version.figures.candidate
    assert by_document.figures.candidate == by_version.figures.baseline
    with pytest.raises(NotFound, match="no model version 9"):
        run(uow_factory, SIMPLE_MODEL, baseline=Baseline(version=9))


def test_a_backtest_needs_an_active_model_and_a_sensible_window(
    uow_factory: UowFactory,
) -> None:
    with pytest.raises(NoActiveModel):
        run(uow_factory, SIMPLE_MODEL)
    with pytest.raises(InvalidInput, match="before --from"):
        run_backtest(
            uow_factory(),
            load_model(SIMPLE_MODEL),
            first=LAST,
            last=FIRST,
            now=NOW,
        )
