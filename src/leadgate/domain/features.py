"""Point-in-time features: what was known about a lead at a moment, as plain values.

The one rule: nothing that happened after ``at`` reaches a feature computed as of ``at``.
Touchpoints after ``at`` are cut (by time, not by arrival), rule scores are the scoring
engine's own as of ``at``, the stage is the one the lead had just before ``at``, and
account activity is read over windows that end at ``at``.

Profile attributes and custom traits are read as they are stored now: leadgate keeps no
history of them. That is why training warns about attributes that look filled in after
sales contact (``leadgate.domain.leakage``) and lets them be excluded.

Names: ``lead.<attribute>``, ``trait.<key>``, ``account.<attribute>``,
``account.trait.<key>``, ``account.uses.<tool>``, ``touch.<name|all>.<window>``,
``touch.<name|all>.days_since``, ``rule.<id>.<window>``, ``rule.<id>.days_since``,
``score.fit|engagement|total|grade``, ``account.engaged_contacts.<window>``,
``account.touches.<window>``, ``account.intent.<window>``, ``account.intent_max.<window>``,
``lead.age_days``, ``lead.stage``; a window is written ``30d``.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any

from leadgate.domain.leads import Lead
from leadgate.domain.predictive import FeatureRow, FeatureValue
from leadgate.domain.scoring import _match, compiled, engagement_points, fit_points
from leadgate.domain.scoring_model import ScoringModel
from leadgate.domain.touchpoints import Touchpoint

_DAY = 86_400.0
DEFAULT_WINDOWS = (7, 30, 90)

# Lead attributes that describe who the lead is. Left out on purpose: names and emails
# (identifiers), ``owner`` (assigned when sales take the lead: after the fact) and the
# current ``stage`` (replaced by the stage as of the moment, ``lead.stage``).
PROFILE_ATTRIBUTES = (
    "title",
    "seniority",
    "department",
    "persona",
    "source_channel",
    "source_campaign",
    "country",
)
ACCOUNT_ATTRIBUTES = ("industry", "employees", "annual_revenue", "country", "region")
# A list trait or technographics list is turned into one flag per item, at most this many.
_MAX_LIST_ITEMS = 20

_COUNT_NAME = re.compile(r"\.\d+d$")


def absent_value(name: str) -> float | None:
    """Given a feature name missing from a row, return the value it stands for: 0 for
    counts and flags (nothing happened), None (unknown) for everything else."""
    if _COUNT_NAME.search(name) or name.startswith("account.uses.") or ".has." in name:
        return 0.0
    return None


@dataclass(frozen=True, slots=True)
class FeatureOptions:
    """Which windows to count over and which features to leave out.

    ``exclude`` holds patterns matched against each feature name and against its
    attribute key, ignoring case and punctuation: ``tags``, ``Lead Quality``,
    ``asymmetrique*`` and ``touch.sales_call`` all work.
    """

    windows: tuple[int, ...] = DEFAULT_WINDOWS
    exclude: frozenset[str] = frozenset()
    account: bool = True


def normalise(name: str) -> str:
    """Given an attribute or column name as a person writes it, return its snake_case
    key form ('Lead Quality' → 'lead_quality'); dots and '*' are kept."""
    return re.sub(r"[^0-9a-z.*]+", "_", name.casefold()).strip("_")


_PREFIXES = ("account.trait.", "account.", "lead.", "trait.")


class Excluder:
    """Decides, once per feature name, whether ``exclude`` leaves it out."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self._patterns = tuple(normalise(p) for p in patterns if p.strip())
        self._seen: dict[str, bool] = {}

    def __call__(self, name: str) -> bool:
        decided = self._seen.get(name)
        if decided is None:
            decided = self._seen[name] = self._decide(name)
        return decided

    def _decide(self, name: str) -> bool:
        key = normalise(name)
        candidates = [key]
        for prefix in _PREFIXES:
            if key.startswith(prefix):
                candidates.append(key[len(prefix) :])
                break
        for pattern in self._patterns:
            for candidate in candidates:
                if (
                    candidate == pattern
                    or candidate.startswith(pattern + ".")
                    or fnmatchcase(candidate, pattern)
                ):
                    return True
        return False

    def keep(self, row: FeatureRow) -> FeatureRow:
        """Given a row, return it without the excluded features."""
        if not self._patterns:
            return row
        return {name: value for name, value in row.items() if not self(name)}


