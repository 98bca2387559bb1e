"""SLA policies: how soon after a handoff sales must first touch the lead, in business hours.

A handoff picks one policy (ordered, first match wins, else the default), whose clock
starts at the handoff: ``due_at`` is ``first_touch`` business time later in the policy's
calendar (or the routed team's), ``warn_at`` a share of that time. The handoff's status is
open until a first touch (met, when on time) or until ``due_at`` passes (breached).

First touch is a sales touchpoint (FIRST_TOUCH_TOUCHPOINTS) for the lead by its owner at
or after the handoff, or an explicit API call recording one; the caller passes its time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from leadgate.domain.calendar import BusinessCalendar, as_utc
from leadgate.domain.errors import DomainError
from leadgate.domain.leads import Lead
from leadgate.domain.predicates import Predicate
from leadgate.domain.routing import HandoffFacts, conditions_hold
from leadgate.domain.touchpoints import Touchpoint

FIRST_TOUCH_TOUCHPOINTS: frozenset[str] = frozenset({"sales_call", "sales_email", "meeting_booked"})
"""Touchpoint names that count as the first sales touch of a handoff."""

REP_PROPERTIES: tuple[str, ...] = ("rep", "owner")
"""Touchpoint properties that may name who made a sales touch (a rep id), first wins."""


class SlaError(DomainError):
    """An SLA policy or policy set that cannot be used."""


class SlaStatus(StrEnum):
    """Where a handoff stands against its first-touch deadline."""

    OPEN = "open"  # not touched yet, not yet due
    MET = "met"  # first touched by the deadline
    BREACHED = "breached"  # not touched by the deadline (touched late, or not at all)


@dataclass(frozen=True, slots=True)
class BreachActions:
    """What happens when a deadline passes without a first touch.

    ``reassign_after_breach``: the handoff goes to another rep of the team (routing with
    the breaching owner excluded), and that rep gets a new clock under the same policy.
    """

    alert_owner: bool = True
    alert_manager: bool = True
    reassign_after_breach: bool = False


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    """A first-touch deadline for the handoffs whose facts meet ``applies_to``.

    ``first_touch`` is business time; ``warn_at`` the share of it (0 < x < 1) after which
    a warning goes out, None for no warning; ``calendar`` names the business calendar,
    None to use the routed team's. Conditions read lead and account attributes and the
    handoff facts (``kind``, ``trigger``, ``grade``, ``score``...), and ``team``.

    Example: ``SlaPolicy("demo_request", timedelta(hours=1), calendar="berlin",
    applies_to=(Predicate("trigger", Operator.EQ, "demo_request"),))``.
    """

    id: str
    first_touch: timedelta
    calendar: str | None = None
    warn_at: float | None = 0.5
    applies_to: tuple[Predicate, ...] = ()
    on_breach: BreachActions = BreachActions()
    description: str = ""

    def __post_init__(self) -> None:
        if self.first_touch <= timedelta(0):
            raise SlaError(f"policy {self.id!r}: first_touch must be longer than zero")
        if self.warn_at is not None and not 0 < self.warn_at < 1:
            raise SlaError(
                f"policy {self.id!r}: warn_at is a share of the deadline between 0 and 1, "
                f"found {self.warn_at}"
            )

    def applies(self, lead: Lead, facts: HandoffFacts, team: str | None = None) -> bool:
        """Given the lead, the handoff facts and the routed team, return whether it applies."""
        return conditions_hold(self.applies_to, lead, facts, team)

    def calendar_name(self, team_calendar: str | None) -> str:
        """Given the routed team's calendar name, return the calendar the clock runs on."""
        name = self.calendar or team_calendar
        if name is None:
            raise SlaError(f"policy {self.id!r} names no calendar and neither does the team")
        return name

    def start(self, handed_off_at: datetime, calendar: BusinessCalendar) -> SlaClock:
        """Given the handoff time and the calendar, return the clock with its deadlines.

        Example: 4 business hours from Friday 16:00 in a 09:00-17:00 calendar is due
        Monday 12:00; with warn_at 0.5 the warning is due Monday 10:00.
        """
        started = as_utc(handed_off_at)
        warn = None
        if self.warn_at is not None:
            warn = calendar.add_business_time(started, self.first_touch * self.warn_at)
        due = calendar.add_business_time(started, self.first_touch)
        return SlaClock(self.id, calendar.name, started, warn, due)


