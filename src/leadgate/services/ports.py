"""Ports: what the use cases need from storage, as protocols the adapters implement.

The SQL adapter (``leadgate.adapters.db``) and the in-memory fake used by the unit tests
(``tests/fakes.py``) both satisfy these. Methods work on batches so the SQL side can stay
set-based. The unit of work names every repository a use case may need, so none reaches
one through a cast.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self

from leadgate.domain.accounts import Account
from leadgate.domain.handoff_config import HandoffConfig
from leadgate.domain.handoffs import Handoff
from leadgate.domain.identity import IdentityKey
from leadgate.domain.keys import ApiKey, KeyKind, Scope
from leadgate.domain.leads import Lead
from leadgate.domain.lifecycle import Stage, Transition
from leadgate.domain.scoring_model import ScoringModel
from leadgate.domain.touchpoints import Touchpoint
from leadgate.domain.users import Role, User

if TYPE_CHECKING:
    # predictive_ports keeps the predictive dataclasses; it reads this module only for
    # types as well, so neither imports the other at run time.
    from leadgate.services.predictive_ports import PredictiveRepository


@dataclass(frozen=True, slots=True)
class StoredTouchpoint:
    """A touchpoint as written: its canonical name, the name it arrived with, its lead."""

    touchpoint: Touchpoint
    lead_id: int
    original_name: str
    received_at: datetime


@dataclass(frozen=True, slots=True)
class StoredScore:
    """The current-score row of one lead (derived, rebuildable)."""

    lead_id: int
    model_version: int
    fit: float
    engagement: float
    total: float
    grade: str | None
    mql_gate: bool
    sales_ready_gate: bool
    scored_at: datetime


@dataclass(frozen=True, slots=True)
class StoredLeadState:
    """A lead's incremental state as stored: the model version it was built under and its
    document (``domain.lead_state.LeadState.to_document``); derived and rebuildable."""

    lead_id: int
    model_version: int
    document: Mapping[str, Any]
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class RefreshFacts:
    """What a refresh reads of one lead: where it is in the lifecycle, and its stored state
    and score (None: none yet)."""

    lead_id: int
    stage: Stage
    stage_entered_at: datetime | None
    engagement_reset_at: datetime | None
    state: StoredLeadState | None
    score: StoredScore | None


@dataclass(frozen=True, slots=True)
class StageChange:
    """A lead's new stage, when it entered it, and its engagement reset point."""

    lead_id: int
    stage: Stage
    entered_at: datetime
    engagement_reset_at: datetime | None


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """A stored scoring model document and its parsed form."""

    version: int
    name: str
    checksum: str
    document: str
    model: ScoringModel
    created_at: datetime
    created_by: str
    activated_at: datetime | None
    is_active: bool


HANDOFF_KIND = "handoff"
"""The kind of the handoff configuration among the configuration documents."""


@dataclass(frozen=True, slots=True)
class ConfigVersion:
    """A stored configuration document (the handoff YAML) and its version."""

    kind: str
    version: int
    document: str
    created_at: datetime
    created_by: str
    is_active: bool


@dataclass(frozen=True, slots=True)
class Outcome:
    """What sales reported: accepted (BANT), recycled, disqualified, opportunity, won, lost."""

    lead_id: int
    kind: str
    actor: str
    occurred_at: datetime
    handoff_id: int | None = None
    reason: str | None = None
    note: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    id: int | None = None


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where notifications go (Slack, Teams, webhook, email) and the events it wants."""

    id: int
    name: str
    kind: str
    config: Mapping[str, Any]
    events: tuple[str, ...]
    active: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One notification for one endpoint, and how its delivery is going."""

    id: int
    endpoint_id: int
    event_type: str
    idempotency_key: str
    lead_id: int | None
    notification: Mapping[str, Any]
    status: str  # pending | delivered | dead
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class Audience:
    """A saved audience: conditions (``[{field, op, value}]``) and where changes go."""

    id: int
    name: str
    conditions: tuple[Mapping[str, Any], ...]
    endpoint_id: int | None
    created_at: datetime
    refreshed_at: datetime | None


@dataclass(frozen=True, slots=True)
class QueuedCall:
    """A tracking call as the capture appends it to the inbox: ``document`` rebuilds the
    call (``services.inbox_codec``); ``event`` says it adds a touchpoint, so its message id
    is held once (a retry of it is a duplicate)."""

    message_id: str
    event: bool
    received_at: datetime
    document: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class InboxEntry:
    """A pending call as the qualifier takes it: ``document`` is as stored, which the
    qualifier must check (a row written by another version may not rebuild)."""

    id: int
    message_id: str
    received_at: datetime
    document: Any


