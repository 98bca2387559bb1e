"""The handoff configuration: calendars, routing, SLA policies and the reasons sales gives.

Built only from a valid document (``adapters.handoff_yaml``); the use cases read it through
``ConfigRepository.handoff_config()``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from leadgate.domain.calendar import BusinessCalendar
from leadgate.domain.leads import Lead
from leadgate.domain.routing import HandoffFacts, RoutingConfig, Team
from leadgate.domain.sla import SlaClock, SlaPolicies, start_clock

OTHER_REASON = "other"
"""The reason that needs a note saying what the other reason was."""

DEFAULT_RECYCLE_REASONS = ("bad_timing", "no_budget", "no_response", "not_decision_maker", "other")
DEFAULT_DISQUALIFY_REASONS = ("bad_fit", "competitor", "spam", "duplicate", "other")
DEFAULT_NURTURE_TRACK = "general"


@dataclass(frozen=True)
class HandoffConfig:
    """Everything the handoff use cases read, built only from a valid document.

    ``reason_problem`` and ``start_sla`` are small conveniences over the domain.
    """

    calendars: Mapping[str, BusinessCalendar]
    routing: RoutingConfig
    sla: SlaPolicies
    recycle_reasons: tuple[str, ...] = DEFAULT_RECYCLE_REASONS
    disqualify_reasons: tuple[str, ...] = DEFAULT_DISQUALIFY_REASONS
    nurture_tracks: tuple[str, ...] = (DEFAULT_NURTURE_TRACK,)
    default_nurture_track: str = DEFAULT_NURTURE_TRACK
    description: str = ""

    def team(self, name: str) -> Team:
        """Given a team name, return the team (KeyError when unknown)."""
        return self.routing.team(name)

    def start_sla(
        self, lead: Lead, facts: HandoffFacts, team: str, handed_off_at: datetime
    ) -> SlaClock:
        """Given the handoff and the team routing chose, return its SLA clock.

        Example: ``config.start_sla(lead, facts, assignment.team, now).due_at``.
        """
        return start_clock(
            self.sla,
            self.calendars,
            lead,
            facts,
            team,
            self.team(team).calendar,
            handed_off_at,
        )

    def reason_problem(
        self, action: Literal["recycle", "disqualify"], reason: str | None, note: str | None
    ) -> tuple[str, str] | None:
        """Given sales feedback, return the field that is wrong and what is wrong with it,
        or None when fine.

        The reason must be on the action's list; ``other`` also needs a note, and then the
        note is what is missing. Example: ``config.reason_problem("disqualify", "other",
        None)`` → ("note", "reason 'other' needs a note saying what the reason was").
        """
        allowed = self.recycle_reasons if action == "recycle" else self.disqualify_reasons
        if not reason:
            return "reason", f"a {action} reason is required; one of: {', '.join(allowed)}"
        if reason not in allowed:
            return "reason", f"unknown {action} reason {reason!r}; one of: {', '.join(allowed)}"
        if reason == OTHER_REASON and not (note and note.strip()):
            return "note", f"reason {OTHER_REASON!r} needs a note saying what the reason was"
        return None
