"""Reading the handoff configuration from YAML, with line and column in every problem.

One document configures handoff to sales: business-hours ``calendars``, ``teams``,
``routing`` rules, ``sla`` policies, the reasons sales may give when recycling or
disqualifying a lead, and the ``nurture`` tracks recycled leads go to
(docs/handoff-config.md). It is read with PyYAML's safe loader and checked key by key in
the style of ``model_yaml``; every problem found is reported, not just the first.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

from leadgate.adapters.model_yaml import _ID, Path, Problem, _Checker, _kind, _number, compose
from leadgate.domain.calendar import (
    END_OF_DAY,
    BusinessCalendar,
    CalendarError,
    Span,
    Weekday,
    spans_overlap,
    zone_info,
)
from leadgate.domain.errors import DomainError
from leadgate.domain.handoff_config import (
    DEFAULT_DISQUALIFY_REASONS,
    DEFAULT_NURTURE_TRACK,
    DEFAULT_RECYCLE_REASONS,
    HandoffConfig,
)
from leadgate.domain.predicates import Operator, Predicate
from leadgate.domain.routing import (
    HandoffKind,
    OutOfOffice,
    Rep,
    RoutingConfig,
    RoutingRule,
    Strategy,
    Team,
)
from leadgate.domain.scoring_model import Grade
from leadgate.domain.sla import BreachActions, SlaPolicies, SlaPolicy

_T = TypeVar("_T")

_DAYS: dict[str, tuple[Weekday, ...]] = {
    "mon": (Weekday.MONDAY,),
    "tue": (Weekday.TUESDAY,),
    "wed": (Weekday.WEDNESDAY,),
    "thu": (Weekday.THURSDAY,),
    "fri": (Weekday.FRIDAY,),
    "sat": (Weekday.SATURDAY,),
    "sun": (Weekday.SUNDAY,),
}
_WEEKDAYS = "weekdays"  # Monday to Friday; a day named on its own overrides it
_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_TOP = [
    "description",
    "calendars",
    "teams",
    "routing",
    "sla",
    "recycle_reasons",
    "disqualify_reasons",
    "nurture",
]


@dataclass
class HandoffReport:
    """Every error and warning in a handoff document, and the config when it is valid."""

    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    config: HandoffConfig | None = None


class HandoffConfigInvalid(ValueError):
    """A handoff document with errors; ``problems`` lists every one."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems


def load_handoff_config(text: str, source: str = "<handoff>") -> HandoffConfig:
    """Given YAML text, return the handoff configuration, or raise HandoffConfigInvalid
    listing every error.

    Example: ``load_handoff_config(default_handoff_text()).routing.default_team``.
    """
    report = validate_handoff_config(text, source)
    if report.errors or report.config is None:
        raise HandoffConfigInvalid(report.errors)
    return report.config


def validate_handoff_config(text: str, source: str = "<handoff>") -> HandoffReport:
    """Given YAML text, return every error and warning, and the config when it is valid."""
    checker = _HandoffChecker(source)
    node, syntax = compose(text, source)
    if syntax is not None:
        return HandoffReport(errors=[syntax])
    if node is None:
        checker.marks[()] = (1, 1)
        checker.error((), "the document is empty; it needs `calendars`, `teams`, `routing`, `sla`")
        return checker.handoff_report(None)
    data = checker.walk(node, ())
    return checker.handoff_report(checker.document(data))


