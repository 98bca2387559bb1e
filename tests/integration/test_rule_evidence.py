"""``leadgate model suggest``'s use case on SQLite and PostgreSQL: the evidence per rule
against a plain-Python recount of the generated world (day by day), a rule that drives
conversion gets more points and a useless one fewer, thin evidence is left alone, and the
suggested document is the active one with only those numbers changed (comments kept)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime

from leadgate.adapters.ml.rule_effects import joint_lifts
from leadgate.adapters.model_points import unified_diff, with_suggestions
from leadgate.adapters.model_yaml import validate_model
from leadgate.domain.lifecycle import ActorType, Stage
from leadgate.domain.predictive import Target
from leadgate.domain.rule_evidence import Kind, Subject, Tally, Thresholds, Verdict
from leadgate.services.commands import ChangeStage, LeadIn
from leadgate.services.ingest import ingest_touchpoints
from leadgate.services.lifecycle import change_stage
from leadgate.services.models import activate_model
from leadgate.services.profiles import upsert_leads
from leadgate.services.rule_evidence import SuggestOptions, SuggestReport, suggest_points
from tests.conftest import T0
from tests.integration.helpers import UowFactory, days, touch

NOW = T0 + days(100)
HORIZON = 60

# Gates nobody reaches: every transition to SQL is one the world below makes.
MODEL = """\
# Evidence test model: block style, comments and blank lines must survive a suggestion.
name: evidence
half_life_days: 30

fit:
  - id: vp            # seniority is only a weak sign here
    field: seniority
    eq: vp
    points: 10
  - id: competitor
    field: email_domain
    eq: rival.example
    points: -40

engagement:
  - id: demo          # the driver
    touchpoint: demo_request
    points: 10
  - id: newsletter    # useless: opened at random
    touchpoint: email_open
    points: 10
    cap: 30
  - id: pricing_burst
    touchpoint: page_view
    where:
      - {field: category, eq: pricing}
    count: {at_least: 2, within_days: 7}
    points: 5
grades:
  A: {min: 900}
  D: {max: 900}
gates:
  mql:
    all:
      - {field: total, gte: 900}
  sales_ready:
    all:
      - {field: total, gte: 1000}