def plain(value: Any) -> FeatureValue:
    """Given an attribute value, return it as a feature value: numbers as floats, flags
    and text as text, nothing (or not a finite number) as None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, str):
        text = value.strip()
        return text or None
    return None


def _put(row: FeatureRow, name: str, value: Any) -> None:
    """Add one attribute to a row: scalars as they are, lists as flags, nested dicts by key."""
    if isinstance(value, dict):
        for key, inner in value.items():
            _put(row, f"{name}.{key}", inner)
        return
    if isinstance(value, list | tuple):
        for item in value[:_MAX_LIST_ITEMS]:
            flag = plain(item)
            if isinstance(flag, str):
                row[f"{name}.has.{flag.casefold()}"] = 1.0
        return
    converted = plain(value)
    if converted is not None:
        row[name] = converted


def profile_features(lead: Lead) -> FeatureRow:
    """Given a lead, return who it is: attributes, custom traits and its account's."""
    row: FeatureRow = {}
    for name in PROFILE_ATTRIBUTES:
        _put(row, f"lead.{name}", getattr(lead, name))
    for key, value in lead.traits.items():
        _put(row, f"trait.{key}", value)
    account = lead.account
    if account is not None:
        for name in ACCOUNT_ATTRIBUTES:
            _put(row, f"account.{name}", getattr(account, name))
        for key, value in account.traits.items():
            _put(row, f"account.trait.{key}", value)
        for tool in account.technographics[:_MAX_LIST_ITEMS]:
            if isinstance(tool, str) and tool.strip():
                row[f"account.uses.{tool.strip().casefold()}"] = 1.0
    return row


@dataclass(frozen=True, slots=True)
class AccountActivity:
    """The touchpoints of everyone at one account, oldest first, for window questions.

    ``intent`` is the score of an ``intent_surge`` (0 when it has none) and None for any
    other touchpoint.
    """

    times: list[float] = field(default_factory=list)
    lead_ids: list[int] = field(default_factory=list)
    intent: list[float | None] = field(default_factory=list)

    @classmethod
    def of(cls, events: Iterable[tuple[datetime, int, str, Any]]) -> AccountActivity:
        """Given (time, lead id, touchpoint name, intent score) tuples, build the timeline."""
        ordered = sorted(events, key=lambda e: (e[0], e[1]))
        return cls(
            [e[0].timestamp() for e in ordered],
            [e[1] for e in ordered],
            [_intent(e[3]) if e[2] == "intent_surge" else None for e in ordered],
        )


def _intent(score: Any) -> float:
    value = plain(score)
    return value if isinstance(value, float) else 0.0


def account_features(
    activity: AccountActivity | None, at: datetime, windows: Sequence[int]
) -> FeatureRow:
    """Given an account's activity, return how engaged the account is as of ``at``: the
    contacts active and touchpoints in each window, intent surges and their top score."""
    row: FeatureRow = {}
    if activity is None or not activity.times:
        return row
    end = bisect_right(activity.times, at.timestamp())
    for window in windows:
        start = bisect_left(activity.times, at.timestamp() - window * _DAY, 0, end)
        if start == end:
            continue
        row[f"account.touches.{window}d"] = float(end - start)
        row[f"account.engaged_contacts.{window}d"] = float(len(set(activity.lead_ids[start:end])))
        intents = [i for i in activity.intent[start:end] if i is not None]
        if intents:
            row[f"account.intent.{window}d"] = float(len(intents))
            row[f"account.intent_max.{window}d"] = max(intents)
    return row


