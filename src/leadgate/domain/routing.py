"""Routing: which team and which rep a sales-ready lead goes to.

``route`` is a pure function: it takes the lead, the facts of the handoff, the routing
configuration, the routing state and the time, and returns an ``Assignment`` holding the
new state. The caller stores that state (``RoutingState.to_json``) in the same transaction
as the handoff, and must serialise calls per team (a row lock on the state) so that two
workers never take the same round-robin turn.

Order of decisions:

1. Ordered rules, first match wins, choose a team; no match → the default team.
2. When the lead's account has an owner who is a rep in any team, the lead goes to that
   owner. Ownership outranks capacity (``account_owner_ignores_capacity``, on by
   default: the account's leads belong with the person who already works it; capacity
   limits what the pool deals out) but not availability: an owner who is out of office
   now is skipped like any other rep, and the lead is routed by the rules, so its SLA can
   still be met. An owner who is not a known rep is ignored (noted in the reason).
3. Inside the team, the team's strategy picks among eligible members: a member is
   eligible when not out of office at ``now`` and below capacity. Ineligible members are
   skipped, never waited for.
4. No eligible member → ``Assignment.rep`` is None: the lead waits in the team's queue and
   the caller alerts the team manager. A lead is never dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from leadgate.domain.calendar import as_utc
from leadgate.domain.errors import DomainError
from leadgate.domain.leads import Lead
from leadgate.domain.predicates import Predicate
from leadgate.domain.scoring import Score

STATE_VERSION = 1


class RoutingError(DomainError):
    """A routing configuration or stored state that cannot be used."""


# -- what conditions read ---------------------------------------------------------------


class HandoffKind(StrEnum):
    """How a handoff started."""

    GATE = "gate"  # the lead crossed the sales-ready (or skip-to-SQL) gate
    MANUAL = "manual"  # a person or an API call pushed it to sales


FACT_FIELDS: frozenset[str] = frozenset(
    {"kind", "trigger", "grade", "score", "fit", "engagement", "probability", "team"}
)
"""Condition fields read from ``HandoffFacts`` (and the routed team) instead of the lead."""


@dataclass(frozen=True, slots=True)
class HandoffFacts:
    """What routing and SLA conditions can read beyond the lead and its account.

    ``score`` is the total score; ``trigger`` names what caused the handoff, normally the
    touchpoint that crossed the gate ('demo_request'), None when unknown.

    Example: ``HandoffFacts.from_score(score, kind=HandoffKind.GATE, trigger="demo_request")``
    or ``HandoffFacts(grade="A", score=72)``.
    """

    kind: HandoffKind = HandoffKind.GATE
    trigger: str | None = None
    grade: str | None = None
    score: float | None = None
    fit: float | None = None
    engagement: float | None = None
    probability: float | None = None

    @classmethod
    def from_score(
        cls, score: Score, *, kind: HandoffKind = HandoffKind.GATE, trigger: str | None = None
    ) -> HandoffFacts:
        """Given the lead's current score, return the facts conditions read."""
        return cls(
            kind=kind,
            trigger=trigger,
            grade=score.grade.value if score.grade else None,
            score=score.total,
            fit=score.fit,
            engagement=score.engagement,
            probability=score.probability,
        )


def field_value(lead: Lead, facts: HandoffFacts, name: str, team: str | None = None) -> Any:
    """Given a condition's field name, return what it refers to for this handoff.

    Names in FACT_FIELDS come from ``facts`` (``team`` is the routed team, known to SLA
    conditions only); anything else is ``lead.attribute(name)``: ``country``,
    ``source_channel``, ``account.region``, ``account.employees``, custom traits...
    """
    if name not in FACT_FIELDS:
        return lead.attribute(name)
    if name == "team":
        return team
    if name == "kind":
        return facts.kind.value
    value: Any = getattr(facts, name)
    return value


def conditions_hold(
    conditions: Iterable[Predicate], lead: Lead, facts: HandoffFacts, team: str | None = None
) -> bool:
    """Given predicates, return whether all hold for the handoff (no predicates: true)."""
    return all(p.test(field_value(lead, facts, p.field, team)) for p in conditions)


# -- configuration ----------------------------------------------------------------------


class Strategy(StrEnum):
    """How a team shares its leads among eligible members."""

    ROUND_ROBIN = "round_robin"  # each in turn, continuing after the last one assigned
    WEIGHTED_ROUND_ROBIN = "weighted_round_robin"  # in proportion to weights, interleaved
    LEAST_LOADED = "least_loaded"  # fewest open handoffs; ties in round-robin order


