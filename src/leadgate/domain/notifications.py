"""Notifications: what leadgate announces to people and systems, rendered once, sent anywhere.

A ``Notification`` is the unit the outbox stores and a channel delivers: an event type, an
idempotency key, when it happened, a one-line title, a Markdown body for people, short
label/value ``facts`` for glanceable layouts (Slack fields, Teams facts, an email table),
a link, and the structured JSON ``payload`` for machines. Channels never look anything up:
everything they send is in the value, so a retry from the outbox sends the same message.

The Markdown is a small, predictable subset that every channel can translate: ``#``
headings, ``- `` bullet items, one-line paragraphs separated by blank lines, ``**bold**``,
code spans in backticks and ``[label](https://...)`` links. Every value that comes from a
lead, a form or a sales note goes through ``escape_markdown`` first, so a form answer
cannot add formatting, links, or lines to an alert.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum
from types import UnionType
from typing import Any, Union, get_args, get_origin, get_type_hints

from leadgate.domain.accounts import Account
from leadgate.domain.leads import Lead
from leadgate.domain.lifecycle import Transition
from leadgate.domain.scoring import Contribution, Score
from leadgate.domain.touchpoints import Touchpoint


class EventType(StrEnum):
    """What a notification announces; subscriptions are per event type."""

    HANDOFF_CREATED = "handoff.created"
    HANDOFF_QUEUED = "handoff.queued"  # no eligible rep: the team manager is told
    SLA_WARNING = "sla.warning"
    SLA_BREACHED = "sla.breached"
    STAGE_CHANGED = "stage.changed"
    LEAD_RECYCLED = "lead.recycled"
    LEAD_DISQUALIFIED = "lead.disqualified"
    AUDIENCE_CHANGED = "audience.changed"  # saved-audience membership pushes


# Keys travel in HTTP and mail headers and in Message-IDs: a narrow alphabet keeps them safe.
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,199}")


def event_key(event: EventType, *parts: object) -> str:
    """Given an event type and what identifies one occurrence of it, return its key.

    Example: ``event_key(EventType.HANDOFF_CREATED, 42)``. The same parts always give the
    same key, so an event announced twice (a crash between writing the outbox and marking
    the cause done) is still recognised by receivers as one delivery.
    """
    material = "\x1f".join([event.value, *(_key_part(part) for part in parts)])
    return "evt_" + hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]


def _key_part(part: object) -> str:
    return _iso(part) if isinstance(part, datetime) else str(part)


@dataclass(frozen=True, slots=True)
class Notification:
    """One announcement, complete and channel-neutral.

    ``key`` is the idempotency key: stable for the event, re-sent unchanged on every retry
    (webhook ``X-Leadgate-Delivery``, email Message-ID), so receivers can drop duplicates.
    ``payload`` must hold JSON values only; it becomes ``data`` in the webhook body.
    """

    event: EventType
    key: str
    occurred_at: datetime
    title: str
    body: str
    payload: Mapping[str, Any]
    link: str | None = None
    link_label: str = "Open in leadgate"
    facts: tuple[tuple[str, str], ...] = ()
    # The people it is for (rep and manager ids, normally email addresses): an email
    # endpoint with ``to_recipients`` writes to them as well as to its fixed ``to``.
    recipients: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not _KEY.fullmatch(self.key):
            raise ValueError(
                f"notification key {self.key!r} must be 1–200 characters of letters, digits "
                "and . _ : - (it is sent in headers and Message-IDs)"
            )
        if self.occurred_at.tzinfo is None:
            raise ValueError("notification occurred_at must be timezone-aware")
        if self.link is not None and not _is_web_url(self.link):
            raise ValueError(f"notification link must be an http(s) URL, got {self.link!r}")
        # Titles become mail subjects and card headers: one line, whatever the data held.
        object.__setattr__(self, "title", _one_line(self.title) or self.event.value)
        object.__setattr__(self, "link_label", _one_line(self.link_label) or "Open")
        object.__setattr__(
            self, "facts", tuple((_one_line(k), _one_line(v)) for k, v in self.facts)
        )

    def event_json(self) -> dict[str, Any]:
        """The machine form: ``{"id", "type", "occurred_at", "data"}`` (the webhook body)."""
        return {
            "id": self.key,
            "type": self.event.value,
            "occurred_at": _iso(self.occurred_at),
            "data": _plain(self.payload),
        }

    def to_record(self) -> dict[str, Any]:
        """Everything needed to send this again, as JSON values (for the outbox row)."""
        return {
            "event": self.event.value,
            "key": self.key,
            "occurred_at": _iso(self.occurred_at),
            "title": self.title,
            "body": self.body,
            "payload": _plain(self.payload),
            "link": self.link,
            "link_label": self.link_label,
            "facts": [list(pair) for pair in self.facts],
            "recipients": list(self.recipients),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Notification:
        """Given what ``to_record`` returned, return the same notification."""
        return cls(
            event=EventType(record["event"]),
            key=record["key"],
            occurred_at=datetime.fromisoformat(record["occurred_at"]),
            title=record["title"],
            body=record["body"],
            payload=record["payload"],
            link=record.get("link"),
            link_label=record.get("link_label", "Open in leadgate"),
            facts=tuple((str(k), str(v)) for k, v in record.get("facts", ())),
            recipients=tuple(str(r) for r in record.get("recipients", ())),
        )


# --- the context package: plain data the service layer fills from the database ---------


@dataclass(frozen=True, slots=True)
class LeadSummary:
    """Who the lead is, as alerts show it.

    Example: ``LeadSummary(7, email="ann@acme.io", first_name="Ann", last_name="Lee",
    title="VP Marketing", seniority="vp", stage="sql")``.
    """

    id: int
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    title: str | None = None
    seniority: str | None = None
    department: str | None = None
    persona: str | None = None
    country: str | None = None
    owner: str | None = None
    stage: str | None = None

    @property
    def name(self) -> str:
        """The person's name, else their email, else ``Lead <id>``."""
        full = " ".join(p for p in (self.first_name, self.last_name) if p)
        return full or self.email or f"Lead {self.id}"

    @classmethod
    def from_lead(cls, lead: Lead) -> LeadSummary:
        if lead.id is None:
            raise ValueError("a lead must be stored (have an id) before it is announced")
        return cls(
            id=lead.id,
            email=lead.email,
            first_name=lead.first_name,
            last_name=lead.last_name,
            title=lead.title,
            seniority=lead.seniority,
            department=lead.department,
            persona=lead.persona,
            country=lead.country,
            owner=lead.owner,
            stage=lead.stage.value,
        )

    def to_json(self) -> dict[str, Any]:
        return {**_plain(self), "name": self.name}