class _HandoffChecker(_Checker):
    """The model checker's locations and predicate checks, plus the handoff sections."""

    def handoff_report(self, config: HandoffConfig | None) -> HandoffReport:
        ordered = sorted(self.problems, key=lambda p: (p.line, p.column))
        errors = [p for p in ordered if p.severity == "error"]
        warnings = [p for p in ordered if p.severity == "warning"]
        return HandoffReport(errors, warnings, None if errors else config)

    def line(self, path: Path) -> int:
        return self._where(path)[0]

    # -- the document ----------------------------------------------------------------
    def document(self, data: Any) -> HandoffConfig | None:
        top = self.mapping(
            data,
            (),
            "the handoff configuration",
            _TOP,
            required=("calendars", "teams", "routing", "sla"),
        )
        if top is None:
            return None
        calendars = self.calendars(top.get("calendars", {}))
        calendar_names = set(top["calendars"]) if isinstance(top.get("calendars"), dict) else None
        teams = self.teams(top.get("teams", {}), calendar_names)
        team_names = set(top["teams"]) if isinstance(top.get("teams"), dict) else None
        routing = self.routing(top.get("routing", {}), teams, team_names)
        sla = self.sla(top.get("sla", {}), calendar_names, teams)
        recycle = self.reasons(top, "recycle_reasons", DEFAULT_RECYCLE_REASONS)
        disqualify = self.reasons(top, "disqualify_reasons", DEFAULT_DISQUALIFY_REASONS)
        nurture = self.nurture(top.get("nurture", {}))
        description = top.get("description", "")
        if not isinstance(description, str):
            self.error(("description",), f"`description` must be text, found {_kind(description)}")
        # Each part is None only after reporting an error, so these go together.
        if (
            any(p.severity == "error" for p in self.problems)
            or calendars is None
            or routing is None
            or sla is None
            or recycle is None
            or disqualify is None
            or nurture is None
        ):
            return None
        return HandoffConfig(
            calendars=calendars,
            routing=routing,
            sla=sla,
            recycle_reasons=recycle,
            disqualify_reasons=disqualify,
            nurture_tracks=nurture[0],
            default_nurture_track=nurture[1],
            description=str(description),
        )

    def identifier(self, value: Any, path: Path, what: str) -> str | None:
        name = self.text(value, path, what)
        if name is not None and not _ID.match(name):
            self.error(path, f"{what} {name!r} may hold only a-z, 0-9 and _")
            return None
        return name

    def flag(self, data: dict[str, Any], key: str, path: Path, default: bool) -> bool | None:
        value = data.get(key, default)
        if not isinstance(value, bool):
            self.error((*path, key), f"`{key}` takes true or false, found {_kind(value)}")
            return None
        return value

    # -- calendars -------------------------------------------------------------------
    def calendars(self, value: Any) -> dict[str, BusinessCalendar] | None:
        if not isinstance(value, dict):
            self.error(
                ("calendars",), f"`calendars` must map names to calendars, found {_kind(value)}"
            )
            return None
        if not value:
            self.error(("calendars",), "`calendars` needs at least one calendar")
        built: dict[str, BusinessCalendar] = {}
        ok = True
        for name, raw in value.items():
            calendar = self.calendar(name, raw, ("calendars", name))
            ok &= calendar is not None
            if calendar is not None:
                built[calendar.name] = calendar
        return built if ok else None

    def calendar(self, name: Any, value: Any, path: Path) -> BusinessCalendar | None:
        name_ok = self.identifier(name, (*path[:-1], f"@{name}"), "calendar name") is not None
        data = self.mapping(
            value, path, f"calendar {name!r}", ["timezone", "hours", "holidays"], ("timezone",)
        )
        if data is None:
            return None
        zone = None
        if "timezone" in data:
            zone = self.text(data["timezone"], (*path, "timezone"), "`timezone`")
            if zone is not None:
                try:
                    zone_info(zone)
                except CalendarError:
                    self.error(
                        (*path, "timezone"),
                        f"unknown time zone {zone!r}; use an IANA name such as "
                        "'Europe/Berlin' or 'America/New_York'",
                    )
                    zone = None
        week = self.hours(data.get("hours"), (*path, "hours"), name)
        holidays = self.holidays(data.get("holidays", []), (*path, "holidays"))
        if not name_ok or zone is None or week is None or holidays is None:
            return None
        try:
            return BusinessCalendar(str(name), zone, week, holidays)
        except CalendarError as exc:  # pragma: no cover - the checks above cover these
            self.error(path, str(exc))
            return None

    def hours(self, value: Any, path: Path, name: Any) -> tuple[tuple[Span, ...], ...] | None:
        if value is None:
            self.error(path[:-1], f"calendar {name!r} needs `hours`, e.g. `weekdays: 09:00-17:00`")
            return None
        allowed = [_WEEKDAYS, *_DAYS]
        data = self.mapping(value, path, "`hours`", allowed)
        if data is None:
            return None
        week: dict[Weekday, tuple[tuple[Span, Path], ...]] = {}
        ok = True
        # ``weekdays`` first, so that a day named on its own replaces it.
        for key in sorted(data, key=lambda k: k != _WEEKDAYS):
            if key not in allowed:
                ok = False
                continue
            spans = self.day_spans(data[key], (*path, key))
            if spans is None:
                ok = False
                continue
            days = _DAYS.get(key, tuple(Weekday)[:5])
            for day in days:
                week[day] = spans
        for day, spans in week.items():
            for i, (first, _) in enumerate(spans):
                for second, where in spans[i + 1 :]:
                    if spans_overlap(first, second):
                        self.error(
                            where,
                            f"{day.name.lower()}: {_show(second)} overlaps {_show(first)}",
                        )
                        ok = False
        if ok and not any(week.values()):
            self.error(path, f"calendar {name!r} is never open; give some working hours")
            ok = False
        if not ok:
            return None
        return tuple(tuple(span for span, _ in week.get(day, ())) for day in Weekday)

    def day_spans(self, value: Any, path: Path) -> tuple[tuple[Span, Path], ...] | None:
        items = value if isinstance(value, list) else [value]
        paths = [(*path, i) for i in range(len(items))] if isinstance(value, list) else [path]
        spans = []
        ok = True
        for item, where in zip(items, paths, strict=True):
            span = self.span(item, where)
            if span is None:
                ok = False
            else:
                spans.append((span, where))
        return tuple(sorted(spans, key=lambda s: s[0][0])) if ok else None

    def span(self, value: Any, path: Path) -> Span | None:
        example = "e.g. '09:00-17:00' (quoted, or YAML may read 17:00 as a number)"
        if not isinstance(value, str):
            self.error(path, f"working hours must be text like {example}, found {_kind(value)}")
            return None
        match = _SPAN.match(value)
        if match is None:
            self.error(path, f"working hours {value!r} must look like {example}")
            return None
        start_h, start_m, end_h, end_m = (int(g) for g in match.groups())
        if start_h > 23 or start_m > 59 or end_m > 59 or end_h > 24 or (end_h == 24 and end_m):
            self.error(path, f"working hours {value!r}: times run from 00:00 to 24:00")
            return None
        start = time(start_h, start_m)
        end = END_OF_DAY if end_h == 24 else time(end_h, end_m)
        if end != END_OF_DAY and end <= start:
            hint = (
                " (use 24:00 for midnight; a span cannot cross midnight)" if end_h < start_h else ""
            )
            self.error(path, f"working hours {value!r} must end after they start{hint}")
            return None
        return start, end

    def holidays(self, value: Any, path: Path) -> frozenset[date] | None:
        if not isinstance(value, list):
            self.error(path, f"`holidays` must be a list of dates, found {_kind(value)}")
            return None
        found: dict[date, int] = {}
        ok = True
        for i, item in enumerate(value):
            day = _as_date(item)
            if day is None:
                self.error(
                    (*path, i), f"a holiday must be a date like 2026-12-25, found {_kind(item)}"
                )
                ok = False
            elif day in found:
                self.warn((*path, i), f"holiday {day} is listed twice")
            else:
                found[day] = i
        return frozenset(found) if ok else None

    # -- teams -----------------------------------------------------------------------
    def calendar_ref(self, value: Any, path: Path, calendar_names: set[str] | None) -> str | None:
        """A team's or SLA policy's ``calendar``: the name of a defined calendar, else
        None after an error (unchecked when the calendars themselves did not load)."""
        calendar = self.text(value, path, "`calendar`")
        if calendar is not None and calendar_names is not None and calendar not in calendar_names:
            self.error(
                path,
                f"unknown calendar {calendar!r}; calendars: {', '.join(sorted(calendar_names))}",
            )
            return None
        return calendar

    def teams(self, value: Any, calendar_names: set[str] | None) -> dict[str, Team] | None:
        if not isinstance(value, dict):
            self.error(("teams",), f"`teams` must map team names to teams, found {_kind(value)}")
            return None
        if not value:
            self.error(("teams",), "`teams` needs at least one team")
        built: dict[str, Team] = {}
        people: dict[str, tuple[Rep, str, Path]] = {}
        ok = True
        for name, raw in value.items():
            team = self.team(name, raw, ("teams", name), calendar_names, people)
            ok &= team is not None
            if team is not None:
                built[team.name] = team
        return built if ok else None

    def team(
        self,
        name: Any,
        value: Any,
        path: Path,
        calendar_names: set[str] | None,
        people: dict[str, tuple[Rep, str, Path]],
    ) -> Team | None:
        name_ok = self.identifier(name, (*path[:-1], f"@{name}"), "team name") is not None
        data = self.mapping(
            value, path, f"team {name!r}", ["strategy", "manager", "calendar", "members"]
        )
        if data is None:
            return None
        ok = name_ok
        strategy = Strategy.ROUND_ROBIN
        if "strategy" in data:
            options = [s.value for s in Strategy]
            if data["strategy"] in options:
                strategy = Strategy(data["strategy"])
            else:
                self.error(
                    (*path, "strategy"),
                    f"`strategy` must be one of {', '.join(options)}, "
                    f"found {_kind(data['strategy'])}",
                )
                ok = False
        manager = None
        if data.get("manager") is not None:
            manager = self.text(data["manager"], (*path, "manager"), "`manager`")
            ok &= manager is not None
        else:
            self.warn(
                path,
                f"team {name!r} has no `manager`: when nobody in it can take a lead, "
                "nobody is alerted",
            )
        calendar = None
        if "calendar" in data:
            calendar = self.calendar_ref(data["calendar"], (*path, "calendar"), calendar_names)
            ok &= calendar is not None
        members = self.members(data.get("members", []), (*path, "members"), strategy, people)
        if members is not None and not members:
            self.warn(
                (*path, "members") if "members" in data else path,
                f"team {name!r} has no members: its leads always wait in the queue",
            )
        if not ok or members is None:
            return None
        return Team(str(name), strategy, members, manager, calendar)

    def members(
        self,
        value: Any,
        path: Path,
        strategy: Strategy,
        people: dict[str, tuple[Rep, str, Path]],
    ) -> tuple[Rep, ...] | None:
        if not isinstance(value, list):
            self.error(path, f"`members` must be a list of reps, found {_kind(value)}")
            return None
        reps: list[Rep] = []
        seen: dict[str, int] = {}
        ok = True
        for i, item in enumerate(value):
            rep = self.member(item, (*path, i), strategy)
            if rep is None:
                ok = False
                continue
            key = rep.id.casefold()
            if key in seen:
                self.error(
                    (*path, i, "id"),
                    f"rep {rep.id!r} is listed twice in this team (first at line "
                    f"{self.line((*path, seen[key]))})",
                )
                ok = False
                continue
            seen[key] = i
            team = str(path[1])
            earlier = people.get(key)
            if earlier is None:
                people[key] = (rep, team, (*path, i))
            elif (earlier[0].capacity, earlier[0].out_of_office) != (
                rep.capacity,
                rep.out_of_office,
            ):
                self.error(
                    (*path, i),
                    f"rep {rep.id!r} is also in team {earlier[1]!r} (line "
                    f"{self.line(earlier[2])}) with another capacity or out_of_office; "
                    "a rep may be in several teams, but capacity and out_of_office describe "
                    "the person and must be the same in each",
                )
                ok = False
                continue
            reps.append(rep)
        return tuple(reps) if ok else None

    def member(self, value: Any, path: Path, strategy: Strategy) -> Rep | None:
        data = self.mapping(
            value, path, "a member", ["id", "weight", "capacity", "out_of_office"], ("id",)
        )
        if data is None:
            return None
        ok = True
        rep_id = (
            self.text(data.get("id"), (*path, "id"), "a member's `id`") if "id" in data else None
        )
        weight = 1
        if "weight" in data:
            raw = data["weight"]
            if not _whole(raw) or raw < 1:
                self.error((*path, "weight"), f"`weight` must be a whole number ≥ 1, found {raw!r}")
                ok = False
            else:
                weight = raw
                if strategy is not Strategy.WEIGHTED_ROUND_ROBIN:
                    self.warn(
                        (*path, "weight"),
                        f"`weight` only counts with strategy weighted_round_robin "
                        f"(this team uses {strategy.value})",
                    )
        capacity = None
        if data.get("capacity") is not None:
            raw = data["capacity"]
            if not _whole(raw) or raw < 0:
                self.error(
                    (*path, "capacity"),
                    f"`capacity` (most open handoffs) must be a whole number ≥ 0, found {raw!r}",
                )
                ok = False
            else:
                capacity = raw
        absences = self.absences(data.get("out_of_office", []), (*path, "out_of_office"))
        if not ok or rep_id is None or absences is None:
            return None
        return Rep(rep_id.strip(), weight, capacity, absences)

    def absences(self, value: Any, path: Path) -> tuple[OutOfOffice, ...] | None:
        if not isinstance(value, list):
            self.error(
                path, f"`out_of_office` must be a list of {{from, to}}, found {_kind(value)}"
            )
            return None
        windows = []
        ok = True
        for i, item in enumerate(value):
            data = self.mapping(item, (*path, i), "an absence", ["from", "to"], ("from", "to"))
            if data is None or "from" not in data or "to" not in data:
                ok = False
                continue
            start = self.instant(data["from"], (*path, i, "from"), end=False)
            end = self.instant(data["to"], (*path, i, "to"), end=True)
            if start is None or end is None:
                ok = False
                continue
            if end <= start:
                self.error((*path, i, "to"), "an absence must end after it starts")
                ok = False
                continue
            windows.append(OutOfOffice(start, end))
        return tuple(sorted(windows, key=lambda w: w.start)) if ok else None

    def instant(self, value: Any, path: Path, *, end: bool) -> datetime | None:
        moment: datetime | None = None
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, date):
            # A date is a whole day in UTC; as the end it is the last day away.
            moment = datetime.combine(value, time(0), UTC) + timedelta(days=1 if end else 0)
        elif isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                moment = None
        if moment is None:
            self.error(
                path,
                "expected a date (2026-08-03) or a date and time with a zone "
                f"(2026-08-03T09:00:00Z), found {_kind(value)}",
            )
            return None
        if moment.tzinfo is None or moment.utcoffset() is None:
            self.error(path, f"{value} has no time zone; add Z (UTC) or an offset like +02:00")
            return None
        return moment.astimezone(UTC)

    # -- routing ---------------------------------------------------------------------
    def routing(
        self, value: Any, teams: dict[str, Team] | None, team_names: set[Any] | None
    ) -> RoutingConfig | None:
        path: Path = ("routing",)
        data = self.mapping(
            value,
            path,
            "`routing`",
            ["default_team", "account_owner_ignores_capacity", "rules"],
            ("default_team",),
        )
        if data is None:
            return None
        ok = True
        default = None
        if "default_team" in data:
            default = self.known_team(data["default_team"], (*path, "default_team"), team_names)
            ok &= default is not None
        owner_first = self.flag(data, "account_owner_ignores_capacity", path, True)
        rules = self.rules(data.get("rules", []), (*path, "rules"), team_names)
        if not ok or default is None or owner_first is None or rules is None or teams is None:
            return None
        return self.build(
            path,
            lambda: RoutingConfig(tuple(teams.values()), rules, default, owner_first),
        )

    def known_team(self, value: Any, path: Path, team_names: set[Any] | None) -> str | None:
        name = self.text(value, path, "a team name")
        if name is not None and team_names is not None and name not in team_names:
            self.error(
                path, f"unknown team {name!r}; teams: {', '.join(sorted(map(str, team_names)))}"
            )
            return None
        return name

    def rules(
        self, value: Any, path: Path, team_names: set[Any] | None
    ) -> tuple[RoutingRule, ...] | None:
        if not isinstance(value, list):
            self.error(path, f"`rules` must be a list of routing rules, found {_kind(value)}")
            return None
        built = []
        ok = True
        for i, item in enumerate(value):
            where = (*path, i)
            data = self.mapping(
                item, where, "a routing rule", ["id", "description", "team", "when"], ("id", "team")
            )
            if data is None:
                ok = False
                continue
            rule_id = self.identifier(data.get("id"), (*where, "id"), "rule id")
            team = (
                self.known_team(data["team"], (*where, "team"), team_names)
                if "team" in data
                else None
            )
            when = self.when(data.get("when", []), (*where, "when"), routing=True)
            if rule_id is None or team is None or when is None:
                ok = False
                continue
            built.append(RoutingRule(rule_id, team, when, str(data.get("description", ""))))
        self.duplicates(value, path, "rule id")
        self.shadowed(value, path, "rule", "lead")
        return tuple(built) if ok else None

    def when(self, value: Any, path: Path, *, routing: bool) -> tuple[Predicate, ...] | None:
        if not isinstance(value, list):
            self.error(path, f"`when` must be a list of conditions, found {_kind(value)}")
            return None
        found = []
        ok = True
        for i, item in enumerate(value):
            predicate = self.predicate(item, (*path, i), "a condition")
            if predicate is None:
                ok = False
                continue
            if routing and predicate.field == "team":
                self.error(
                    (*path, i, "field"),
                    "routing conditions cannot read `team`: the team is what they choose",
                )
                ok = False
                continue
            ok &= self.fact_values(predicate, (*path, i))
            found.append(predicate)
        return tuple(found) if ok else None

    def fact_values(self, predicate: Predicate, path: Path) -> bool:
        """A `kind` or `grade` compared with a value they never take can never hold."""
        known = {
            "kind": [k.value for k in HandoffKind],
            "grade": [g.value for g in Grade],
        }.get(predicate.field)
        if known is None or predicate.op not in (Operator.EQ, Operator.IN, Operator.NOT_IN):
            return True
        values = predicate.value if isinstance(predicate.value, tuple) else (predicate.value,)
        folded = {k.casefold() for k in known}
        bad = [v for v in values if str(v).casefold() not in folded]
        if bad:
            self.error(
                (*path, predicate.op.value),
                f"`{predicate.field}` is one of {', '.join(known)}; found "
                f"{', '.join(map(repr, bad))}",
            )
            return False
        return True

    def duplicates(self, items: list[Any], path: Path, what: str) -> None:
        seen: dict[str, int] = {}
        for i, item in enumerate(items):
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                if item["id"] in seen:
                    self.error(
                        (*path, i, "id"),
                        f"duplicate {what} {item['id']!r} (first used at line "
                        f"{self.line((*path, seen[item['id']], 'id'))})",
                    )
                else:
                    seen[item["id"]] = i

    def shadowed(self, items: list[Any], path: Path, what: str, subject: str) -> None:
        """Warn about entries after one without conditions: the first match always wins."""
        catch_all = next(
            (i for i, item in enumerate(items) if isinstance(item, dict) and not item.get("when")),
            None,
        )
        if catch_all is None:
            return
        for i in range(catch_all + 1, len(items)):
            self.warn(
                (*path, i),
                f"this {what} never applies: the {what} at line "
                f"{self.line((*path, catch_all))} has no `when` and takes every {subject}",
            )

    # -- sla -------------------------------------------------------------------------
    def sla(
        self, value: Any, calendar_names: set[str] | None, teams: dict[str, Team] | None
    ) -> SlaPolicies | None:
        path: Path = ("sla",)
        data = self.mapping(value, path, "`sla`", ["default", "policies"], ("default", "policies"))
        if data is None:
            return None
        raw = data.get("policies", [])
        if not isinstance(raw, list) or not raw:
            self.error(
                (*path, "policies"),
                f"`policies` must be a non-empty list of SLA policies, found {_kind(raw)}",
            )
            return None
        policies = []
        ok = True
        for i, item in enumerate(raw):
            policy = self.policy(item, (*path, "policies", i), calendar_names, teams)
            ok &= policy is not None
            if policy is not None:
                policies.append(policy)
        self.duplicates(raw, (*path, "policies"), "policy id")
        self.shadowed(raw, (*path, "policies"), "policy", "handoff")
        default = (
            self.text(data["default"], (*path, "default"), "`default`")
            if "default" in data
            else None
        )
        ids = [p.get("id") for p in raw if isinstance(p, dict)]
        if default is not None and default not in ids:
            self.error(
                (*path, "default"),
                f"default policy {default!r} is not among the policies "
                f"({', '.join(map(str, ids))})",
            )
            default = None
        elif default is not None:
            index = ids.index(default)
            if isinstance(raw[index], dict) and raw[index].get("when"):
                self.error(
                    (*path, "policies", index, "when"),
                    f"the default policy {default!r} applies to every handoff no other policy "
                    "takes; remove its `when`",
                )
                default = None
        if not ok or default is None:
            return None
        return self.build(path, lambda: SlaPolicies(tuple(policies), default))

    def policy(
        self,
        value: Any,
        path: Path,
        calendar_names: set[str] | None,
        teams: dict[str, Team] | None,
    ) -> SlaPolicy | None:
        data = self.mapping(
            value,
            path,
            "an SLA policy",
            ["id", "description", "when", "first_touch_hours", "warn_at", "calendar", "on_breach"],
            ("id", "first_touch_hours"),
        )
        if data is None:
            return None
        ok = True
        policy_id = self.identifier(data.get("id"), (*path, "id"), "policy id")
        when = self.when(data.get("when", []), (*path, "when"), routing=False)
        hours = None
        if "first_touch_hours" in data:
            hours = self.number(
                data["first_touch_hours"],
                (*path, "first_touch_hours"),
                "`first_touch_hours` (business hours)",
                positive=True,
            )
        warn_at: float | None = 0.5
        if "warn_at" in data:
            raw = data["warn_at"]
            if raw is None or raw is False:
                warn_at = None
            elif not _number(raw) or not 0 < raw < 1:
                self.error(
                    (*path, "warn_at"),
                    "`warn_at` is the share of the deadline after which to warn, between 0 "
                    f"and 1 (0.5: halfway), or false for no warning; found {raw!r}",
                )
                ok = False
            else:
                warn_at = float(raw)
        calendar = None
        if "calendar" in data:
            calendar = self.calendar_ref(data["calendar"], (*path, "calendar"), calendar_names)
            ok &= calendar is not None
        elif teams is not None:
            bare = sorted(name for name, team in teams.items() if team.calendar is None)
            if bare:
                self.error(
                    path,
                    f"policy {data.get('id')!r} has no `calendar`, so it uses the routed "
                    f"team's, but team(s) {', '.join(bare)} have none; give the policy or "
                    "every team a calendar",
                )
                ok = False
        actions = self.breach(data.get("on_breach", {}), (*path, "on_breach"))
        if not ok or policy_id is None or when is None or hours is None or actions is None:
            return None
        return self.build(
            path,
            lambda: SlaPolicy(
                policy_id,
                timedelta(hours=hours),
                calendar,
                warn_at,
                when,
                actions,
                str(data.get("description", "")),
            ),
        )

    def breach(self, value: Any, path: Path) -> BreachActions | None:
        data = self.mapping(
            value, path, "`on_breach`", ["alert_owner", "alert_manager", "reassign"]
        )
        if data is None:
            return None
        owner = self.flag(data, "alert_owner", path, True)
        manager = self.flag(data, "alert_manager", path, True)
        reassign = self.flag(data, "reassign", path, False)
        if owner is None or manager is None or reassign is None:
            return None
        return BreachActions(owner, manager, reassign)

    # -- feedback and nurture --------------------------------------------------------
    def reasons(
        self, top: dict[str, Any], key: str, default: tuple[str, ...]
    ) -> tuple[str, ...] | None:
        if key not in top:
            return default
        value = top[key]
        if not isinstance(value, list) or not value:
            self.error((key,), f"`{key}` must be a non-empty list of reasons, found {_kind(value)}")
            return None
        return self.names(value, (key,), "reason")

    def names(self, value: list[Any], path: Path, what: str) -> tuple[str, ...] | None:
        found: dict[str, int] = {}
        ok = True
        for i, item in enumerate(value):
            name = self.identifier(item, (*path, i), what)
            if name is None:
                ok = False
            elif name in found:
                self.error(
                    (*path, i),
                    f"{what} {name!r} is listed twice (first at line "
                    f"{self.line((*path, found[name]))})",
                )
                ok = False
            else:
                found[name] = i
        return tuple(found) if ok else None

    def nurture(self, value: Any) -> tuple[tuple[str, ...], str] | None:
        path: Path = ("nurture",)
        data = self.mapping(value, path, "`nurture`", ["tracks", "default"])
        if data is None:
            return None
        raw = data.get("tracks", [DEFAULT_NURTURE_TRACK])
        if not isinstance(raw, list) or not raw:
            self.error(
                (*path, "tracks"),
                f"`tracks` must be a non-empty list of track names, found {_kind(raw)}",
            )
            return None
        tracks = self.names(raw, (*path, "tracks"), "track")
        if tracks is None:
            return None
        default = data.get("default", tracks[0])
        if default not in tracks:
            self.error(
                (*path, "default"),
                f"default track {default!r} is not among the tracks ({', '.join(tracks)})",
            )
            return None
        return tracks, default

    def build(self, path: Path, make: Callable[[], _T]) -> _T | None:
        """Construct a domain object; its own checks should never fail after ours."""
        try:
            return make()
        except DomainError as exc:  # pragma: no cover - a gap in the checks above
            self.error(path, str(exc))
            return None


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def _show(span: Span) -> str:
    end = "24:00" if span[1] == END_OF_DAY else f"{span[1]:%H:%M}"
    return f"{span[0]:%H:%M}-{end}"