@dataclass(frozen=True, slots=True)
class OutOfOffice:
    """A rep's absence, ``[start, end)`` as aware instants (stored in UTC)."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", as_utc(self.start))
        object.__setattr__(self, "end", as_utc(self.end))
        if self.end <= self.start:
            raise RoutingError(f"out of office ends ({self.end}) before it starts ({self.start})")

    def covers(self, moment: datetime) -> bool:
        """Given an aware instant, return whether the rep is away then."""
        return self.start <= as_utc(moment) < self.end


@dataclass(frozen=True, slots=True)
class Rep:
    """A member of a team.

    ``id`` is what ``Lead.owner`` and ``Account.owner`` hold (an email or CRM user id).
    ``weight`` counts for weighted round-robin only. ``capacity`` is the most open
    handoffs the rep may hold (None: no limit; 0: takes no new leads from the pool).

    Example: ``Rep("ann@acme.io", weight=2, capacity=20, out_of_office=(OutOfOffice(
    datetime(2026, 8, 3, tzinfo=UTC), datetime(2026, 8, 15, tzinfo=UTC)),))``.
    """

    id: str
    weight: int = 1
    capacity: int | None = None
    out_of_office: tuple[OutOfOffice, ...] = ()

    def __post_init__(self) -> None:
        if not self.id.strip():
            raise RoutingError("a rep needs an id")
        if self.weight < 1:
            raise RoutingError(f"rep {self.id!r}: weight must be at least 1, found {self.weight}")
        if self.capacity is not None and self.capacity < 0:
            raise RoutingError(f"rep {self.id!r}: capacity must not be negative")

    def absence(self, moment: datetime) -> OutOfOffice | None:
        """Given an aware instant, return the absence covering it, or None."""
        return next((w for w in self.out_of_office if w.covers(moment)), None)

    def is_full(self, open_handoffs: int) -> bool:
        """Given the rep's open handoffs, return whether capacity is reached."""
        return self.capacity is not None and open_handoffs >= self.capacity


@dataclass(frozen=True, slots=True)
class Team:
    """Reps who share leads by a strategy, with a manager alerted when nobody can take one.

    ``calendar`` names the business-hours calendar SLA policies without their own use.
    Example: ``Team("emea", Strategy.ROUND_ROBIN, (Rep("ann@x.io"), Rep("bob@x.io")),
    manager="eva@x.io", calendar="berlin")``.
    """

    name: str
    strategy: Strategy = Strategy.ROUND_ROBIN
    members: tuple[Rep, ...] = ()
    manager: str | None = None
    calendar: str | None = None

    def __post_init__(self) -> None:
        ids = [rep.id for rep in self.members]
        if len(set(ids)) != len(ids):
            raise RoutingError(f"team {self.name!r} lists a rep twice")

    def member(self, rep_id: str) -> Rep | None:
        """Given a rep id (any case), return that member, or None."""
        wanted = rep_id.casefold()
        return next((rep for rep in self.members if rep.id.casefold() == wanted), None)


@dataclass(frozen=True, slots=True)
class RoutingRule:
    """When every condition holds (none: always), the lead goes to ``team``.

    Example: ``RoutingRule("enterprise", "enterprise",
    (Predicate("account.employees", Operator.GTE, 1000),))``.
    """

    id: str
    team: str
    conditions: tuple[Predicate, ...] = ()
    description: str = ""

    def matches(self, lead: Lead, facts: HandoffFacts) -> bool:
        """Given a lead and the handoff facts, return whether this rule applies."""
        return conditions_hold(self.conditions, lead, facts)