@dataclass(frozen=True, slots=True)
class AccountSummary:
    """The company and its firmographics. Example: ``AccountSummary("acme.io", "Acme")``."""

    domain: str
    name: str | None = None
    industry: str | None = None
    employees: int | None = None
    annual_revenue: float | None = None
    country: str | None = None
    region: str | None = None
    technographics: tuple[str, ...] = ()
    owner: str | None = None

    @classmethod
    def from_account(cls, account: Account) -> AccountSummary:
        return cls(
            domain=account.domain,
            name=account.name,
            industry=account.industry,
            employees=account.employees,
            annual_revenue=account.annual_revenue,
            country=account.country,
            region=account.region,
            technographics=tuple(account.technographics),
            owner=account.owner,
        )


@dataclass(frozen=True, slots=True)
class ScoreSummary:
    """The score at handoff. Example: ``ScoreSummary(40, 47, 87, "A", model_version=3)``."""

    fit: float
    engagement: float
    total: float
    grade: str | None = None
    model_version: int | None = None
    probability: float | None = None

    @classmethod
    def from_score(cls, score: Score, model_version: int | None = None) -> ScoreSummary:
        return cls(
            score.fit, score.engagement, score.total, score.grade, model_version, score.probability
        )


@dataclass(frozen=True, slots=True)
class TopContribution:
    """One rule's share of the score ("why now"), with how many touchpoints fed it."""

    rule_id: str
    kind: str
    points: float
    description: str = ""
    touchpoints: int = 0

    @classmethod
    def from_contribution(cls, contribution: Contribution) -> TopContribution:
        return cls(
            contribution.rule_id,
            contribution.kind,
            contribution.points,
            contribution.description,
            len(contribution.matches),
        )