@dataclass(frozen=True, slots=True)
class ParkedCall:
    """A call the qualifier could not process, set aside with the reason."""

    id: int
    message_id: str
    received_at: datetime
    parked_at: datetime
    reason: str
    document: Any


@dataclass(frozen=True, slots=True)
class InboxCounts:
    """How many calls wait and were parked, and when the oldest waiting one arrived."""

    backlog: int
    oldest_received_at: datetime | None
    parked: int


class AccountRepository(Protocol):
    def find(self, domains: Collection[str]) -> dict[str, int]:
        """Given domains, return the ids of the accounts that exist."""
        ...

    def ensure(self, domains: Collection[str], now: datetime) -> dict[str, int]:
        """Given domains, return their account ids, creating bare accounts for new ones."""
        ...

    def upsert(self, accounts: Sequence[Account], now: datetime) -> dict[str, int]:
        """Create or update accounts by domain (given attributes overwrite, traits merge)."""
        ...


class LeadRepository(Protocol):
    def resolve(self, keys: Collection[IdentityKey]) -> dict[IdentityKey, int]:
        """Given identity keys, return the lead id of each key already known."""
        ...

    def create(self, leads: Sequence[Lead], now: datetime) -> list[int]:
        """Insert new leads (``account_id`` set, no ``id``) and return their ids in order."""
        ...

    def add_identities(self, links: Sequence[tuple[int, IdentityKey]], now: datetime) -> None:
        """Attach keys to leads; a key that already points somewhere is left alone."""
        ...

    def update_profiles(self, leads: Sequence[Lead], now: datetime) -> None:
        """Overwrite the given leads' profile attributes (not stage) and merge traits."""
        ...

    def claim(self, keys: Collection[IdentityKey]) -> None:
        """Hold identity keys nobody has linked yet until commit, so a concurrent writer
        about to link the same key queues behind us and then finds it linked."""
        ...

    def lock(self, lead_ids: Collection[int]) -> None:
        """Hold the leads' rows until commit so concurrent writers queue behind us."""
        ...

    def get_many(self, lead_ids: Collection[int]) -> dict[int, Lead]:
        """Given ids, return the leads found, each with its account."""
        ...

    def set_stages(self, changes: Sequence[StageChange], now: datetime) -> None:
        """Record new current stages (the transitions themselves go to the transition log)."""
        ...

    def ids_for_accounts(self, account_ids: Collection[int]) -> list[int]:
        """The ids of the leads at these accounts."""
        ...

    def id_chunks(self, size: int) -> Iterator[list[int]]:
        """Yield every lead id in ascending chunks of at most ``size``."""
        ...

    def count(self) -> int: ...


class TouchpointRepository(Protocol):
    def known(self, message_ids: Collection[str]) -> set[str]:
        """Given message ids, return those already stored."""
        ...

    def add(self, rows: Sequence[StoredTouchpoint]) -> int:
        """Append touchpoints, skipping message ids already stored; return how many were new."""
        ...

    def for_leads(self, lead_ids: Collection[int]) -> dict[int, list[Touchpoint]]:
        """Given lead ids, return each lead's touchpoints (any order)."""
        ...


class ScoreRepository(Protocol):
    def upsert(self, rows: Sequence[StoredScore]) -> None: ...

    def get_many(self, lead_ids: Collection[int]) -> dict[int, StoredScore]: ...


class LeadStateRepository(Protocol):
    def get_many(self, lead_ids: Collection[int]) -> dict[int, StoredLeadState]:
        """Given lead ids, return the states stored for them (any model version)."""
        ...

    def upsert(self, rows: Sequence[StoredLeadState]) -> None:
        """Write the leads' states (a later row of a lead wins)."""
        ...

    def delete(self, lead_ids: Collection[int]) -> None:
        """Forget the leads' states: each is rebuilt from the log when next needed."""
        ...

    def page(self, after_id: int, limit: int) -> list[RefreshFacts]:
        """The leads after ``after_id`` in id order (at most ``limit``), each with its stage
        and its stored state and score: one read per page for a refresh of every lead."""
        ...


class TransitionRepository(Protocol):
    def add(self, rows: Sequence[Transition]) -> None: ...

    def for_lead(self, lead_id: int) -> list[Transition]:
        """A lead's transitions, oldest first."""
        ...