@dataclass(frozen=True, slots=True)
class RoutingConfig:
    """Teams, ordered rules and the default team.

    A rep may be a member of several teams (with a different weight in each); capacity
    and out-of-office describe the person, so they must be the same in every team, and
    open handoffs are counted per rep across teams. Raises RoutingError otherwise, or for
    an unknown team name.
    """

    teams: tuple[Team, ...]
    rules: tuple[RoutingRule, ...]
    default_team: str
    account_owner_ignores_capacity: bool = True

    def __post_init__(self) -> None:
        names = [team.name for team in self.teams]
        if len(set(names)) != len(names):
            raise RoutingError("two teams share a name")
        for name in (self.default_team, *(rule.team for rule in self.rules)):
            if name not in names:
                raise RoutingError(f"unknown team {name!r}; teams: {', '.join(names)}")
        seen: dict[str, Rep] = {}
        for team in self.teams:
            for rep in team.members:
                first = seen.setdefault(rep.id.casefold(), rep)
                if (first.capacity, first.out_of_office) != (rep.capacity, rep.out_of_office):
                    raise RoutingError(
                        f"rep {rep.id!r} has different capacity or out-of-office in "
                        f"team {team.name!r} than in an earlier team"
                    )

    def team(self, name: str) -> Team:
        """Given a team name, return the team (KeyError when unknown)."""
        for team in self.teams:
            if team.name == name:
                return team
        raise KeyError(name)

    def choose_team(self, lead: Lead, facts: HandoffFacts) -> tuple[str, RoutingRule | None]:
        """Given a lead and facts, return the team of the first matching rule and that rule,
        or the default team and None."""
        for rule in self.rules:
            if rule.matches(lead, facts):
                return rule.team, rule
        return self.default_team, None

    def find_rep(self, rep_id: str, prefer_team: str | None = None) -> tuple[Team, Rep] | None:
        """Given a rep id (any case), return (team, member): in ``prefer_team`` when the
        rep is a member there, else the first team listing the rep; None when unknown."""
        ordered = sorted(self.teams, key=lambda team: team.name != prefer_team)
        for team in ordered:
            if (rep := team.member(rep_id)) is not None:
                return team, rep
        return None


# -- state ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TeamState:
    """One team's strategy position, as plain data.

    ``last_rep``: the rep assigned last by the strategy (an id, not an index, so adding
    or removing members does not move the turn). ``roster``: the member ids, in order, at
    that moment; when ``last_rep`` has since left the team it tells who came after them.
    ``current_weights``: smooth weighted round-robin's running weights per rep id.
    """

    last_rep: str | None = None
    roster: tuple[str, ...] = ()
    current_weights: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "roster", tuple(self.roster))
        object.__setattr__(self, "current_weights", MappingProxyType(dict(self.current_weights)))