@dataclass(frozen=True, slots=True)
class TouchpointSummary:
    """A touchpoint as alerts mention it; ``detail`` is its path, title or topic."""

    name: str
    occurred_at: datetime
    detail: str | None = None
    message_id: str | None = None

    @classmethod
    def from_touchpoint(cls, touchpoint: Touchpoint) -> TouchpointSummary:
        detail = next(
            (
                str(touchpoint.properties[k])
                for k in ("path", "title", "name", "topic", "url")
                if touchpoint.properties.get(k)
            ),
            None,
        )
        return cls(touchpoint.name, touchpoint.occurred_at, detail, touchpoint.message_id)


@dataclass(frozen=True, slots=True)
class PageVisit:
    """A page the lead viewed, counted. Example: ``PageVisit("/pricing", views=3)``."""

    path: str
    views: int = 1
    last_viewed_at: datetime | None = None
    title: str | None = None
    category: str | None = None


@dataclass(frozen=True, slots=True)
class ContentItem:
    """Content consumed: a download, a webinar. ``kind`` is the touchpoint name."""

    title: str
    kind: str
    occurred_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class IntentTopic:
    """A third-party intent signal. Example: ``IntentTopic("data warehouse", 82, "bombora")``."""

    topic: str
    score: float | None = None
    provider: str | None = None
    occurred_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StageStep:
    """One stage change in the lead's past (for "earlier stages") or the one announced."""

    from_stage: str
    to_stage: str
    occurred_at: datetime
    reason: str = ""
    actor: str = ""
    actor_type: str = ""
    override: bool = False

    @classmethod
    def from_transition(cls, transition: Transition) -> StageStep:
        return cls(
            transition.from_stage.value,
            transition.to_stage.value,
            transition.occurred_at,
            transition.reason,
            transition.actor,
            transition.actor_type.value,
            transition.override,
        )