@dataclass(frozen=True, slots=True)
class SlaPolicies:
    """Ordered policies and the id of the default one; raises SlaError on an unknown default
    or a duplicate id.

    Example: ``SlaPolicies((demo, standard), default="standard").choose(lead, facts, "emea")``.
    """

    policies: tuple[SlaPolicy, ...]
    default: str

    def __post_init__(self) -> None:
        ids = [policy.id for policy in self.policies]
        if len(set(ids)) != len(ids):
            raise SlaError("two SLA policies share an id")
        if self.default not in ids:
            raise SlaError(f"default SLA policy {self.default!r} is not among the policies")

    def get(self, policy_id: str) -> SlaPolicy:
        """Given a policy id, return it (KeyError when unknown), e.g. to re-read a stored one."""
        for policy in self.policies:
            if policy.id == policy_id:
                return policy
        raise KeyError(policy_id)

    def choose(self, lead: Lead, facts: HandoffFacts, team: str | None = None) -> SlaPolicy:
        """Given the lead, the facts and the routed team, return the first policy that
        applies, or the default."""
        for policy in self.policies:
            if policy.applies(lead, facts, team):
                return policy
        return self.get(self.default)


@dataclass(frozen=True, slots=True)
class SlaClock:
    """A handoff's deadlines (UTC): what the handoff row stores.

    ``warn_at`` None: the policy sends no warning.
    """

    policy: str
    calendar: str
    started_at: datetime
    warn_at: datetime | None
    due_at: datetime

    def status(self, first_touch_at: datetime | None, now: datetime) -> SlaStatus:
        """Given the first touch time (None: none yet) and now, return the status."""
        return sla_status(self.due_at, first_touch_at, now)

    def warning_due(self, first_touch_at: datetime | None, now: datetime) -> bool:
        """Given the first touch time and now, return whether the warning should be sent:
        past ``warn_at``, not touched, not yet breached (the breach alert supersedes it)."""
        if self.warn_at is None or self.status(first_touch_at, now) is not SlaStatus.OPEN:
            return False
        return as_utc(now) >= self.warn_at


def sla_status(due_at: datetime, first_touch_at: datetime | None, now: datetime) -> SlaStatus:
    """Given the deadline, the first touch (None: none yet) and now, return the status.

    A touch at ``due_at`` exactly is on time; an untouched handoff is breached once
    ``now`` is after ``due_at``. A touch later than ``now`` is not known yet, so a status
    "as of" an earlier time (a replay) comes out the same as it was then.

    >>> from datetime import UTC
    >>> due = datetime(2026, 3, 2, 13, tzinfo=UTC)
    >>> sla_status(due, None, datetime(2026, 3, 2, 12, tzinfo=UTC)).value
    'open'
    >>> sla_status(due, datetime(2026, 3, 2, 12, tzinfo=UTC), due + timedelta(hours=5)).value
    'met'
    >>> sla_status(due, None, due + timedelta(seconds=1)).value
    'breached'
    """
    due, current = as_utc(due_at), as_utc(now)
    if first_touch_at is not None and as_utc(first_touch_at) <= current:
        return SlaStatus.MET if as_utc(first_touch_at) <= due else SlaStatus.BREACHED
    return SlaStatus.BREACHED if current > due else SlaStatus.OPEN


def touch_rep(touchpoint: Touchpoint) -> str | None:
    """Given a touchpoint, return the rep it names (REP_PROPERTIES), or None."""
    for key in REP_PROPERTIES:
        value = touchpoint.properties.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def is_first_touch(touchpoint: Touchpoint, owner: str | None) -> bool:
    """Given a touchpoint and the handoff's owner (None: queued), return whether it counts
    as the first sales touch.

    It must be a FIRST_TOUCH_TOUCHPOINTS name. When it names a rep (REP_PROPERTIES) that
    rep must be the owner (ids compared ignoring case); a touch that names nobody counts,
    since many CRMs do not send who made it.
    """
    if touchpoint.name not in FIRST_TOUCH_TOUCHPOINTS:
        return False
    rep = touch_rep(touchpoint)
    return rep is None or owner is None or rep.casefold() == owner.casefold()


def first_touch_at(
    touchpoints: Iterable[Touchpoint], owner: str | None, since: datetime
) -> datetime | None:
    """Given a lead's touchpoints, the owner and the handoff time, return the time of the
    first touch at or after ``since`` that counts (``is_first_touch``), or None."""
    start = as_utc(since)
    times = [
        as_utc(tp.occurred_at)
        for tp in touchpoints
        if is_first_touch(tp, owner) and as_utc(tp.occurred_at) >= start
    ]
    return min(times, default=None)


def start_clock(
    policies: SlaPolicies,
    calendars: Mapping[str, BusinessCalendar],
    lead: Lead,
    facts: HandoffFacts,
    team: str,
    team_calendar: str | None,
    handed_off_at: datetime,
) -> SlaClock:
    """Given the policies, the calendars by name, the handoff and its routed team, choose
    the policy and return its clock. Raises SlaError for a calendar that is not given."""
    policy = policies.choose(lead, facts, team)
    name = policy.calendar_name(team_calendar)
    if name not in calendars:
        raise SlaError(f"policy {policy.id!r} uses unknown calendar {name!r}")
    return policy.start(handed_off_at, calendars[name])