class ModelRepository(Protocol):
    def parse(self, document: str) -> ScoringModel:
        """Given a YAML document, return the model or raise the adapter's validation error."""
        ...

    def add(self, document: str, *, now: datetime, created_by: str) -> ModelVersion:
        """Store a document as a new version (or return the version with the same text)."""
        ...

    def activate(self, version: int, now: datetime) -> ModelVersion: ...

    def active(self) -> ModelVersion | None: ...

    def get(self, version: int) -> ModelVersion | None: ...

    def all(self) -> list[ModelVersion]: ...


class LeadMergeRepository(Protocol):
    def merge(self, pairs: Sequence[tuple[int, int]], now: datetime) -> None:
        """For each (merged, into): move everything of ``merged`` to ``into``, delete it,
        and remember the redirect."""
        ...

    def merged_into(self, lead_id: int) -> int | None: ...


class ApiKeyRepository(Protocol):
    def add(
        self,
        *,
        name: str,
        kind: KeyKind,
        prefix: str,
        key_hash: str,
        scopes: frozenset[Scope],
        now: datetime,
    ) -> ApiKey: ...

    def by_hash(self, key_hash: str) -> ApiKey | None: ...

    def all(self) -> list[ApiKey]: ...

    def revoke(self, key_id: int, now: datetime) -> ApiKey | None:
        """Mark the key revoked (once) and return it, or None when there is no such key."""
        ...


class HandoffRepository(Protocol):
    def add(self, handoff: Handoff) -> Handoff: ...

    def save(self, handoff: Handoff) -> None: ...

    def get(self, handoff_id: int) -> Handoff | None: ...

    def pending_for(self, lead_ids: Collection[int]) -> dict[int, Handoff]: ...

    def for_lead(self, lead_id: int) -> list[Handoff]: ...

    def listing(
        self,
        *,
        owner: str | None = None,
        team: str | None = None,
        status: str | None = None,
        sla_status: str | None = None,
        after_id: int | None = None,
        limit: int = 50,
    ) -> list[Handoff]: ...

    def queued(self, limit: int = 500) -> list[Handoff]: ...

    def sla_due(self, now: datetime, limit: int = 500) -> list[Handoff]: ...

    def open_with_owner(self, lead_ids: Collection[int]) -> list[Handoff]: ...

    def touched(self, names: Collection[str]) -> list[tuple[Handoff, list[Touchpoint]]]:
        """Open handoffs whose lead has touchpoints named ``names`` since the handoff."""
        ...

    def open_counts(self) -> dict[str, int]: ...

    def routing_state(self, *, lock: bool = False) -> dict[str, Any]: ...

    def save_routing_state(self, states: Mapping[str, Any], now: datetime) -> None: ...

    def nurture_tracks(self, lead_ids: Collection[int]) -> dict[int, str]: ...

    def set_nurture_track(self, lead_id: int, track: str | None, now: datetime) -> None:
        """Name the nurture track a recycled lead goes to (None: none)."""
        ...

    def add_outcome(self, outcome: Outcome) -> int: ...

    def outcomes_for(self, lead_id: int) -> list[Outcome]: ...


class ConfigRepository(Protocol):
    def active(self, kind: str) -> ConfigVersion | None: ...

    def all(self, kind: str) -> list[ConfigVersion]: ...

    def add(self, kind: str, document: str, *, now: datetime, actor: str) -> ConfigVersion: ...

    def activate(self, kind: str, version: int, now: datetime) -> None: ...

    def handoff_config(self) -> HandoffConfig: ...


class OutboxRepository(Protocol):
    def add_endpoint(
        self,
        *,
        name: str,
        kind: str,
        config: Mapping[str, Any],
        events: Iterable[str],
        now: datetime,
    ) -> Endpoint: ...

    def endpoint(self, endpoint_id: int) -> Endpoint | None: ...

    def endpoints(self) -> list[Endpoint]: ...

    def set_endpoint_active(self, endpoint_id: int, active: bool) -> None: ...

    def subscribers(self, event_type: str) -> list[Endpoint]: ...

    def enqueue(
        self,
        endpoint_ids: Iterable[int],
        *,
        event_type: str,
        key: str,
        notification: Mapping[str, Any],
        lead_id: int | None,
        now: datetime,
    ) -> None: ...

    def claim(self, now: datetime, *, limit: int, lease: timedelta) -> list[OutboxMessage]: ...

    def record_attempt(
        self,
        message_id: int,
        *,
        at: datetime,
        ok: bool,
        status_code: int | None,
        error: str | None,
        duration_ms: float,
        status: str,
        next_attempt_at: datetime,
    ) -> None: ...

    def message(self, message_id: int) -> OutboxMessage | None: ...

    def messages(
        self,
        *,
        status: str | None = None,
        endpoint_id: int | None = None,
        after_id: int | None = None,
        limit: int = 50,
    ) -> list[OutboxMessage]: ...

    def attempts(self, message_id: int) -> list[dict[str, Any]]: ...

    def replay(self, message_id: int, now: datetime) -> bool: ...

    def pending_count(self) -> int: ...