@dataclass(frozen=True, slots=True)
class ContextPackage:
    """Everything a rep needs to act on a handoff without opening another tool.

    Who (``lead``), the company (``account``), why now (``score``, ``top_contributions``,
    ``crossing_touchpoints``: the touchpoints that crossed the gate), source and campaign
    (with first-touch UTM), pages and content consumed, form answers, intent topics, and
    earlier stages (for example recycled before, and why). Lists are expected most
    relevant first; rendering shows the first few of each.
    """

    lead: LeadSummary
    account: AccountSummary | None = None
    score: ScoreSummary | None = None
    top_contributions: tuple[TopContribution, ...] = ()
    crossing_touchpoints: tuple[TouchpointSummary, ...] = ()
    source: str | None = None
    campaign: str | None = None
    utm: Mapping[str, str] = field(default_factory=dict)
    pages: tuple[PageVisit, ...] = ()
    content: tuple[ContentItem, ...] = ()
    form_answers: Mapping[str, Any] = field(default_factory=dict)
    intent_topics: tuple[IntentTopic, ...] = ()
    stage_history: tuple[StageStep, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The package as JSON values (the API's and the webhook's ``context``)."""
        data: dict[str, Any] = _plain(self)
        data["lead"] = self.lead.to_json()
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> ContextPackage | None:
        """Given what ``to_json`` returned (a handoff's stored context), return the
        package again, or None when nothing usable was stored."""
        if not data or not isinstance(data.get("lead"), Mapping):
            return None
        try:
            package = _from_json(cls, data)
        except (TypeError, ValueError, KeyError):
            return None
        return package if isinstance(package, ContextPackage) else None


@dataclass(frozen=True, slots=True)
class HandoffSummary:
    """A handoff as alerts show it. ``owner`` is None while it waits in ``team``'s queue."""

    id: int
    lead_id: int
    created_at: datetime
    owner: str | None = None
    team: str | None = None
    manager: str | None = None
    routed_by: str | None = None  # the routing rule, "account owner", or "manual"
    due_at: datetime | None = None
    sla_policy: str | None = None
    status: str = "pending"


@dataclass(frozen=True, slots=True)
class AudienceMember:
    """A lead joining or leaving a saved audience, with what ad and nurture tools match on."""

    lead_id: int
    email: str | None = None
    account_domain: str | None = None


@dataclass(frozen=True, slots=True)
class AudienceChange:
    """Membership changes of a saved audience since the last push.

    Large changes go out in several notifications: ``batch`` numbers them so each has its
    own idempotency key.
    """

    audience_id: str
    name: str
    as_of: datetime
    added: tuple[AudienceMember, ...] = ()
    removed: tuple[AudienceMember, ...] = ()
    batch: int = 0


# --- Markdown ------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~])")


def escape_markdown(text: object) -> str:
    """Given any value, return it as one line of Markdown that reads as plain text."""
    escaped = _MD_SPECIAL.sub(r"\\\1", _one_line(str(text)))
    # At the start of a line these would turn the value into a list, a heading underline
    # or a rule; values open lines in several sections, so they are always escaped.
    if escaped.startswith(("-", "+", "=")):
        return "\\" + escaped
    number = re.match(r"\d+(?=[.)])", escaped)
    if number:
        return escaped[: number.end()] + "\\" + escaped[number.end() :]
    return escaped


def _code(text: object) -> str:
    """Given any value, return it as a Markdown code span (whose content is literal)."""
    return "`" + _one_line(str(text)).replace("`", "'") + "`"


def markdown_link(label: str, url: str) -> str:
    """Given a label and an http(s) URL, return a Markdown link (else the label alone)."""
    if not _is_web_url(url):
        return escape_markdown(label)
    # Spaces and parentheses would end the link target early.
    safe = url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")
    return f"[{escape_markdown(label)}]({safe})"


def render_markdown(package: ContextPackage, *, tz: tzinfo = UTC, limit: int = 10) -> str:
    """Given a context package, return it as Markdown for people: the handoff alert body.

    Sections without data are left out; each list shows at most ``limit`` entries and
    says how many more there are. Times are shown in ``tz``.
    """
    out: list[str] = []

    def section(heading: str, lines: Sequence[str]) -> None:
        if lines:
            out.append(f"### {heading}")
            out.extend(lines)

    section("Who", _who(package.lead))
    section("Company", _company(package.account))
    section("Why now", _why_now(package, tz, limit))
    section("Source", _source(package))
    pages = [
        "- "
        + _dots(
            _code(p.path) + (f" ×{p.views}" if p.views > 1 else ""),
            p.title and escape_markdown(p.title),
            p.category and escape_markdown(p.category),
            p.last_viewed_at and f"last {_when(p.last_viewed_at, tz)}",
        )
        for p in package.pages
    ]
    content = [
        "- "
        + _dots(
            f"**{escape_markdown(c.title)}**",
            escape_markdown(c.kind),
            c.occurred_at and _when(c.occurred_at, tz),
        )
        for c in package.content
    ]
    section("Pages and content", _capped(pages, limit) + _capped(content, limit))
    answers = [
        f"- **{escape_markdown(q)}:** {escape_markdown(_answer(a))}"
        for q, a in package.form_answers.items()
    ]
    section("Form answers", _capped(answers, limit))
    intent = [
        "- "
        + _dots(
            f"**{escape_markdown(i.topic)}**",
            i.score is not None and _num(i.score),
            i.provider and escape_markdown(i.provider),
            i.occurred_at and _when(i.occurred_at, tz),
        )
        for i in package.intent_topics
    ]
    section("Intent", _capped(intent, limit))
    history = [
        "- " + _dots(_when(s.occurred_at, tz), _step(s), s.actor and escape_markdown(s.actor))
        for s in package.stage_history
    ]
    section("Earlier stages", _capped(history, limit))
    return _join(out)


def _who(lead: LeadSummary) -> list[str]:
    role = _dots(
        lead.title and escape_markdown(lead.title),
        lead.seniority and escape_markdown(lead.seniority),
        lead.department and escape_markdown(lead.department),
        lead.persona and f"persona {escape_markdown(lead.persona)}",
    )
    contact = _dots(
        lead.email and escape_markdown(lead.email),
        lead.country and escape_markdown(lead.country),
        lead.stage and f"stage {escape_markdown(lead.stage)}",
        lead.owner and f"owner {escape_markdown(lead.owner)}",
    )
    return [line for line in (f"**{escape_markdown(lead.name)}**", role, contact) if line]


def _company(account: AccountSummary | None) -> list[str]:
    if account is None:
        return []
    name = escape_markdown(account.name or account.domain)
    head = f"**{name}**" + (f" ({escape_markdown(account.domain)})" if account.name else "")
    lines = [
        _dots(
            head,
            account.industry and escape_markdown(account.industry),
            account.employees is not None and f"{account.employees:,} employees",
            account.annual_revenue is not None and f"revenue {_compact(account.annual_revenue)}",
            ", ".join(escape_markdown(x) for x in (account.country, account.region) if x),
        )
    ]
    if account.technographics:
        lines.append("Uses: " + ", ".join(escape_markdown(t) for t in account.technographics))
    if account.owner:
        lines.append(f"Account owner: {escape_markdown(account.owner)}")
    return lines


def _why_now(package: ContextPackage, tz: tzinfo, limit: int) -> list[str]:
    lines: list[str] = []
    score = package.score
    if score is not None:
        lines.append(
            _dots(
                f"Score **{_num(score.total)}** (fit {_num(score.fit)}, "
                f"engagement {_num(score.engagement)})",
                score.grade and f"grade **{escape_markdown(score.grade)}**",
                score.probability is not None and f"{score.probability:.0%} likely to convert",
                score.model_version is not None and f"model v{score.model_version}",
            )
        )
    contributions = [
        "- "
        + _dots(
            f"**{_signed(c.points)}** {escape_markdown(c.description or c.rule_id)}",
            _code(c.rule_id) if c.description else None,
            c.touchpoints and f"{c.touchpoints} touchpoint{'s' if c.touchpoints != 1 else ''}",
        )
        for c in package.top_contributions
    ]
    lines.extend(_capped(contributions, limit))
    if package.crossing_touchpoints:
        lines.append("Crossed the gate:")
        crossing = [
            "- "
            + _dots(
                _when(t.occurred_at, tz),
                _code(t.name),
                t.detail and escape_markdown(t.detail),
            )
            for t in package.crossing_touchpoints
        ]
        lines.extend(_capped(crossing, limit))
    return lines


def _source(package: ContextPackage) -> list[str]:
    line = _dots(
        package.source and escape_markdown(package.source),
        package.campaign and f"campaign **{escape_markdown(package.campaign)}**",
        ", ".join(f"{escape_markdown(k)}={escape_markdown(v)}" for k, v in package.utm.items()),
    )
    return [line] if line else []


def _step(step: StageStep) -> str:
    move = f"{escape_markdown(step.from_stage)} → {escape_markdown(step.to_stage)}"
    return move + (f": {escape_markdown(step.reason)}" if step.reason else "")


# --- one builder per event ----------------------------------------------------------------


def handoff_created(
    handoff: HandoffSummary,
    context: ContextPackage,
    *,
    link: str | None = None,
    tz: tzinfo = UTC,
) -> Notification:
    """Given a new handoff and its context package, return the alert to its owner."""
    who = _who_at(context.lead, context.account)
    facts = _handoff_facts(handoff, context, tz)
    return Notification(
        event=EventType.HANDOFF_CREATED,
        key=event_key(EventType.HANDOFF_CREATED, handoff.id),
        occurred_at=handoff.created_at,
        title=f"New handoff: {who}" + (f" → {handoff.owner}" if handoff.owner else ""),
        body=render_markdown(context, tz=tz),
        payload=_handoff_payload(handoff, context, link),
        link=link,
        link_label="Open lead",
        facts=facts,
        recipients=_people(handoff.owner),
    )


def handoff_queued(
    handoff: HandoffSummary,
    context: ContextPackage,
    *,
    reason: str,
    link: str | None = None,
    tz: tzinfo = UTC,
) -> Notification:
    """Given a handoff no rep could take, return the alert to the team's manager."""
    who = _who_at(context.lead, context.account)
    queue = handoff.team or "the unassigned"
    intro = (
        f"No eligible rep in **{escape_markdown(queue)}**: {escape_markdown(reason)}. "
        "The lead waits in the team's queue until someone takes it."
    )
    return Notification(
        event=EventType.HANDOFF_QUEUED,
        key=event_key(EventType.HANDOFF_QUEUED, handoff.id),
        occurred_at=handoff.created_at,
        title=f"No rep available: {who} waits in the {queue} queue",
        body=intro + "\n\n" + render_markdown(context, tz=tz),
        payload={**_handoff_payload(handoff, context, link), "reason": reason},
        link=link,
        link_label="Assign lead",
        facts=_handoff_facts(handoff, context, tz),
        recipients=_people(handoff.manager),
    )


def sla_warning(
    handoff: HandoffSummary,
    lead: LeadSummary,
    *,
    occurred_at: datetime,
    remaining: timedelta,
    account: AccountSummary | None = None,
    link: str | None = None,
    tz: tzinfo = UTC,
) -> Notification:
    """Given an open handoff nearing its first-touch deadline, return the reminder.

    ``remaining`` is business time left on the SLA calendar, as the SLA policy counts it.
    """
    who = _who_at(lead, account)
    due = handoff.due_at
    return Notification(
        event=EventType.SLA_WARNING,
        # Keyed by the deadline too: a reassigned handoff gets a new clock and a new warning.
        key=event_key(EventType.SLA_WARNING, handoff.id, due or ""),
        occurred_at=occurred_at,
        title=f"SLA warning: {who}, {_duration(remaining)} left for first touch",
        body="\n\n".join(
            [
                f"First touch for **{escape_markdown(who)}** is due "
                f"{_when(due, tz) if due else 'soon'}: {_duration(remaining)} of business "
                "time left.",
                "Log a call, an email or a meeting to meet the SLA.",
            ]
        ),
        payload={
            "handoff": _plain(handoff),
            "lead": lead.to_json(),
            "account": _plain(account),
            "remaining_seconds": remaining.total_seconds(),
            "url": link,
        },
        link=link,
        link_label="Open lead",
        facts=(*_sla_facts(handoff, lead, account, tz), ("Left", _duration(remaining))),
        recipients=_people(handoff.owner),
    )


def sla_breached(
    handoff: HandoffSummary,
    lead: LeadSummary,
    *,
    occurred_at: datetime,
    overdue: timedelta,
    account: AccountSummary | None = None,
    reassigned_to: str | None = None,
    alert_owner: bool = True,
    alert_manager: bool = True,
    link: str | None = None,
    tz: tzinfo = UTC,
) -> Notification:
    """Given a handoff whose first-touch deadline passed, return the breach alert (for the
    owner and the team manager, as the SLA policy's ``on_breach`` says)."""
    who = _who_at(lead, account)
    due = handoff.due_at
    lines = [
        f"No first touch for **{escape_markdown(who)}** by "
        f"{_when(due, tz) if due else 'the deadline'} ({_duration(overdue)} overdue, "
        "business time)."
    ]
    if reassigned_to:
        lines.append(f"Reassigned to **{escape_markdown(reassigned_to)}**.")
    facts = (*_sla_facts(handoff, lead, account, tz), ("Overdue", _duration(overdue)))
    return Notification(
        event=EventType.SLA_BREACHED,
        key=event_key(EventType.SLA_BREACHED, handoff.id, due or ""),
        occurred_at=occurred_at,
        title=f"SLA breached: {who}, no first touch ({_duration(overdue)} overdue)",
        body="\n\n".join(lines),
        payload={
            "handoff": _plain(handoff),
            "lead": lead.to_json(),
            "account": _plain(account),
            "overdue_seconds": overdue.total_seconds(),
            "reassigned_to": reassigned_to,
            "url": link,
        },
        link=link,
        link_label="Open lead",
        facts=facts + ((("Reassigned to", reassigned_to),) if reassigned_to else ()),
        recipients=_people(
            handoff.owner if alert_owner else None,
            handoff.manager if alert_manager else None,
            reassigned_to,
        ),
    )


def stage_changed(
    lead: LeadSummary,
    step: StageStep,
    *,
    account: AccountSummary | None = None,
    link: str | None = None,
    tz: tzinfo = UTC,
) -> Notification:
    """Given a lead and the transition it just made, return the stage-change notice."""
    return _transition_notice(
        EventType.STAGE_CHANGED,
        lead,
        step,
        account=account,
        link=link,
        tz=tz,
        title=f"{_who_at(lead, account)} moved from {step.from_stage} to {step.to_stage}",
        extra={},
        lines=[],
    )


def lead_recycled(
    lead: LeadSummary,
    step: StageStep,
    *,
    reason: str,
    note: str | None = None,
    nurture_track: str | None = None,
    account: AccountSummary | None = None,
    link: str | None = None,
    tz: tzinfo = UTC,
) -> Notification:
    """Given a recycled lead, return the notice a nurture tool enrols it from."""
    lines = [f"**Reason:** {escape_markdown(reason)}"]
    if note:
        lines.append(f"**Note:** {escape_markdown(note)}")
    if nurture_track:
        lines.append(f"**Nurture track:** {escape_markdown(nurture_track)}")
    return _transition_notice(
        EventType.LEAD_RECYCLED,
        lead,
        step,
        account=account,
        link=link,
        tz=tz,
        title=f"{_who_at(lead, account)} recycled: {reason}",
        extra={"reason": reason, "note": note, "nurture_track": nurture_track},
        lines=lines,
    )


def lead_disqualified(
    lead: LeadSummary,
    step: StageStep,
    *,
    reason: str,
    note: str | None = None,
    account: AccountSummary | None = None,
    link: str | None = None,
    tz: tzinfo = UTC,
) -> Notification:
    """Given a disqualified lead, return the notice."""
    lines = [f"**Reason:** {escape_markdown(reason)}"]
    if note:
        lines.append(f"**Note:** {escape_markdown(note)}")
    return _transition_notice(
        EventType.LEAD_DISQUALIFIED,
        lead,
        step,
        account=account,
        link=link,
        tz=tz,
        title=f"{_who_at(lead, account)} disqualified: {reason}",
        extra={"reason": reason, "note": note},
        lines=lines,
    )


def audience_changed(
    change: AudienceChange, *, link: str | None = None, limit: int = 20
) -> Notification:
    """Given membership changes of a saved audience, return the push for sync tools."""

    def members(heading: str, people: Sequence[AudienceMember]) -> list[str]:
        lines = [
            "- "
            + escape_markdown(m.email or f"lead {m.lead_id}")
            + (f" ({escape_markdown(m.account_domain)})" if m.account_domain else "")
            for m in people
        ]
        return [f"### {heading}", *_capped(lines, limit)] if lines else []

    body = members("Joined", change.added) + members("Left", change.removed)
    return Notification(
        event=EventType.AUDIENCE_CHANGED,
        key=event_key(EventType.AUDIENCE_CHANGED, change.audience_id, change.as_of, change.batch),
        occurred_at=change.as_of,
        title=(f"Audience {change.name}: {len(change.added)} joined, {len(change.removed)} left"),
        body=_join(body) or "No membership changes.",
        payload={
            "audience": {"id": change.audience_id, "name": change.name},
            "as_of": _iso(change.as_of),
            "batch": change.batch,
            "added": _plain(change.added),
            "removed": _plain(change.removed),
            "url": link,
        },
        link=link,
        link_label="Open audience",
        facts=(("Joined", str(len(change.added))), ("Left", str(len(change.removed)))),
    )


def _transition_notice(
    event: EventType,
    lead: LeadSummary,
    step: StageStep,
    *,
    account: AccountSummary | None,
    link: str | None,
    tz: tzinfo,
    title: str,
    extra: dict[str, Any],
    lines: list[str],
) -> Notification:
    by = _dots(step.actor and escape_markdown(step.actor), step.actor_type)
    body = [
        f"**{escape_markdown(lead.name)}**: {_step(step)}",
        *lines,
        _dots(_when(step.occurred_at, tz), by and f"by {by}", step.override and "override"),
    ]
    facts = [("Lead", lead.name), ("Stage", f"{step.from_stage} → {step.to_stage}")]
    if account is not None:
        facts.insert(1, ("Company", account.name or account.domain))
    if lead.owner:
        facts.append(("Owner", lead.owner))
    return Notification(
        event=event,
        key=event_key(event, lead.id, step.to_stage, step.occurred_at),
        occurred_at=step.occurred_at,
        title=title,
        body="\n\n".join(body),
        payload={
            "lead": lead.to_json(),
            "account": _plain(account),
            "transition": _plain(step),
            **extra,
            "url": link,
        },
        link=link,
        link_label="Open lead",
        facts=tuple(facts),
    )


def _handoff_payload(
    handoff: HandoffSummary, context: ContextPackage, link: str | None
) -> dict[str, Any]:
    return {
        "handoff": _plain(handoff),
        "lead": context.lead.to_json(),
        "account": _plain(context.account),
        "context": context.to_json(),
        "url": link,
    }


def _handoff_facts(
    handoff: HandoffSummary, context: ContextPackage, tz: tzinfo
) -> tuple[tuple[str, str], ...]:
    lead, account, score = context.lead, context.account, context.score
    grade = score and score.grade and f"grade {score.grade}"
    facts: list[tuple[str, str | None]] = [
        ("Lead", _dots(lead.name, lead.title)),
        ("Company", _company_name(account)),
        ("Owner", handoff.owner or (handoff.team and f"{handoff.team} queue")),
        ("Score", _dots(_num(score.total), grade) if score else None),
        ("First touch due", _when(handoff.due_at, tz) if handoff.due_at else None),
        ("Source", _dots(context.source, context.campaign)),
    ]
    return tuple((k, v) for k, v in facts if v)


def _sla_facts(
    handoff: HandoffSummary, lead: LeadSummary, account: AccountSummary | None, tz: tzinfo
) -> tuple[tuple[str, str], ...]:
    facts: list[tuple[str, str | None]] = [
        ("Lead", lead.name),
        ("Company", _company_name(account)),
        ("Owner", handoff.owner),
        ("Due", _when(handoff.due_at, tz) if handoff.due_at else None),
        ("SLA policy", handoff.sla_policy),
    ]
    return tuple((k, v) for k, v in facts if v)


def _from_json(kind: Any, value: Any) -> Any:
    # Walks the dataclasses' own annotations, so a field added to the package later is
    # read without a change here; keys the package does not know (lead "name") are skipped.
    if value is None:
        return None
    origin = get_origin(kind)
    if origin in (Union, UnionType):
        arms = [arm for arm in get_args(kind) if arm is not type(None)]
        return _from_json(arms[0], value) if len(arms) == 1 else value
    if origin is tuple:
        return tuple(_from_json(get_args(kind)[0], item) for item in value)
    if kind is datetime:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if isinstance(kind, type) and is_dataclass(kind):
        hints = get_type_hints(kind)
        return kind(
            **{
                f.name: _from_json(hints[f.name], value[f.name])
                for f in fields(kind)
                if f.name in value
            }
        )
    if origin is not None and issubclass(origin, Mapping):
        return dict(value)
    return value


def _people(*ids: str | None) -> tuple[str, ...]:
    """The ids given, without blanks and repeats, in order."""
    return tuple(dict.fromkeys(i for i in ids if i))


# --- small formatting helpers ---------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _when(moment: datetime, tz: tzinfo) -> str:
    local = moment.astimezone(tz)
    return local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or "")


def _duration(span: timedelta) -> str:
    minutes = int(abs(span.total_seconds()) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (mins, "m")) if n]
    return " ".join(parts[:2]) or "<1m"


