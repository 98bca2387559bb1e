"""Routing: rules, account ownership, capacity, out-of-office, the queue, and strategies whose
position survives restarts and membership changes."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from leadgate.domain.accounts import Account
from leadgate.domain.leads import Lead
from leadgate.domain.predicates import Operator, Predicate
from leadgate.domain.routing import (
    Assignment,
    HandoffFacts,
    HandoffKind,
    OutOfOffice,
    Rep,
    RoutingConfig,
    RoutingError,
    RoutingRule,
    RoutingState,
    Strategy,
    Team,
    TeamState,
    field_value,
    route,
)

NOW = datetime(2026, 3, 2, 10, tzinfo=UTC)
FACTS = HandoffFacts()


def team(name: str, *reps: Rep | str, strategy: Strategy = Strategy.ROUND_ROBIN) -> Team:
    members = tuple(rep if isinstance(rep, Rep) else Rep(rep) for rep in reps)
    return Team(name, strategy, members, manager=f"boss@{name}")


def config(*teams: Team, rules: tuple[RoutingRule, ...] = (), **kw: bool) -> RoutingConfig:
    return RoutingConfig(teams, rules, teams[0].name, **kw)


def lead(country: str | None = None, owner: str | None = None, employees: int = 50) -> Lead:
    account = Account("acme.io", country=country, employees=employees, owner=owner)
    return Lead(id=1, email="ann@acme.io", country=country, account=account)


def run(
    cfg: RoutingConfig, n: int, state: RoutingState | None = None
) -> tuple[list[str | None], RoutingState]:
    """Route n leads, storing the state as JSON between each, as a restarting worker would."""
    state = state or RoutingState()
    picked: list[str | None] = []
    for _ in range(n):
        assignment = route(lead(), FACTS, cfg, state, NOW)
        picked.append(assignment.rep)
        state = RoutingState.from_json(json.loads(json.dumps(assignment.state_after.to_json())))
    return picked, state


def without_counts(state: RoutingState) -> RoutingState:
    return state.with_open_handoffs({})


# -- rules ------------------------------------------------------------------------------

RULES = (
    RoutingRule("enterprise", "enterprise", (Predicate("account.employees", Operator.GTE, 1000),)),
    RoutingRule("na", "na", (Predicate("account.country", Operator.IN, ("US", "CA")),)),
    RoutingRule(
        "hot_a", "na", (Predicate("grade", Operator.EQ, "A"), Predicate("score", Operator.GTE, 80))
    ),
)
THREE = config(team("emea", "e1"), team("na", "n1"), team("enterprise", "x1"), rules=RULES)


def test_first_matching_rule_wins_else_the_default_team() -> None:
    big_us = route(lead("US", employees=5000), FACTS, THREE, RoutingState(), NOW)
    assert (big_us.team, big_us.rep, big_us.rule) == ("enterprise", "x1", "enterprise")
    assert "rule 'enterprise' chose team 'enterprise'" in big_us.reason
    us = route(lead("us"), FACTS, THREE, RoutingState(), NOW)  # values compare ignoring case
    assert (us.team, us.rule) == ("na", "na")
    de = route(lead("DE"), FACTS, THREE, RoutingState(), NOW)
    assert (de.team, de.rule, de.manager) == ("emea", None, "boss@emea")
    assert "no routing rule matched; default team 'emea'" in de.reason


def test_grade_and_score_are_read_from_the_facts() -> None:
    hot = route(lead("DE"), HandoffFacts(grade="A", score=85), THREE, RoutingState(), NOW)
    assert hot.team == "na" and hot.rule == "hot_a"
    warm = route(lead("DE"), HandoffFacts(grade="A", score=60), THREE, RoutingState(), NOW)
    assert warm.team == "emea"


def test_field_value_reads_facts_then_the_lead() -> None:
    facts = HandoffFacts(kind=HandoffKind.MANUAL, trigger="demo_request", grade="B", score=70)
    subject = lead("DE")
    assert field_value(subject, facts, "kind") == "manual"
    assert field_value(subject, facts, "trigger") == "demo_request"
    assert field_value(subject, facts, "score") == 70
    assert field_value(subject, facts, "team", team="emea") == "emea"
    assert field_value(subject, facts, "account.country") == "DE"
    assert field_value(subject, facts, "email_domain") == "acme.io"


# -- eligibility ------------------------------------------------------------------------


def test_full_reps_are_skipped_not_waited_for() -> None:
    cfg = config(team("emea", Rep("a", capacity=2), Rep("b", capacity=5)))
    state = RoutingState(open_handoffs={"a": 2, "b": 1})
    assignment = route(lead(), FACTS, cfg, state, NOW)
    assert assignment.rep == "b"
    assert "'a' full (2 of 2 open)" in assignment.reason
    assert assignment.state_after.open_handoffs == {"a": 2, "b": 2}


def test_out_of_office_is_half_open_and_skipped() -> None:
    away = OutOfOffice(NOW - timedelta(days=1), NOW + timedelta(hours=2))
    cfg = config(team("emea", Rep("a", out_of_office=(away,)), "b"))
    assert route(lead(), FACTS, cfg, RoutingState(), NOW).rep == "b"
    assert (
        "'a' out of office until 2026-03-02 12:00 UTC"
        in route(lead(), FACTS, cfg, RoutingState(), NOW).reason
    )
    assert route(lead(), FACTS, cfg, RoutingState(), away.end).rep == "a"
    assert route(lead(), FACTS, cfg, RoutingState(), away.start).rep == "b"


def test_nobody_eligible_means_the_team_queue_never_a_dropped_lead() -> None:
    away = OutOfOffice(NOW - timedelta(days=1), NOW + timedelta(days=1))
    cfg = config(team("emea", Rep("a", out_of_office=(away,)), Rep("b", capacity=0)))
    state = RoutingState(teams={"emea": TeamState(last_rep="a", roster=("a", "b"))})
    assignment = route(lead(), FACTS, cfg, state, NOW)
    assert isinstance(assignment, Assignment)
    assert (assignment.team, assignment.rep, assignment.queued) == ("emea", None, True)
    assert assignment.manager == "boss@emea"
    assert "no eligible rep in team 'emea'" in assignment.reason
    assert "waits in the team queue" in assignment.reason
    assert assignment.state_after == state  # nothing moves for a queued lead


def test_a_team_without_members_queues() -> None:
    cfg = config(Team("emea", manager="boss"))
    assignment = route(lead(), FACTS, cfg, RoutingState(), NOW)
    assert assignment.queued and "has no members" in assignment.reason


def test_excluded_reps_are_skipped() -> None:
    cfg = config(team("emea", "a", "b"))
    assert route(lead(), FACTS, cfg, RoutingState(), NOW, exclude=frozenset({"A"})).rep == "b"


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        route(lead(), FACTS, config(team("emea", "a")), RoutingState(), datetime(2026, 3, 2))


# -- account ownership ------------------------------------------------------------------


def test_the_account_owner_gets_the_lead_even_in_another_team() -> None:
    cfg = config(team("emea", "e1", "e2"), team("na", "n1", "N.Owner@x.io"))
    assignment = route(lead(owner="n.owner@x.io"), FACTS, cfg, RoutingState(), NOW)
    assert (assignment.team, assignment.rep) == ("na", "N.Owner@x.io")
    assert assignment.by_account_owner and assignment.rule is None
    # Ownership is not a round-robin turn: the pools' positions do not move.
    assert assignment.state_after.teams == {}
    assert assignment.state_after.open_handoffs == {"N.Owner@x.io": 1}


def test_the_owner_in_several_teams_is_taken_in_the_team_the_rules_chose() -> None:
    cfg = config(team("emea", "e1", "both"), team("na", "both"), rules=RULES[1:2])
    assignment = route(lead("US", owner="both"), FACTS, cfg, RoutingState(), NOW)
    assert (assignment.team, assignment.rep) == ("na", "both")


def test_ownership_outranks_capacity_by_default() -> None:
    cfg = config(team("emea", Rep("owner", capacity=1), "other"))
    state = RoutingState(open_handoffs={"owner": 1})
    assert route(lead(owner="owner"), FACTS, cfg, state, NOW).rep == "owner"


def test_a_full_owner_is_skipped_when_capacity_wins() -> None:
    cfg = config(
        team("emea", Rep("owner", capacity=1), "other"), account_owner_ignores_capacity=False
    )
    state = RoutingState(open_handoffs={"owner": 1})
    assignment = route(lead(owner="owner"), FACTS, cfg, state, NOW)
    assert assignment.rep == "other" and not assignment.by_account_owner
    assert "account owner 'owner' is full (1 of 1 open)" in assignment.reason


def test_an_owner_out_of_office_is_skipped_and_the_rules_route() -> None:
    away = OutOfOffice(NOW, NOW + timedelta(days=7))
    cfg = config(team("emea", Rep("owner", out_of_office=(away,)), "other"))
    assignment = route(lead(owner="owner"), FACTS, cfg, RoutingState(), NOW)
    assert assignment.rep == "other"
    assert assignment.reason.startswith("account owner 'owner' is out of office until 2026-03-09")


def test_an_owner_who_is_not_a_rep_is_ignored() -> None:
    assignment = route(
        lead(owner="gone@x.io"), FACTS, config(team("emea", "a")), RoutingState(), NOW
    )
    assert assignment.rep == "a"
    assert "account owner 'gone@x.io' is not a rep in any team" in assignment.reason


def test_reassigning_after_a_breach_skips_the_owner() -> None:
    cfg = config(team("emea", "owner", "other"))
    assignment = route(
        lead(owner="owner"), FACTS, cfg, RoutingState(), NOW, exclude=frozenset({"owner"})
    )
    assert assignment.rep == "other"


# -- round robin ------------------------------------------------------------------------


def test_round_robin_continues_across_restarts() -> None:
    cfg = config(team("emea", "a", "b", "c"))
    first, state = run(cfg, 4)
    assert first == ["a", "b", "c", "a"]
    second, _ = run(cfg, 3, state)  # a new process, the state read back from storage
    assert second == ["b", "c", "a"]


def test_round_robin_does_not_reset_when_a_member_joins() -> None:
    _, state = run(config(team("emea", "a", "b", "c")), 2)  # a, b
    grown = config(team("emea", "new", "a", "b", "c"))  # joins at the front
    picked, _ = run(grown, 5, state)
    assert picked == ["c", "new", "a", "b", "c"]


def test_round_robin_continues_after_the_last_rep_leaves() -> None:
    _, state = run(config(team("emea", "a", "b", "c", "d")), 2)  # a, b; b was last
    shrunk = config(team("emea", "a", "c", "d"))
    picked, _ = run(shrunk, 4, state)
    assert picked == ["c", "d", "a", "c"]
    # Several leave, including the next in line: the turn passes to the first still there.
    _, state = run(config(team("emea", "a", "b", "c", "d")), 2)
    picked, _ = run(config(team("emea", "a", "d")), 2, state)
    assert picked == ["d", "a"]


def test_round_robin_skips_without_losing_the_order() -> None:
    away = OutOfOffice(NOW - timedelta(hours=1), NOW + timedelta(hours=1))
    cfg = config(team("emea", "a", Rep("b", out_of_office=(away,)), "c"))
    picked, _ = run(cfg, 4)
    assert picked == ["a", "c", "a", "c"]


# -- weighted round robin ---------------------------------------------------------------


def weighted(*weights: tuple[str, int]) -> RoutingConfig:
    reps = [Rep(name, weight=w) for name, w in weights]
    return config(team("na", *reps, strategy=Strategy.WEIGHTED_ROUND_ROBIN))


def test_weighted_round_robin_matches_weights_exactly_and_interleaves() -> None:
    cfg = weighted(("a", 5), ("b", 1), ("c", 1))
    picked, state = run(cfg, 7 * 30)
    assert Counter(picked) == {"a": 150, "b": 30, "c": 30}
    assert picked[:7] == ["a", "a", "b", "a", "c", "a", "a"]  # nginx's smooth order
    for i in range(0, len(picked), 7):  # every cycle of 7 holds exactly 5, 1, 1
        assert Counter(picked[i : i + 7]) == {"a": 5, "b": 1, "c": 1}
    assert dict(state.team("na").current_weights) == {"a": 0, "b": 0, "c": 0}


def test_weighted_round_robin_three_two_one() -> None:
    picked, _ = run(weighted(("a", 3), ("b", 2), ("c", 1)), 600)
    assert Counter(picked) == {"a": 300, "b": 200, "c": 100}


def test_weighted_round_robin_survives_membership_changes() -> None:
    _, state = run(weighted(("a", 3), ("b", 1)), 3)
    cfg = weighted(("b", 1), ("c", 3))  # a leaves, c joins
    picked, state = run(cfg, 400, state)
    counts = Counter(picked)
    assert set(counts) == {"b", "c"} and abs(counts["c"] - 300) <= 4
    assert set(state.team("na").current_weights) == {"b", "c"}


def test_weighted_round_robin_leaves_out_ineligible_members() -> None:
    cfg = config(
        team(
            "na",
            Rep("a", weight=3, capacity=0),
            Rep("b", weight=1),
            Rep("c", weight=1),
            strategy=Strategy.WEIGHTED_ROUND_ROBIN,
        )
    )
    picked, _ = run(cfg, 10)
    assert Counter(picked) == {"b": 5, "c": 5}


# -- least loaded -----------------------------------------------------------------------


def test_least_loaded_picks_the_fewest_open_ties_in_round_robin_order() -> None:
    cfg = config(team("ent", "a", "b", "c", strategy=Strategy.LEAST_LOADED))
    state = RoutingState(open_handoffs={"a": 3, "b": 1, "c": 1})
    first = route(lead(), FACTS, cfg, state, NOW)
    assert first.rep == "b" and "least loaded (1 open)" in first.reason
    second = route(lead(), FACTS, cfg, first.state_after, NOW)
    assert second.rep == "c"
    third = route(lead(), FACTS, cfg, second.state_after, NOW)  # b 2, c 2, a 3: after c → b
    assert third.rep == "b"


def test_least_loaded_evens_out_from_zero() -> None:
    cfg = config(team("ent", "a", "b", "c", strategy=Strategy.LEAST_LOADED))
    picked, state = run(cfg, 9)
    assert picked == ["a", "b", "c"] * 3
    assert state.open_handoffs == {"a": 3, "b": 3, "c": 3}


# -- state ------------------------------------------------------------------------------


def test_state_is_plain_json_and_round_trips() -> None:
    cfg = config(
        team("emea", "a", "b"),
        team("na", Rep("n1", weight=2), Rep("n2"), strategy=Strategy.WEIGHTED_ROUND_ROBIN),
        rules=(RoutingRule("na", "na", (Predicate("country", Operator.EQ, "US"),)),),
    )
    state = route(lead("US"), FACTS, cfg, RoutingState(), NOW).state_after
    state = route(lead("DE"), FACTS, cfg, state, NOW).state_after
    data = state.to_json()
    assert json.loads(json.dumps(data)) == data
    assert data == {
        "version": 1,
        "teams": {
            "emea": {"last_rep": "a", "roster": ["a", "b"], "current_weights": {}},
            "na": {
                "last_rep": "n1",
                "roster": ["n1", "n2"],
                "current_weights": {"n1": -1, "n2": 1},
            },
        },
        "open_handoffs": {"a": 1, "n1": 1},
    }
    assert RoutingState.from_json(data) == state
    assert RoutingState.from_json(None) == RoutingState()


def test_state_is_immutable_and_counts_can_come_from_storage() -> None:
    state = RoutingState(open_handoffs={"a": 1})
    with pytest.raises(TypeError):
        state.open_handoffs["a"] = 5  # type: ignore[index]
    assert state.with_handoff_closed("a").open_count("a") == 0
    assert state.with_handoff_closed("a").with_handoff_closed("a").open_count("a") == 0
    assert state.with_open_handoffs({"b": 4}).open_handoffs == {"b": 4}


@pytest.mark.parametrize(
    "data",
    [
        {"version": 99},
        {"version": 1, "teams": {"emea": {"current_weights": {"a": "x"}}}},
        {"version": 1, "open_handoffs": {"a": True}},
        {"version": 1, "teams": ["emea"]},
    ],
)
def test_malformed_state_is_refused(data: dict[str, object]) -> None:
    with pytest.raises(RoutingError):
        RoutingState.from_json(data)


def test_config_refuses_unknown_teams_and_inconsistent_reps() -> None:
    with pytest.raises(RoutingError, match="unknown team 'nope'"):
        RoutingConfig((team("emea", "a"),), (RoutingRule("r", "nope"),), "emea")
    with pytest.raises(RoutingError, match="different capacity"):
        config(team("emea", Rep("a", capacity=1)), team("na", Rep("a", capacity=2)))
    both = config(team("emea", Rep("a", weight=1)), team("na", Rep("a", weight=3)))
    assert both.find_rep("A", prefer_team="na") == (both.team("na"), Rep("a", weight=3))
    with pytest.raises(RoutingError, match="twice"):
        team("emea", "a", "a")
