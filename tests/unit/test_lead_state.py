"""The incremental lead state equals a recompute from the log: any model, any stream.

Random models (decayed, plain, windowed and count rules, caps of both signs, a model-wide
cap, half-lives down to seconds, touchpoint conditions in gates) meet random streams
(out-of-order and future times, re-sent message ids, engagement resets). After every batch
the state's score must equal ``score_lead`` over the stored log within 1e-9 relative plus
1e-9 absolute per rule, and every gate fact must be the same.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadgate.domain.gates import history_facts, touchpoint_conditions
from leadgate.domain.lead_state import (
    LeadState,
    ambiguous,
    build_state,
    new_state,
    reset,
    resettable,
    state_plan,
)
from leadgate.domain.leads import Lead
from leadgate.domain.predicates import Operator, Predicate
from leadgate.domain.scoring import Score, _engagement, _match, compiled, score_lead
from leadgate.domain.scoring import effective_touchpoints as counted
from leadgate.domain.scoring_model import (
    AllOf,
    AnyOf,
    CountThreshold,
    EngagementRule,
    Gates,
    ScoreCondition,
    ScoringModel,
    TouchpointCondition,
)
from leadgate.domain.touchpoints import Touchpoint

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NAMES = ("page_view", "demo_request", "email_open", "webinar_attended")
CATEGORIES = ("pricing", "blog", None)


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * abs(b) + 1e-9


half_lives = st.one_of(
    st.none(), st.sampled_from([1e-5, 0.01, 0.5, 3.0, 30.0]), st.floats(0.001, 400)
)
windows = st.one_of(
    st.none(),
    st.sampled_from([0.5, 1.0, 2.0, 7.0]),
    st.sampled_from([0.25, 3.0, 30.0]),
    st.floats(0.01, 90),
)


@st.composite
def rules(draw: st.DrawFn, index: int) -> EngagementRule:
    name = draw(st.sampled_from(NAMES))
    where = ()
    if name == "page_view" and draw(st.booleans()):
        where = (Predicate("category", Operator.EQ, draw(st.sampled_from(["pricing", "blog"]))),)
    points = draw(st.sampled_from([-20.0, -3.5, 1.0, 5.0, 10.0, 30.0]))
    count = None
    if draw(st.integers(0, 3)) == 0:
        count = CountThreshold(draw(st.integers(1, 4)), draw(windows))
    return EngagementRule(
        id=f"r{index}",
        touchpoint=name,
        points=points,
        where=where,
        cap=draw(st.one_of(st.none(), st.sampled_from([5.0, 25.0, 60.0]))),
        half_life_days=draw(half_lives),
        within_days=draw(windows),
        count=count,
    )


@st.composite
def conditions(draw: st.DrawFn) -> TouchpointCondition:
    return TouchpointCondition(
        draw(st.sampled_from(NAMES)),
        within_days=draw(windows),
        at_least=draw(st.integers(1, 3)),
    )


@st.composite
def models(draw: st.DrawFn) -> ScoringModel:
    count = draw(st.integers(1, 6))
    engagement = tuple(draw(rules(i)) for i in range(count))
    score_gate = ScoreCondition(Predicate("total", Operator.GTE, draw(st.sampled_from([5, 30]))))
    mql = AnyOf((score_gate, draw(conditions())))
    ready = AllOf((draw(conditions()), draw(conditions())))
    return ScoringModel(
        name="random",
        fit_rules=(),
        engagement_rules=engagement,
        grades=(),
        gates=Gates(mql=mql, sales_ready=ready, skip_to_sql=draw(conditions())),
        engagement_cap=draw(st.one_of(st.none(), st.sampled_from([40.0, 100.0]))),
    )


@st.composite
def touchpoints(draw: st.DrawFn) -> Touchpoint:
    name = draw(st.sampled_from(NAMES))
    properties: dict[str, object] = {}
    if name == "page_view" and (category := draw(st.sampled_from(CATEGORIES))):
        properties["category"] = category
    # Mostly whole hours near T0, so times tie and land on window edges and resets; some
    # seconds over ±2 years: late and far-future arrivals.
    offset = draw(
        st.one_of(
            st.integers(-300, 300).map(lambda hours: hours * 3_600),
            st.integers(-300, 300).map(lambda hours: hours * 3_600),
            st.integers(-63_000_000, 63_000_000),
        )
    )
    message = f"m{draw(st.integers(0, 60))}"
    return Touchpoint(message, name, T0 + timedelta(seconds=offset), properties)


# A batch: the touchpoints that arrive, how far the clock moves first, and whether the
# lead is recycled with an engagement reset at that moment.
batches = st.lists(
    st.tuples(
        st.lists(touchpoints(), max_size=6),
        st.one_of(
            st.integers(0, 72).map(lambda hours: hours * 3_600),
            st.integers(0, 72).map(lambda hours: hours * 3_600),
            st.integers(0, 10**7),
        ),
        st.integers(0, 5),
    ),
    min_size=1,
    max_size=8,
)


def _reference_rules(
    model: ScoringModel, log: list[Touchpoint], at: datetime, since: datetime | None
) -> list[float | None]:
    history = counted(log, at, since)
    matched = _match(history, compiled(model))
    found: list[float | None] = []
    for index, rule in enumerate(model.engagement_rules):
        events = matched[index]
        contribution = _engagement(rule, events, model, at, False) if events else None
        found.append(None if contribution is None else contribution.points)
    return found


def _assert_equal(
    state: LeadState, model: ScoringModel, log: list[Touchpoint], at: datetime, lead: Lead
) -> None:
    expected = _reference_rules(model, log, at, lead.engagement_reset_at)
    got = state.rule_points(model, at)
    for rule, want, have in zip(model.engagement_rules, expected, got, strict=True):
        assert (want is None) == (have is None), (rule, want, have)
        if want is not None and have is not None:
            assert _close(have, want), (rule, want, have)
    reference = score_lead(lead, log, model, at, explain=False)
    engagement, error = state.engagement_and_error(model, at)
    assert _close(engagement, reference.engagement)
    assert abs(engagement - reference.engagement) <= error  # the bound holds
    # Unless flagged, a threshold compares the same on the state's score as on the log's.
    score = Score(0.0, engagement, engagement, None, at)
    if not ambiguous(model, score, error):
        for _, threshold in state_plan(model).thresholds:
            assert (engagement >= threshold) == (reference.engagement >= threshold)
    history = counted(log, at, lead.engagement_reset_at)
    facts, truth = state.facts(model, at), history_facts(history, at)
    gates = model.gates
    for condition in (
        c
        for g in (gates.mql, gates.sales_ready, gates.skip_to_sql)
        for c in touchpoint_conditions(g)
    ):
        assert facts(condition) == truth(condition), condition


@settings(max_examples=300, deadline=None)
@given(models(), batches)
def test_the_state_read_after_every_batch_equals_a_recompute_from_the_log(
    model: ScoringModel, stream: list[tuple[list[Touchpoint], int, int]]
) -> None:
    plan = state_plan(model)
    lead = Lead(id=1)
    now = T0
    state = new_state(model, 1, now, None)
    log: list[Touchpoint] = []
    stored: set[str] = set()
    for arriving, seconds, recycle in stream:
        now += timedelta(seconds=seconds)
        state.advance(plan, now)
        if recycle == 0:
            lead.engagement_reset_at = now
            if resettable(state, now):
                reset(state, now)
            else:
                state = build_state(model, 1, log, now, now)
        for touchpoint in arriving:
            if touchpoint.message_id in stored:
                continue  # a re-sent message id is not stored again, so not folded again
            stored.add(touchpoint.message_id)
            log.append(touchpoint)
            state.add(plan, touchpoint)
        _assert_equal(state, model, log, now, lead)
        rebuilt = build_state(model, 1, log, now, lead.engagement_reset_at)
        _assert_equal(rebuilt, model, log, now, lead)
        # Stored and read back, the state is the same state.
        document = state.to_document()
        assert LeadState.from_document(1, document, plan).to_document() == document


@settings(max_examples=100, deadline=None)
@given(models(), st.lists(touchpoints(), max_size=30), st.integers(-3_000, 3_000))
def test_folding_one_touchpoint_at_a_time_equals_building_from_the_whole_log(
    model: ScoringModel, log: list[Touchpoint], later: int
) -> None:
    unique = list({tp.message_id: tp for tp in log}.values())
    plan = state_plan(model)
    at = T0 + timedelta(hours=later)
    state = new_state(model, 1, T0 - timedelta(days=800), None)
    for touchpoint in reversed(unique):  # the reverse of time order is as good as any
        state.add(plan, touchpoint)
    state.advance(plan, at)
    _assert_equal(state, model, unique, at, Lead(id=1))


def test_a_half_life_of_seconds_over_years_neither_overflows_nor_loses_the_latest_touch() -> None:
    rule = EngagementRule("fast", "page_view", 10.0, half_life_days=1e-5)
    model = ScoringModel("m", (), (rule,), (), Gates(None, None))
    plan = state_plan(model)
    state = new_state(model, 1, T0, None)
    for day in range(0, 3 * 365, 30):  # a touch a month for three years
        moment = T0 + timedelta(days=day)
        state.advance(plan, moment)
        state.add(plan, Touchpoint(f"m{day}", "page_view", moment))
    read = T0 + timedelta(days=1080, seconds=1)  # a second after the last touch
    state.advance(plan, read)
    assert state.engagement(model, read) == pytest.approx(10 * 2 ** (-1 / 86_400 / 1e-5))
    assert state.engagement(model, read + timedelta(days=365)) == 0.0


def test_a_score_within_rounding_of_a_gate_threshold_is_flagged_for_a_decision_from_the_log() -> (
    None
):
    gate = ScoreCondition(Predicate("total", Operator.GTE, 30))
    model = ScoringModel("m", (), (), (), Gates(gate, None))
    near = Score(0.0, 30.0 - 1e-12, 30.0 - 1e-12, None, T0)
    far = Score(0.0, 29.9, 29.9, None, T0)
    assert ambiguous(model, near, error=1e-9)
    assert not ambiguous(model, far, error=1e-9)
    # Every rule exact (counts, passed caps): even a score on the threshold is decided
    # the same way from the state as from the log.
    assert not ambiguous(model, Score(0.0, 30.0, 30.0, None, T0), error=0.0)


def test_a_rule_clearly_past_its_cap_reads_exactly_the_cap_and_one_at_the_cap_does_not() -> None:
    rule = EngagementRule("capped", "page_view", 10.0, cap=30.0, half_life_days=30.0)
    gate = ScoreCondition(Predicate("engagement", Operator.GTE, 30))
    model = ScoringModel("m", (), (rule,), (), Gates(gate, None))
    plan = state_plan(model)
    state = new_state(model, 1, T0, None)
    for i in range(5):
        state.add(plan, Touchpoint(f"m{i}", "page_view", T0))
    assert state.engagement_and_error(model, T0) == (30.0, 0.0)
    # Three undecayed visits sum to the cap itself: rounding could put either side on it.
    state = new_state(model, 1, T0, None)
    for i in range(3):
        state.add(plan, Touchpoint(f"m{i}", "page_view", T0))
    engagement, error = state.engagement_and_error(model, T0)
    assert engagement == 30.0 and error > 0.0
    assert ambiguous(model, Score(0.0, engagement, engagement, None, T0), error)


def test_a_state_refuses_to_move_backwards_in_time() -> None:
    model = ScoringModel("m", (), (), (), Gates(None, None))
    state = new_state(model, 1, T0, None)
    with pytest.raises(ValueError, match="only moves forward"):
        state.advance(state_plan(model), T0 - timedelta(seconds=1))


EDGE_RULES = [
    EngagementRule("window", "page_view", 10.0, within_days=1.0, half_life_days=2.0),
    EngagementRule("count", "page_view", 7.0, count=CountThreshold(2, 1.0)),
    EngagementRule("both", "page_view", 3.0, within_days=1.0, count=CountThreshold(1, 2.0)),
]


@pytest.mark.parametrize("rule", EDGE_RULES, ids=lambda rule: rule.id)
@pytest.mark.parametrize("age", [timedelta(days=1) - timedelta(microseconds=1), timedelta(days=1)])
def test_a_touchpoint_exactly_at_the_window_edge_counts_as_score_lead_counts_it(
    rule: EngagementRule, age: timedelta
) -> None:
    condition = TouchpointCondition("page_view", within_days=1.0, at_least=2)
    model = ScoringModel("m", (), (rule,), (), Gates(condition, None))
    plan = state_plan(model)
    log = [Touchpoint("a", "page_view", T0), Touchpoint("b", "page_view", T0 + age)]
    state = new_state(model, 1, T0, None)
    for touchpoint in log:
        state.add(plan, touchpoint)  # "b" is in the future: it waits
    for at in (T0 + age, T0 + timedelta(days=1), T0 + timedelta(days=1, microseconds=1)):
        state.advance(plan, at)
        _assert_equal(state, model, log, at, Lead(id=1))


def test_a_touchpoint_at_the_moment_of_the_reset_still_counts_and_one_before_never_does() -> None:
    rule = EngagementRule("plain", "page_view", 5.0)
    model = ScoringModel("m", (), (rule,), (), Gates(None, None))
    plan = state_plan(model)
    lead = Lead(id=1, engagement_reset_at=T0)
    log = [Touchpoint("at", "page_view", T0), Touchpoint("before", "page_view", T0 - _US)]
    state = new_state(model, 1, T0, T0)
    for touchpoint in log:
        state.add(plan, touchpoint)
    _assert_equal(state, model, log, T0, lead)
    assert state.engagement(model, T0) == 5.0


def test_a_reset_after_a_touchpoint_at_the_same_moment_needs_a_rebuild_from_the_log() -> None:
    model = ScoringModel("m", (), (EngagementRule("p", "page_view", 5.0),), (), Gates(None, None))
    state = new_state(model, 1, T0, None)
    state.add(state_plan(model), Touchpoint("at", "page_view", T0))
    assert not resettable(state, T0)
    assert resettable(state, T0 + _US)


_US = timedelta(microseconds=1)