def _num(value: float) -> str:
    return str(round(value)) if abs(value - round(value)) < 0.05 else f"{value:.1f}"


def _signed(value: float) -> str:
    return ("+" if value >= 0 else "-") + _num(abs(value))


def _compact(value: float) -> str:
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= size:
            return f"{value / size:.1f}".removesuffix(".0") + suffix
    return _num(value)


def _answer(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _dots(*parts: object) -> str:
    """Join the parts that have a value with " · " (None, False, 0 and "" are left out)."""
    return " · ".join(str(p) for p in parts if p)


def _join(lines: Sequence[str]) -> str:
    """Join Markdown lines: list items in a row stay one list, anything else is a paragraph."""
    out = ""
    for i, line in enumerate(lines):
        if i:
            tight = line.startswith("- ") and lines[i - 1].startswith("- ")
            out += "\n" if tight else "\n\n"
        out += line
    return out


def _capped(lines: list[str], limit: int) -> list[str]:
    if len(lines) <= limit:
        return lines
    return [*lines[:limit], f"- … and {len(lines) - limit} more"]


def _who_at(lead: LeadSummary, account: AccountSummary | None) -> str:
    return lead.name + (f" at {_company_name(account)}" if account else "")


def _company_name(account: AccountSummary | None) -> str | None:
    return (account.name or account.domain) if account else None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _is_web_url(url: str) -> bool:
    return re.fullmatch(r"https?://[^\s/?#]+[^\s]*", url, flags=re.IGNORECASE) is not None


def _plain(value: Any) -> Any:
    """Given dataclasses, mappings, sequences and datetimes, return JSON values."""
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, str):
        return str(value)  # a StrEnum becomes its plain value
    if isinstance(value, Iterable):
        return [_plain(v) for v in value]
    return value