@dataclass(frozen=True, slots=True)
class RoutingState:
    """Per-team strategy state and per-rep open-handoff counts; immutable.

    Round-trips through JSON: ``RoutingState.from_json(json.loads(json.dumps(
    state.to_json())))`` equals ``state``. Open counts may be kept here (``route`` adds one
    per assignment; ``with_handoff_closed`` takes one away) or rebuilt from the handoffs
    table before each call with ``with_open_handoffs``; the second cannot drift.
    """

    teams: Mapping[str, TeamState] = field(default_factory=dict)
    open_handoffs: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "teams", MappingProxyType(dict(self.teams)))
        object.__setattr__(self, "open_handoffs", MappingProxyType(dict(self.open_handoffs)))

    def team(self, name: str) -> TeamState:
        """Given a team name, return its state (empty when it never assigned)."""
        return self.teams.get(name, TeamState())

    def open_count(self, rep_id: str) -> int:
        """Given a rep id, return the rep's open handoffs."""
        return self.open_handoffs.get(rep_id, 0)

    def with_open_handoffs(self, counts: Mapping[str, int]) -> RoutingState:
        """Given open handoffs per rep id (e.g. counted in the database), return the state
        holding exactly those counts."""
        return RoutingState(self.teams, counts)

    def with_handoff_closed(self, rep_id: str) -> RoutingState:
        """Given the rep of a handoff that closed (accepted, rejected...), return the state
        with one open handoff fewer for that rep (never below zero)."""
        counts = dict(self.open_handoffs)
        counts[rep_id] = max(0, counts.get(rep_id, 0) - 1)
        return RoutingState(self.teams, counts)

    def to_json(self) -> dict[str, Any]:
        """Return the state as JSON-able plain data."""
        return {
            "version": STATE_VERSION,
            "teams": {
                name: {
                    "last_rep": ts.last_rep,
                    "roster": list(ts.roster),
                    "current_weights": dict(ts.current_weights),
                }
                for name, ts in sorted(self.teams.items())
            },
            "open_handoffs": dict(sorted(self.open_handoffs.items())),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> RoutingState:
        """Given what ``to_json`` returned (or None for a fresh start), return the state.

        Raises RoutingError when the data does not have that shape.
        """
        if not data:
            return cls()
        if data.get("version") != STATE_VERSION:
            raise RoutingError(f"routing state version {data.get('version')!r} is not supported")
        try:
            teams = {
                str(name): TeamState(
                    last_rep=None if raw.get("last_rep") is None else str(raw["last_rep"]),
                    roster=tuple(str(rep) for rep in raw.get("roster", ())),
                    current_weights={
                        str(rep): _whole(weight)
                        for rep, weight in raw.get("current_weights", {}).items()
                    },
                )
                for name, raw in data.get("teams", {}).items()
            }
            counts = {str(rep): _whole(n) for rep, n in data.get("open_handoffs", {}).items()}
        except (AttributeError, TypeError, ValueError) as exc:
            raise RoutingError(f"routing state is malformed: {exc}") from exc
        return cls(teams, counts)


def _whole(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected a whole number, found {value!r}")
    return value


# -- routing ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Assignment:
    """Where a lead goes, why, and the routing state to store.

    ``rep`` None means nobody in ``team`` could take the lead now: it waits in the team
    queue and the caller alerts ``manager``. ``rule`` is the rule that chose the team by
    the rules (None: the default team). ``by_account_owner`` is true when the account
    owner got the lead (``team`` is then a team the owner belongs to).
    """

    team: str
    rep: str | None
    reason: str
    state_after: RoutingState
    rule: str | None = None
    by_account_owner: bool = False
    manager: str | None = None

    @property
    def queued(self) -> bool:
        """Whether the lead waits in the team queue for a rep."""
        return self.rep is None


def route(
    lead: Lead,
    facts: HandoffFacts,
    config: RoutingConfig,
    state: RoutingState,
    now: datetime,
    *,
    exclude: frozenset[str] = frozenset(),
) -> Assignment:
    """Given a lead, the handoff facts, the configuration, the state and the time, return
    the assignment (team, rep or None, reason, the state to store).

    ``exclude`` lists rep ids (any case) that must not get the lead, e.g. the owner
    whose SLA was breached when reassigning.

    Example::

        assignment = route(lead, HandoffFacts(grade="A", score=80), config, state, now)
        save(assignment.state_after.to_json())
        if assignment.queued:
            alert(assignment.manager, assignment.reason)
    """
    now = as_utc(now)
    excluded = frozenset(rep_id.casefold() for rep_id in exclude)
    team_name, rule = config.choose_team(lead, facts)
    rule_id = rule.id if rule else None
    why = (
        f"rule {rule.id!r} chose team {team_name!r}"
        if rule
        else (f"no routing rule matched; default team {team_name!r}")
    )
    owner = lead.account.owner if lead.account else None
    if owner:
        owned, note = _to_owner(owner, team_name, config, state, now, excluded)
        if owned is not None:
            team, rep = owned
            return Assignment(
                team.name,
                rep.id,
                note,
                _opened(state, rep.id),
                rule=rule_id,
                by_account_owner=True,
                manager=team.manager,
            )
        why = f"{note}; {why}"
    team = config.team(team_name)
    picked, detail, team_state = _pick(team, state, now, excluded)
    if picked is None:
        return Assignment(
            team.name,
            None,
            f"{why}; {detail}; the lead waits in the team queue",
            state,
            rule=rule_id,
            manager=team.manager,
        )
    teams = dict(state.teams)
    teams[team.name] = team_state
    after = _opened(RoutingState(teams, state.open_handoffs), picked.id)
    return Assignment(
        team.name, picked.id, f"{why}; {detail}", after, rule=rule_id, manager=team.manager
    )


def route_within(
    team_name: str,
    config: RoutingConfig,
    state: RoutingState,
    now: datetime,
    *,
    exclude: frozenset[str] = frozenset(),
) -> Assignment:
    """Given a team whose queue holds a lead, return the assignment to the rep its strategy
    picks now, or a queued assignment when still nobody is eligible (capacity freed, a rep
    back from leave: the queue drains in order, oldest first). ``exclude`` as in ``route``."""
    team = config.team(team_name)
    excluded = frozenset(rep_id.casefold() for rep_id in exclude)
    picked, detail, team_state = _pick(team, state, as_utc(now), excluded)
    if picked is None:
        return Assignment(team.name, None, detail, state, manager=team.manager)
    teams = dict(state.teams)
    teams[team.name] = team_state
    after = _opened(RoutingState(teams, state.open_handoffs), picked.id)
    return Assignment(
        team.name, picked.id, f"from the {team.name!r} queue; {detail}", after, manager=team.manager
    )


def _opened(state: RoutingState, rep_id: str) -> RoutingState:
    counts = dict(state.open_handoffs)
    counts[rep_id] = counts.get(rep_id, 0) + 1
    return RoutingState(state.teams, counts)


def _to_owner(
    owner: str,
    team_name: str,
    config: RoutingConfig,
    state: RoutingState,
    now: datetime,
    excluded: frozenset[str],
) -> tuple[tuple[Team, Rep] | None, str]:
    found = config.find_rep(owner, prefer_team=team_name)
    if found is None:
        return None, f"account owner {owner!r} is not a rep in any team"
    team, rep = found
    if rep.id.casefold() in excluded:
        return None, f"account owner {rep.id!r} is excluded"
    if absence := rep.absence(now):
        return None, f"account owner {rep.id!r} is out of office until {_when(absence.end)}"
    open_now = state.open_count(rep.id)
    if rep.is_full(open_now) and not config.account_owner_ignores_capacity:
        return None, f"account owner {rep.id!r} is full ({open_now} of {rep.capacity} open)"
    return (team, rep), f"the account's owner {rep.id!r} (team {team.name!r}) gets the lead"


def _pick(
    team: Team, state: RoutingState, now: datetime, excluded: frozenset[str]
) -> tuple[Rep | None, str, TeamState]:
    """Return the chosen member (or None), what happened in words, and the team's new state."""
    team_state = state.team(team.name)
    order = _rotation(team, team_state)
    eligible: list[Rep] = []
    skipped: list[str] = []
    for rep in order:
        open_now = state.open_count(rep.id)
        if rep.id.casefold() in excluded:
            skipped.append(f"{rep.id!r} excluded")
        elif absence := rep.absence(now):
            skipped.append(f"{rep.id!r} out of office until {_when(absence.end)}")
        elif rep.is_full(open_now):
            skipped.append(f"{rep.id!r} full ({open_now} of {rep.capacity} open)")
        else:
            eligible.append(rep)
    skipped_text = f" (skipped {', '.join(skipped)})" if skipped else ""
    if not eligible:
        if not team.members:
            return None, f"team {team.name!r} has no members", team_state
        return None, f"no eligible rep in team {team.name!r}{skipped_text}", team_state
    weights = dict(team_state.current_weights)
    if team.strategy is Strategy.WEIGHTED_ROUND_ROBIN:
        picked = _smooth_weighted(team, eligible, weights)
        how = "weighted round robin"
    elif team.strategy is Strategy.LEAST_LOADED:
        # ``eligible`` is in round-robin order and min() keeps the first of equals.
        picked = min(eligible, key=lambda rep: state.open_count(rep.id))
        how = f"least loaded ({state.open_count(picked.id)} open)"
    else:
        picked = eligible[0]
        how = "round robin"
    after = TeamState(
        last_rep=picked.id,
        roster=tuple(rep.id for rep in team.members),
        current_weights=weights,
    )
    return picked, f"{how} picked {picked.id!r}{skipped_text}", after


def _rotation(team: Team, team_state: TeamState) -> list[Rep]:
    """The members in turn order: starting after the last assigned rep.

    When that rep has left the team, the turn passes to the first member who came after
    them in the roster of the time, so membership changes never restart the rotation.
    """
    members = list(team.members)
    ids = [rep.id for rep in members]
    last = team_state.last_rep
    if last is None or not members:
        return members
    if last in ids:
        start = ids.index(last) + 1
    else:
        start = 0
        roster = list(team_state.roster)
        if last in roster:
            at = roster.index(last)
            after = roster[at + 1 :] + roster[:at]
            successor = next((rep_id for rep_id in after if rep_id in ids), None)
            if successor is not None:
                start = ids.index(successor)
    start %= len(members)
    return members[start:] + members[:start]


def _smooth_weighted(team: Team, eligible: list[Rep], weights: dict[str, int]) -> Rep:
    """Smooth weighted round-robin (as nginx does it), updating ``weights`` in place.

    Each eligible member's running weight grows by its weight; the largest is picked (the
    first in member order among equals) and lowered by the sum of eligible weights. Over
    any sum-of-weights picks from the zero state each member is picked exactly its weight
    times, interleaved rather than in runs. Departed members' weights are dropped; new
    members start at zero.
    """
    member_ids = {rep.id for rep in team.members}
    for rep_id in list(weights):
        if rep_id not in member_ids:
            del weights[rep_id]
    in_order = [rep for rep in team.members if rep in eligible]
    total = sum(rep.weight for rep in in_order)
    for rep in in_order:
        weights[rep.id] = weights.get(rep.id, 0) + rep.weight
    picked = max(in_order, key=lambda rep: weights[rep.id])
    weights[picked.id] -= total
    return picked


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")