class Timeline:
    """One lead's touchpoints arranged for fast "as of t" questions, built once per lead
    and asked at several moments (training asks at each landmark of the lead)."""

    def __init__(self, lead: Lead, touchpoints: Iterable[Touchpoint], model: ScoringModel) -> None:
        self.lead = lead
        self.model = model
        self.history = sorted(touchpoints, key=lambda tp: (tp.occurred_at, tp.message_id))
        self.times = [tp.occurred_at.timestamp() for tp in self.history]
        self.by_name: dict[str, list[float]] = {}
        for tp, when in zip(self.history, self.times, strict=True):
            self.by_name.setdefault(tp.name, []).append(when)
        # Which touchpoints each engagement rule matches does not depend on the moment
        # (only which of them count does), and neither does the fit: both are found once.
        self.matched = _match(self.history, compiled(model))
        self.matched_at = [[tp.occurred_at for tp in events] for events in self.matched]
        self.by_rule: dict[str, list[float]] = {
            rule.id: [tp.occurred_at.timestamp() for tp in self.matched[index]]
            for index, rule in enumerate(model.engagement_rules)
            if self.matched[index]
        }
        self.fit = fit_points(lead, model)

    @property
    def first_at(self) -> datetime | None:
        """The time of the lead's first touchpoint (None: it has none)."""
        return self.history[0].occurred_at if self.history else None

    def activity(self, at: datetime, windows: Sequence[int]) -> FeatureRow:
        """Counts and recency per touchpoint name and per engagement rule, and the rule
        scores, as of ``at``."""
        row: FeatureRow = {}
        now = at.timestamp()
        _counts(row, "touch.all", self.times, now, windows)
        for name, times in self.by_name.items():
            _counts(row, f"touch.{name}", times, now, windows)
        for rule_id, times in self.by_rule.items():
            _counts(row, f"rule.{rule_id}", times, now, windows)
        engagement = engagement_points(self._counted(at), self.model, at)
        row["score.fit"] = float(self.fit)
        row["score.engagement"] = float(engagement)
        row["score.total"] = float(self.fit + engagement)
        grade = self.model.grade_for(self.fit)
        if grade is not None:
            row["score.grade"] = grade.value
        return row

    def _counted(self, at: datetime) -> list[list[Touchpoint]]:
        """Per rule, the matched touchpoints that count at ``at``: those ``score_lead``
        keeps (``effective_touchpoints``: time ≤ at, none before a reset at or before at)."""
        reset = self.lead.engagement_reset_at
        cut = reset if reset is not None and reset <= at else None
        counted = []
        for events, times in zip(self.matched, self.matched_at, strict=True):
            low = bisect_left(times, cut) if cut is not None else 0
            counted.append(events[low : bisect_right(times, at)])
        return counted


def _counts(
    row: FeatureRow, prefix: str, times: list[float], now: float, windows: Sequence[int]
) -> None:
    end = bisect_right(times, now)
    if end == 0:
        return
    row[f"{prefix}.days_since"] = (now - times[end - 1]) / _DAY
    for window in windows:
        # Inclusive lower bound, as the scoring engine's look-back windows.
        count = end - bisect_left(times, now - window * _DAY, 0, end)
        if count:
            row[f"{prefix}.{window}d"] = float(count)


def first_seen(created_at: datetime, timeline: Timeline) -> datetime:
    """When leadgate could first have known the lead: its creation or its first
    touchpoint, whichever came first (imported histories start before the import)."""
    first = timeline.first_at
    return min(created_at, first) if first is not None else created_at


def features_at(
    timeline: Timeline,
    profile: FeatureRow,
    at: datetime,
    *,
    stage: str,
    seen_at: datetime,
    account: AccountActivity | None,
    options: FeatureOptions,
    excluder: Excluder | None = None,
) -> FeatureRow:
    """Given a lead's timeline and profile, return every feature as of ``at``.

    ``stage`` is the lead's stage just before ``at``, ``seen_at`` when it was first seen,
    ``account`` its account's activity (None: no account, or account features off).
    """
    row: FeatureRow = dict(profile)
    row.update(timeline.activity(at, options.windows))
    if options.account:
        row.update(account_features(account, at, options.windows))
    row["lead.age_days"] = max(0.0, (at - seen_at).total_seconds() / _DAY)
    row["lead.stage"] = stage
    return (excluder or Excluder(options.exclude)).keep(row)


def value_of(row: Mapping[str, FeatureValue], name: str) -> FeatureValue:
    """Given a row and a feature name, return its value, with a missing name's default."""
    return row[name] if name in row else absent_value(name)