class AudienceRepository(Protocol):
    def add(
        self,
        name: str,
        conditions: Collection[Mapping[str, Any]],
        endpoint_id: int | None,
        now: datetime,
    ) -> Audience: ...

    def get(self, audience_id: int) -> Audience | None: ...

    def by_name(self, name: str) -> Audience | None: ...

    def all(self) -> list[Audience]: ...

    def members(self, audience_id: int) -> set[int]: ...

    def update_members(
        self, audience_id: int, added: Collection[int], removed: Collection[int], now: datetime
    ) -> None: ...


class UserRepository(Protocol):
    """Dashboard users and their password hashes (see services.users)."""

    def add(
        self, *, username: str, password_hash: str, role: Role, rep: str | None, now: datetime
    ) -> User: ...

    def get(self, user_id: int) -> User | None: ...

    def by_name(self, username: str) -> tuple[User, str] | None:
        """The user and their stored password hash."""
        ...

    def all(self) -> list[User]: ...

    def set_disabled(self, user_id: int, disabled: bool) -> User | None: ...

    def set_password(self, user_id: int, password_hash: str) -> None: ...


class InboxRepository(Protocol):
    """Tracking calls captured but not yet qualified, in arrival order (ids ascend).

    The seam between capture and the qualifier: a table today, a log (a JetStream stream,
    a Kafka topic) could take its place: ``append`` is a produce, ``take`` a consume by the
    one consumer, ``done`` an acknowledgement, ``park`` a dead-letter queue."""

    def append(self, calls: Sequence[QueuedCall]) -> None:
        """Queue ``calls`` in this order. An event's message id is held once: one queued,
        drained (and kept) or parked already is refused, as a unique key is."""
        ...

    def queued(self, message_ids: Collection[str]) -> set[str]:
        """Those of ``message_ids`` held by an event call: waiting, drained and kept, or
        parked."""
        ...

    def backlog_bound(self) -> int:
        """At least the number of waiting calls, cheaply (from ids; exact when nothing is
        being appended at the same time): what capture checks against its limit."""
        ...

    def take(self, limit: int) -> list[InboxEntry]:
        """The oldest waiting calls, up to ``limit``, for this transaction's qualifier
        alone: ``[]`` when another transaction holds the inbox (it is draining)."""
        ...

    def done(self, entry_ids: Collection[int], at: datetime) -> None:
        """Mark calls drained at ``at`` (kept until ``purge`` for lag figures)."""
        ...

    def park(self, reasons: Mapping[int, str], at: datetime) -> None:
        """Set waiting calls aside with a reason each; calls no longer waiting are left."""
        ...

    def purge(self, drained_before: datetime) -> int:
        """Forget calls drained before ``drained_before``; return how many."""
        ...

    def counts(self) -> InboxCounts: ...

    def recent(self, limit: int) -> list[tuple[datetime, datetime]]:
        """(received, drained) of the last ``limit`` calls drained and kept, newest first."""
        ...

    def parked(self, *, after_id: int = 0, limit: int = 50) -> list[ParkedCall]:
        """Parked calls with an id above ``after_id``, lowest first."""
        ...


class UnitOfWork(Protocol):
    """One transaction: ``with uow: ...; uow.commit()``; leaving without commit rolls back.

    Re-entrant: a use case given a unit of work that is already open joins its
    transaction (its own ``with`` and ``commit`` do nothing; the outermost block decides).
    """

    @property
    def accounts(self) -> AccountRepository: ...

    @property
    def leads(self) -> LeadRepository: ...

    @property
    def touchpoints(self) -> TouchpointRepository: ...

    @property
    def scores(self) -> ScoreRepository: ...

    @property
    def lead_states(self) -> LeadStateRepository: ...

    @property
    def transitions(self) -> TransitionRepository: ...

    @property
    def models(self) -> ModelRepository: ...

    @property
    def keys(self) -> ApiKeyRepository: ...

    @property
    def merges(self) -> LeadMergeRepository: ...

    @property
    def handoffs(self) -> HandoffRepository: ...

    @property
    def configs(self) -> ConfigRepository: ...

    @property
    def outbox(self) -> OutboxRepository: ...

    @property
    def audiences(self) -> AudienceRepository: ...

    @property
    def predictive(self) -> PredictiveRepository: ...

    @property
    def users(self) -> UserRepository: ...

    @property
    def inbox(self) -> InboxRepository: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...