"""


@dataclass
class Truth:
    """What the world generator did, kept to recount from."""

    fired: dict[str, dict[int, datetime]] = field(default_factory=dict)
    converted: dict[int, datetime] = field(default_factory=dict)
    leads: list[int] = field(default_factory=list)


def world(uow_factory: UowFactory, n: int = 240, seed: int = 5) -> Truth:
    """``n`` leads created at T0. A demo request (a third of them, days 0-20) is mostly
    followed by SQL within 10 days; newsletter opens and webinars come at random times,
    whatever the lead does; some leads see pricing twice in a week; a few are VPs."""
    rng = random.Random(seed)
    activate_model(uow_factory(), MODEL, now=T0, actor="test")
    emails = [f"p{i}@co{i % 9}.io" for i in range(n)]
    seniority = ["vp" if rng.random() < 0.3 else "ic" for _ in range(n)]
    ids = upsert_leads(
        uow_factory(),
        [LeadIn(email=e, seniority=s) for e, s in zip(emails, seniority, strict=True)],
        now=T0,
    ).ids
    truth = Truth(leads=list(ids))
    touches = []
    for i, (email, lead_id) in enumerate(zip(emails, ids, strict=True)):
        converted: datetime | None = None
        if rng.random() < 1 / 3:
            at = T0 + days(rng.uniform(0, 20))
            touches.append(touch(f"d{i}", "demo_request", at, email=email))
            truth.fired.setdefault("demo", {})[lead_id] = at
            if rng.random() < 0.7:
                converted = at + days(rng.uniform(0.1, 10))
        elif rng.random() < 0.08:
            converted = T0 + days(rng.uniform(0, 90))
        if converted is not None:
            truth.converted[lead_id] = converted
        if rng.random() < 0.5:
            at = T0 + days(rng.uniform(0, 95))
            touches.append(touch(f"n{i}", "email_open", at, email=email))
            truth.fired.setdefault("newsletter", {})[lead_id] = at
        if rng.random() < 0.3:
            at = T0 + days(rng.uniform(0, 95))
            touches.append(touch(f"w{i}", "webinar_attended", at, email=email))
            truth.fired.setdefault("webinar_attended", {})[lead_id] = at
        if rng.random() < 0.2:
            first = T0 + days(rng.uniform(0, 50))
            gap = rng.choice([2, 12])  # within the 7-day window or not
            for k, at in enumerate((first, first + days(gap))):
                touches.append(touch(f"p{i}-{k}", "page_view", at, email=email, category="pricing"))
            if gap <= 7:
                truth.fired.setdefault("pricing_burst", {})[lead_id] = first + days(gap)
        if seniority[i] == "vp":
            truth.fired.setdefault("vp", {})[lead_id] = T0
    ingest_touchpoints(uow_factory(), touches, now=NOW)
    for lead_id, at in sorted(truth.converted.items(), key=lambda item: item[1]):
        change_stage(
            uow_factory(),
            ChangeStage(lead_id, Stage.SQL, "accepted", "rep", ActorType.USER, at=at),
            now=at,
        )
    return truth


def recount(truth: Truth, subject: str) -> Tally:
    """The counts, day by day, straight from what the world did."""
    t = Tally()
    fired = truth.fired.get(subject, {})
    for lead_id in truth.leads:
        converted = truth.converted.get(lead_id)
        had_exposed = had_unexposed = False
        for day in range(HORIZON):
            start = T0 + days(day)
            if start > NOW:
                break
            end = start + days(1)
            exposed = lead_id in fired and fired[lead_id] < end
            converts_today = converted is not None and start <= converted < end
            if exposed:
                had_exposed = True
                t.exposed_days += 1
                t.exposed_conversions += converts_today
            else:
                had_unexposed = True
                t.unexposed_days += 1
                t.unexposed_conversions += converts_today
            if converts_today:
                break
        t.exposed_leads += had_exposed
        t.unexposed_leads += had_unexposed
    return t


def run(uow_factory: UowFactory, **options: object) -> SuggestReport:
    return suggest_points(
        uow_factory(),
        SuggestOptions(target=Target.SQL, horizon_days=HORIZON, **options),  # type: ignore[arg-type]
        now=NOW,
    )


def test_evidence_matches_a_day_by_day_recount(uow_factory: UowFactory) -> None:
    truth = world(uow_factory)
    report = run(uow_factory)
    by_id = {e.subject.id: e for e in report.evidence}
    assert report.cohort.leads == len(truth.leads)
    assert report.cohort.conversions == sum(
        1 for at in truth.converted.values() if at < T0 + days(HORIZON)
    )
    for subject in ("vp", "competitor", "demo", "newsletter", "pricing_burst", "webinar_attended"):
        expected = recount(truth, subject)
        assert by_id[subject].tally == expected, subject
        e = by_id[subject]
        if expected.exposed_days and expected.unexposed_conversions:
            rate_with = expected.exposed_conversions / expected.exposed_days
            rate_without = expected.unexposed_conversions / expected.unexposed_days
            assert e.lift is not None
            assert abs(e.lift - rate_with / rate_without) < 1e-9
            assert e.low is not None and e.low <= e.lift <= (e.high or float("inf"))
    # A type no rule reads is evidence of its own; a rule's touchpoint type is not.
    assert by_id["webinar_attended"].subject == Subject(Kind.TOUCHPOINT, "webinar_attended")
    assert not any(e.subject == Subject(Kind.TOUCHPOINT, "demo_request") for e in report.evidence)


def test_a_driver_gains_points_a_useless_rule_loses_them_thin_evidence_stays(
    uow_factory: UowFactory,
) -> None:
    world(uow_factory)
    report = run(uow_factory)
    proposals = {p.evidence.subject.id: p for p in report.suggestion.proposals}
    demo, newsletter = proposals["demo"], proposals["newsletter"]
    assert demo.evidence.low is not None and demo.evidence.low > 2  # it does drive SQL
    assert demo.verdict is Verdict.CHANGED and demo.suggested is not None
    assert demo.suggested > 10
    assert newsletter.verdict is Verdict.CHANGED and newsletter.suggested is not None
    assert newsletter.evidence.low is not None and newsletter.evidence.low < 1
    assert newsletter.evidence.high is not None and newsletter.evidence.high > 1
    assert newsletter.suggested == 0 and "no effect shown" in newsletter.reason
    assert newsletter.suggested_cap is None  # a rule worth 0 keeps its cap as it is
    competitor = proposals["competitor"]  # nobody matches it
    assert competitor.verdict is Verdict.TOO_LITTLE and competitor.suggested is None
    assert "too little evidence (0 leads with it" in competitor.reason

    # Demanding more evidence than there is leaves every rule as it is.
    strict = run(uow_factory, thresholds=Thresholds(min_leads=10_000))
    assert all(p.suggested is None for p in strict.suggestion.proposals)
    assert with_suggestions(strict.model.document, strict.suggestion.proposals) == MODEL


def test_joint_effects_credit_the_driver_and_not_the_rules_that_ride_along(
    uow_factory: UowFactory,
) -> None:
    world(uow_factory)
    report = suggest_points(
        uow_factory(),
        SuggestOptions(target=Target.SQL, horizon_days=HORIZON),
        now=NOW,
        joint=joint_lifts,
    )
    by_id = {p.evidence.subject.id: p for p in report.suggestion.proposals}
    demo, newsletter = by_id["demo"], by_id["newsletter"]
    assert demo.evidence.joint_lift is not None and demo.evidence.joint_lift > 3
    assert newsletter.evidence.joint_lift is not None
    assert newsletter.evidence.joint_lift < 1.5 < demo.evidence.joint_lift / 2
    assert by_id["competitor"].evidence.joint_lift is None  # it never fired
    # The counts do not depend on the joint model; the points now follow it.
    assert [p.evidence.tally for p in report.suggestion.proposals] == [
        p.evidence.tally for p in run(uow_factory).suggestion.proposals
    ]
    assert demo.suggested is not None and demo.suggested > 10
    assert newsletter.suggested == 0


def test_the_suggested_document_changes_only_numbers_and_validates(
    uow_factory: UowFactory,
) -> None:
    world(uow_factory)
    report = run(uow_factory)
    suggested = with_suggestions(report.model.document, report.suggestion.proposals)
    checked = validate_model(suggested)
    assert not checked.errors and checked.model is not None
    points = {r.id: r.points for r in checked.model.engagement_rules}
    points |= {r.id: r.points for r in checked.model.fit_rules}
    for p in report.suggestion.proposals:
        if p.points is not None:
            assert points[p.evidence.subject.id] == (
                p.suggested if p.suggested is not None else p.points
            )
    # Comments, blank lines and layout stay; only changed lines are in the diff.
    assert "  - id: demo          # the driver\n" in suggested
    assert suggested.count("\n") == MODEL.count("\n") + (
        1 if any(p.verdict is Verdict.NEW for p in report.suggestion.proposals) else 0
    )
    diff = unified_diff(MODEL, suggested, "model.yaml")
    removed = [
        line for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")
    ]
    assert removed and all("points:" in line or "cap:" in line for line in removed)


def test_the_period_selects_leads_by_when_they_were_first_seen(uow_factory: UowFactory) -> None:
    truth = world(uow_factory, n=60)
    assert run(uow_factory, since=T0 + days(1)).cohort.leads == 0
    assert run(uow_factory, until=T0 + days(1)).cohort.leads == len(truth.leads)
    assert run(uow_factory, since=T0, until=T0 + days(1)).cohort.leads == len(truth.leads)
