"""An in-memory unit of work for service tests: every repository of ``ports.UnitOfWork`` kept
in dicts, with the SQL adapter's semantics.

``FakeUnitOfWork()`` behaves as ``SqlUnitOfWork(engine)`` does: ``with uow: ...;
uow.commit()``, leaving the block without a commit rolls back, a ``with`` inside an open
one joins it. Several units of work made on one ``FakeDatabase`` see each other's
committed changes only, as connections to one database do. What the SQL schema would
refuse (a second lead with the same email, a touchpoint of a lead that does not exist)
raises ``FakeIntegrityError`` at the write and ``ConcurrentUpdate`` when the outermost
block ends, as the SQL unit of work turns an IntegrityError into one.

Each repository follows its ``Sql*Repository`` (see their docstrings and
``tests/integration/test_repository_contract.py``, which runs the same checks on this fake
and on SQLite and PostgreSQL): ids ascend and are never reused, documents are stored as
JSON (what cannot be written as JSON is refused), times must be aware and come back in
UTC, and every read returns copies, so a use case that changes what it read changes
nothing stored until it writes it back.
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from types import TracebackType
from typing import Any, Self

import orjson

from leadgate.adapters.handoff_yaml import load_handoff_config
from leadgate.adapters.model_yaml import load_model
from leadgate.domain.accounts import ACCOUNT_ATTRIBUTES, Account
from leadgate.domain.features import AccountActivity
from leadgate.domain.handoff_config import HandoffConfig
from leadgate.domain.handoffs import Handoff, HandoffStatus
from leadgate.domain.identity import IdentityKey
from leadgate.domain.keys import ApiKey, KeyKind, Scope
from leadgate.domain.leads import LEAD_ATTRIBUTES, Lead
from leadgate.domain.lifecycle import Transition
from leadgate.domain.predictive import Milestone, Predictor
from leadgate.domain.scoring_model import ScoringModel
from leadgate.domain.sla import SlaStatus
from leadgate.domain.touchpoints import Touchpoint
from leadgate.domain.users import Role, User
from leadgate.models.handoff import default_handoff_text
from leadgate.services.errors import ConcurrentUpdate
from leadgate.services.ports import (
    HANDOFF_KIND,
    Audience,
    ConfigVersion,
    Endpoint,
    InboxCounts,
    InboxEntry,
    ModelVersion,
    OutboxMessage,
    Outcome,
    ParkedCall,
    QueuedCall,
    RefreshFacts,
    StageChange,
    StoredLeadState,
    StoredScore,
    StoredTouchpoint,
    UnitOfWork,
)
from leadgate.services.predictive_ports import (
    ActivePredictor,
    NewPredictiveModel,
    PredictiveModel,
    StoredProbability,
)

__all__ = ["FakeDatabase", "FakeIntegrityError", "FakeUnitOfWork"]

# As in adapters/db/repositories.py: profile columns written as given.
_ACCOUNT_FIELDS = tuple(sorted(ACCOUNT_ATTRIBUTES - {"domain", "technographics"}))
_LEAD_FIELDS = tuple(sorted(LEAD_ATTRIBUTES - {"email_domain", "stage"}))
# As in adapters/db/merges.py: what a survivor takes from the merged lead.
_FILL = ("source_channel", "source_campaign", "country", "first_name", "last_name", "title")


class FakeIntegrityError(Exception):
    """A write the SQL schema would refuse: a unique key taken, a row referring to one
    that does not exist."""


# --- values as the SQL columns give them back ----------------------------------------


def _utc(value: datetime) -> datetime:
    """An aware datetime as a UTCDateTime column gives it back; naive ones are refused."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()} given; leadgate stores UTC")
    return value.astimezone(UTC)


def _utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else _utc(value)


def _json(value: Any) -> Any:
    """A document as a JSON column gives it back (tuples become lists, keys strings)."""
    return json.loads(json.dumps(value))


def _checksum(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


@lru_cache(maxsize=32)
def _parsed_model(document: str) -> ScoringModel:
    """A stored model parsed once (stored documents never change), as SqlModelRepository."""
    return load_model(document, source="stored model")


@lru_cache(maxsize=8)
def _parsed_handoff(document: str, source: str) -> HandoffConfig:
    return load_handoff_config(document, source)


# Loaded predictive artefacts by SHA-256 (unpickling is slow; an artefact never changes).
_LOADED: dict[str, Predictor] = {}
_LOADED_LOCK = threading.Lock()


# --- the tables ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _AccountRow:
    account: Account  # with its id; never changed in place (see _Tables)
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class _LeadRow:
    lead: Lead  # with its id and account_id, without the account; never changed in place
    nurture_track: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class _TouchpointRow:
    id: int
    lead_id: int
    touchpoint: Touchpoint  # without lead_id
    original_name: str
    received_at: datetime


@dataclass(frozen=True, slots=True)
class _InboxRow:
    id: int
    message_id: str
    event: bool
    received_at: datetime
    document: str  # JSON text, as the SQL column holds it
    drained_at: datetime | None = None
    parked_at: datetime | None = None
    reason: str | None = None

    @property
    def waiting(self) -> bool:
        return self.drained_at is None and self.parked_at is None


@dataclass(frozen=True, slots=True)
class _ModelRow:
    version: int
    name: str
    checksum: str
    document: str
    created_at: datetime
    created_by: str
    activated_at: datetime | None = None
    is_active: bool = False


@dataclass(frozen=True, slots=True)
class _ConfigRow:
    kind: str
    version: int
    checksum: str
    document: str
    created_at: datetime
    created_by: str
    activated_at: datetime | None = None
    is_active: bool = False


@dataclass(slots=True)
class _Tables:
    """Everything stored. Rows are never changed in place (a write puts a new row in the
    table), so a copy of each table is a snapshot of the whole."""

    accounts: dict[int, _AccountRow] = field(default_factory=dict)
    leads: dict[int, _LeadRow] = field(default_factory=dict)
    identities: dict[IdentityKey, int] = field(default_factory=dict)
    touchpoints: dict[str, _TouchpointRow] = field(default_factory=dict)  # by message id
    scores: dict[int, StoredScore] = field(default_factory=dict)
    lead_states: dict[int, tuple[int, bytes, datetime]] = field(default_factory=dict)
    transitions: dict[int, Transition] = field(default_factory=dict)
    models: dict[int, _ModelRow] = field(default_factory=dict)
    keys: dict[int, tuple[ApiKey, str]] = field(default_factory=dict)  # with the key hash
    merges: dict[int, tuple[int, datetime]] = field(default_factory=dict)  # merged: into
    configs: list[_ConfigRow] = field(default_factory=list)
    handoffs: dict[int, Handoff] = field(default_factory=dict)
    routing_state: dict[str, tuple[Any, datetime]] = field(default_factory=dict)
    outcomes: dict[int, Outcome] = field(default_factory=dict)
    endpoints: dict[int, Endpoint] = field(default_factory=dict)
    outbox: dict[int, OutboxMessage] = field(default_factory=dict)
    attempts: dict[int, dict[str, Any]] = field(default_factory=dict)
    audiences: dict[int, Audience] = field(default_factory=dict)
    members: dict[tuple[int, int], datetime] = field(default_factory=dict)
    predictive_models: dict[int, tuple[PredictiveModel, bytes]] = field(default_factory=dict)
    probabilities: dict[int, StoredProbability] = field(default_factory=dict)
    users: dict[int, tuple[User, str]] = field(default_factory=dict)  # with the hash
    inbox: dict[int, _InboxRow] = field(default_factory=dict)
    inbox_events: dict[str, int] = field(default_factory=dict)  # the unique event_id
    last_ids: dict[str, int] = field(default_factory=dict)

    def snapshot(self) -> _Tables:
        return _Tables(**{name: copy.copy(getattr(self, name)) for name in self.__slots__})

    def next_id(self, table: str) -> int:
        """The next id of ``table``: ascending, never that of a row deleted since (a merged
        lead's id keeps answering "merged into"); a rolled-back one may come again."""
        self.last_ids[table] = self.last_ids.get(table, 0) + 1
        return self.last_ids[table]

    def require_leads(self, lead_ids: Iterable[int]) -> None:
        missing = sorted(set(lead_ids) - self.leads.keys())
        if missing:
            raise FakeIntegrityError(f"no lead {missing[0]} (foreign key)")


class FakeDatabase:
    """The committed state that units of work made on it share (what an engine is to
    SqlUnitOfWork)."""

    def __init__(self) -> None:
        self.committed = _Tables()
        # The unit of work whose transaction holds the inbox (PostgreSQL's advisory lock).
        self.inbox_holder: FakeUnitOfWork | None = None


class _Repository:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    @property
    def _t(self) -> _Tables:
        return self._uow.tables

    def _require_open(self) -> None:
        """Refuse to work outside a ``with`` block, as the SQL repositories do."""
        _ = self._uow.tables


# --- accounts and leads --------------------------------------------------------------


class FakeAccountRepository(_Repository):
    def find(self, domains: Collection[str]) -> dict[str, int]:
        wanted = set(domains)
        return {
            row.account.domain: account_id
            for account_id, row in self._t.accounts.items()
            if row.account.domain in wanted
        }

    def ensure(self, domains: Collection[str], now: datetime) -> dict[str, int]:
        found = self.find(domains)
        for domain in sorted(set(domains) - found.keys()):
            account_id = self._t.next_id("accounts")
            stamp = _utc(now)
            self._t.accounts[account_id] = _AccountRow(Account(domain, id=account_id), stamp, stamp)
            found[domain] = account_id
        return found

    def upsert(self, accounts: Sequence[Account], now: datetime) -> dict[str, int]:
        ids = self.ensure({a.domain for a in accounts}, now)
        # Each merge starts from the stored documents, as the one SQL update does.
        stored = {
            i: (self._t.accounts[i].account.technographics, self._t.accounts[i].account.traits)
            for i in ids.values()
        }
        for account in accounts:
            account_id = ids[account.domain]
            row = self._t.accounts[account_id]
            changes = {
                name: getattr(account, name)
                for name in _ACCOUNT_FIELDS
                if getattr(account, name) is not None
            }
            technographics, traits = stored[account_id]
            if account.technographics:
                changes["technographics"] = _json(
                    sorted(set(technographics or []) | set(account.technographics))
                )
            if account.traits:
                changes["traits"] = _json({**(traits or {}), **account.traits})
            self._t.accounts[account_id] = replace(
                row, account=replace(row.account, **changes), updated_at=_utc(now)
            )
        return ids


class FakeLeadRepository(_Repository):
    def resolve(self, keys: Collection[IdentityKey]) -> dict[IdentityKey, int]:
        identities = self._t.identities
        return {key: identities[key] for key in keys if key in identities}

    def create(self, leads: Sequence[Lead], now: datetime) -> list[int]:
        ids = []
        stamp = _utc(now)
        for lead in leads:
            self._unique_email(lead.email, None)
            if lead.account_id is not None and lead.account_id not in self._t.accounts:
                raise FakeIntegrityError(f"no account {lead.account_id} (foreign key)")
            lead_id = self._t.next_id("leads")
            stored = Lead(
                id=lead_id,
                **{name: getattr(lead, name) for name in _LEAD_FIELDS},
                stage=lead.stage,
                stage_entered_at=_utc(lead.stage_entered_at or now),
                engagement_reset_at=None,
                account_id=lead.account_id,
                traits=_json(lead.traits),
            )
            self._t.leads[lead_id] = _LeadRow(stored, None, stamp, stamp)
            ids.append(lead_id)
        return ids

    def _unique_email(self, email: str | None, lead_id: int | None) -> None:
        if email is None:
            return
        for other_id, row in self._t.leads.items():
            if row.lead.email == email and other_id != lead_id:
                raise FakeIntegrityError(f"lead {other_id} has the email {email!r} (unique)")

    def add_identities(self, links: Sequence[tuple[int, IdentityKey]], now: datetime) -> None:
        self._t.require_leads(lead_id for lead_id, _ in links)
        for lead_id, key in links:
            self._t.identities.setdefault(key, lead_id)

    def update_profiles(self, leads: Sequence[Lead], now: datetime) -> None:
        rows = self._t.leads
        # Each merge of traits starts from the stored ones, as the one SQL update does.
        stored_traits = {
            lead.id: rows[lead.id].lead.traits
            for lead in leads
            if lead.id is not None and lead.id in rows
        }
        for lead in leads:
            if lead.id is None or lead.id not in rows:
                continue  # an UPDATE of no row
            row = rows[lead.id]
            changes = {
                name: getattr(lead, name)
                for name in _LEAD_FIELDS
                if getattr(lead, name) is not None
            }
            if "email" in changes:
                self._unique_email(changes["email"], lead.id)
            if lead.account_id is not None:
                if lead.account_id not in self._t.accounts:
                    raise FakeIntegrityError(f"no account {lead.account_id} (foreign key)")
                changes["account_id"] = lead.account_id
            if lead.traits:
                changes["traits"] = _json({**(stored_traits[lead.id] or {}), **lead.traits})
            rows[lead.id] = replace(row, lead=replace(row.lead, **changes), updated_at=_utc(now))

    def claim(self, keys: Collection[IdentityKey]) -> None:
        self._require_open()  # one writer at a time: nobody to hold the keys against

    def lock(self, lead_ids: Collection[int]) -> None:
        self._require_open()  # one writer at a time: nothing to wait for

    def get_many(self, lead_ids: Collection[int]) -> dict[int, Lead]:
        found: dict[int, Lead] = {}
        for lead_id in sorted(set(lead_ids)):
            row = self._t.leads.get(lead_id)
            if row is None:
                continue
            lead = copy.deepcopy(row.lead)
            account = self._t.accounts.get(lead.account_id) if lead.account_id else None
            lead.account = copy.deepcopy(account.account) if account else None
            found[lead_id] = lead
        return found

    def set_stages(self, changes: Sequence[StageChange], now: datetime) -> None:
        latest = {change.lead_id: change for change in changes}
        for lead_id, change in latest.items():
            row = self._t.leads.get(lead_id)
            if row is None:
                continue
            lead = replace(
                row.lead,
                stage=change.stage,
                stage_entered_at=_utc(change.entered_at),
                engagement_reset_at=_utc_or_none(change.engagement_reset_at),
            )
            self._t.leads[lead_id] = replace(row, lead=lead, updated_at=_utc(now))

    def ids_for_accounts(self, account_ids: Collection[int]) -> list[int]:
        wanted = set(account_ids)
        return [i for i, row in sorted(self._t.leads.items()) if row.lead.account_id in wanted]

    def id_chunks(self, size: int) -> Iterator[list[int]]:
        # Keyset pagination, each chunk read when asked for, as the SQL one.
        last = 0
        while True:
            ids = sorted(i for i in self._t.leads if i > last)[:size]
            if not ids:
                return
            yield ids
            last = ids[-1]

    def count(self) -> int:
        return len(self._t.leads)


class FakeTouchpointRepository(_Repository):
    def known(self, message_ids: Collection[str]) -> set[str]:
        return {m for m in message_ids if m in self._t.touchpoints}

    def add(self, rows: Sequence[StoredTouchpoint]) -> int:
        self._t.require_leads(row.lead_id for row in rows)
        added = 0
        for row in rows:
            tp = row.touchpoint
            if tp.message_id in self._t.touchpoints:
                continue  # ON CONFLICT (message_id) DO NOTHING
            stored = Touchpoint(tp.message_id, tp.name, _utc(tp.occurred_at), _json(tp.properties))
            self._t.touchpoints[tp.message_id] = _TouchpointRow(
                self._t.next_id("touchpoints"),
                row.lead_id,
                stored,
                row.original_name,
                _utc(row.received_at),
            )
            added += 1
        return added

    def for_leads(self, lead_ids: Collection[int]) -> dict[int, list[Touchpoint]]:
        wanted = set(lead_ids)
        found: dict[int, list[Touchpoint]] = {}
        for row in self._t.touchpoints.values():
            if row.lead_id in wanted:
                tp = row.touchpoint
                found.setdefault(row.lead_id, []).append(
                    Touchpoint(
                        tp.message_id,
                        tp.name,
                        tp.occurred_at,
                        copy.deepcopy(tp.properties),
                        row.lead_id,
                    )
                )
        return found


class FakeScoreRepository(_Repository):
    def upsert(self, rows: Sequence[StoredScore]) -> None:
        self._t.require_leads(row.lead_id for row in rows)
        for row in rows:  # a later row of a lead wins
            self._t.scores[row.lead_id] = replace(
                row,
                fit=float(row.fit),
                engagement=float(row.engagement),
                total=float(row.total),
                scored_at=_utc(row.scored_at),
            )

    def get_many(self, lead_ids: Collection[int]) -> dict[int, StoredScore]:
        return {i: self._t.scores[i] for i in sorted(set(lead_ids)) if i in self._t.scores}


class FakeLeadStateRepository(_Repository):
    """States kept as the JSON text orjson writes, as SqlLeadStateRepository."""

    def get_many(self, lead_ids: Collection[int]) -> dict[int, StoredLeadState]:
        found: dict[int, StoredLeadState] = {}
        for lead_id in sorted(set(lead_ids)):
            if lead_id in self._t.lead_states:
                version, text, updated_at = self._t.lead_states[lead_id]
                found[lead_id] = StoredLeadState(lead_id, version, orjson.loads(text), updated_at)
        return found

    def upsert(self, rows: Sequence[StoredLeadState]) -> None:
        self._t.require_leads(row.lead_id for row in rows)
        for row in rows:
            self._t.lead_states[row.lead_id] = (
                row.model_version,
                orjson.dumps(row.document),
                _utc(row.updated_at),
            )

    def delete(self, lead_ids: Collection[int]) -> None:
        for lead_id in lead_ids:
            self._t.lead_states.pop(lead_id, None)

    def page(self, after_id: int, limit: int) -> list[RefreshFacts]:
        ids = sorted(i for i in self._t.leads if i > after_id)[:limit]
        states = self.get_many(ids)
        leads = {lead_id: self._t.leads[lead_id].lead for lead_id in ids}
        return [
            RefreshFacts(
                lead_id,
                lead.stage,
                lead.stage_entered_at,
                lead.engagement_reset_at,
                states.get(lead_id),
                self._t.scores.get(lead_id),
            )
            for lead_id, lead in leads.items()
        ]


class FakeTransitionRepository(_Repository):
    def add(self, rows: Sequence[Transition]) -> None:
        self._t.require_leads(row.lead_id for row in rows)
        for row in rows:
            self._t.transitions[self._t.next_id("transitions")] = replace(
                row, occurred_at=_utc(row.occurred_at)
            )

    def for_lead(self, lead_id: int) -> list[Transition]:
        rows = [(tr.occurred_at, i, tr) for i, tr in self._t.transitions.items()]
        return [tr for _, _, tr in sorted(rows, key=lambda r: r[:2]) if tr.lead_id == lead_id]


class FakeModelRepository(_Repository):
    def parse(self, document: str) -> ScoringModel:
        return load_model(document)

    def _version(self, row: _ModelRow) -> ModelVersion:
        return ModelVersion(
            version=row.version,
            name=row.name,
            checksum=row.checksum,
            document=row.document,
            model=_parsed_model(row.document),
            created_at=row.created_at,
            created_by=row.created_by,
            activated_at=row.activated_at,
            is_active=row.is_active,
        )

    def add(self, document: str, *, now: datetime, created_by: str) -> ModelVersion:
        model = self.parse(document)
        digest = _checksum(document)
        for row in self._t.models.values():
            if row.checksum == digest:
                return self._version(row)
        version = max(self._t.models, default=0) + 1
        self._t.models[version] = _ModelRow(
            version, model.name, digest, document, _utc(now), created_by
        )
        return self._version(self._t.models[version])

    def activate(self, version: int, now: datetime) -> ModelVersion:
        if version not in self._t.models:
            raise KeyError(f"no scoring model version {version}")
        for v, row in self._t.models.items():
            self._t.models[v] = replace(row, is_active=v == version)
        self._t.models[version] = replace(self._t.models[version], activated_at=_utc(now))
        return self._version(self._t.models[version])

    def active(self) -> ModelVersion | None:
        row = next((r for r in self._t.models.values() if r.is_active), None)
        return None if row is None else self._version(row)

    def get(self, version: int) -> ModelVersion | None:
        row = self._t.models.get(version)
        return None if row is None else self._version(row)

    def all(self) -> list[ModelVersion]:
        return [self._version(row) for _, row in sorted(self._t.models.items())]


class FakeLeadMergeRepository(_Repository):
    def merge(self, pairs: Sequence[tuple[int, int]], now: datetime) -> None:
        """For each (merged, into): what SqlLeadMergeRepository.merge does (see there)."""
        t = self._t
        for merged, into in pairs:
            if into not in t.leads:
                raise FakeIntegrityError(f"no lead {into} to merge into (foreign key)")
            # A lead has one pending handoff at most: the merged one's closes.
            if any(
                h.lead_id == into and h.status is HandoffStatus.PENDING for h in t.handoffs.values()
            ):
                for handoff_id, h in t.handoffs.items():
                    if h.lead_id == merged and h.status is HandoffStatus.PENDING:
                        t.handoffs[handoff_id] = replace(
                            h, status=HandoffStatus.REJECTED, closed_at=_utc(now)
                        )
            # An audience both were in keeps the survivor's membership only.
            for audience_id, lead_id in list(t.members):
                if lead_id == merged and (audience_id, into) in t.members:
                    del t.members[(audience_id, lead_id)]
            for key, lead_id in t.identities.items():
                if lead_id == merged:
                    t.identities[key] = into
            for message_id, tp_row in t.touchpoints.items():
                if tp_row.lead_id == merged:
                    t.touchpoints[message_id] = replace(tp_row, lead_id=into)
            for transition_id, tr in t.transitions.items():
                if tr.lead_id == merged:
                    t.transitions[transition_id] = replace(tr, lead_id=into)
            for handoff_id, h in t.handoffs.items():
                if h.lead_id == merged:
                    t.handoffs[handoff_id] = replace(h, lead_id=into)
            for outcome_id, o in t.outcomes.items():
                if o.lead_id == merged:
                    t.outcomes[outcome_id] = replace(o, lead_id=into)
            for audience_id, lead_id in list(t.members):
                if lead_id == merged:
                    t.members[(audience_id, into)] = t.members.pop((audience_id, lead_id))
            for outbox_id, m in t.outbox.items():
                if m.lead_id == merged:
                    t.outbox[outbox_id] = replace(m, lead_id=into)
            old, new = t.leads.get(merged), t.leads[into]
            if old is not None:
                changes: dict[str, Any] = {
                    name: getattr(old.lead, name)
                    for name in _FILL
                    if getattr(new.lead, name) is None and getattr(old.lead, name) is not None
                }
                if old.lead.traits:
                    changes["traits"] = {**old.lead.traits, **(new.lead.traits or {})}
                if changes:
                    t.leads[into] = replace(
                        new, lead=replace(new.lead, **changes), updated_at=_utc(now)
                    )
            t.scores.pop(merged, None)
            # Both states are rebuilt from the joined log when the survivor is next scored.
            t.lead_states.pop(merged, None)
            t.lead_states.pop(into, None)
            t.probabilities.pop(merged, None)  # ON DELETE CASCADE
            # Earlier redirects to the merged lead now point at the survivor.
            for merged_id, (target, at) in t.merges.items():
                if target == merged:
                    t.merges[merged_id] = (into, at)
            t.leads.pop(merged, None)
            if merged in t.merges:
                raise FakeIntegrityError(f"lead {merged} was merged before (primary key)")
            t.merges[merged] = (into, _utc(now))

    def merged_into(self, lead_id: int) -> int | None:
        found = self._t.merges.get(lead_id)
        return None if found is None else found[0]


class FakeApiKeyRepository(_Repository):
    def add(
        self,
        *,
        name: str,
        kind: KeyKind,
        prefix: str,
        key_hash: str,
        scopes: frozenset[Scope],
        now: datetime,
    ) -> ApiKey:
        if any(stored == key_hash for _, stored in self._t.keys.values()):
            raise FakeIntegrityError("an API key with this hash exists (unique)")
        key_id = self._t.next_id("api_keys")
        self._t.keys[key_id] = (
            ApiKey(key_id, name, kind, prefix, frozenset(scopes), _utc(now)),
            key_hash,
        )
        return ApiKey(key_id, name, kind, prefix, scopes, now)

    def by_hash(self, key_hash: str) -> ApiKey | None:
        return next((key for key, stored in self._t.keys.values() if stored == key_hash), None)

    def all(self) -> list[ApiKey]:
        return [key for _, (key, _) in sorted(self._t.keys.items())]

    def revoke(self, key_id: int, now: datetime) -> ApiKey | None:
        found = self._t.keys.get(key_id)
        if found is None:
            return None
        key, key_hash = found
        if key.revoked_at is None:
            key = replace(key, revoked_at=_utc(now))
            self._t.keys[key_id] = (key, key_hash)
        return key


# --- handoffs, configuration, outbox, audiences --------------------------------------


def _stored_handoff(handoff: Handoff) -> Handoff:
    return replace(
        handoff,
        created_at=_utc(handoff.created_at),
        due_at=_utc_or_none(handoff.due_at),
        warn_at=_utc_or_none(handoff.warn_at),
        warned_at=_utc_or_none(handoff.warned_at),
        breached_at=_utc_or_none(handoff.breached_at),
        first_touch_at=_utc_or_none(handoff.first_touch_at),
        closed_at=_utc_or_none(handoff.closed_at),
        context=_json(handoff.context),
    )


class FakeHandoffRepository(_Repository):
    def _copy(self, handoff: Handoff) -> Handoff:
        return replace(handoff, context=copy.deepcopy(handoff.context))

    def _rows(self) -> list[Handoff]:
        """The stored handoffs by id (not copies: what a method returns it copies)."""
        return [h for _, h in sorted(self._t.handoffs.items())]

    def add(self, handoff: Handoff) -> Handoff:
        self._t.require_leads([handoff.lead_id])
        handoff_id = self._t.next_id("handoffs")
        self._t.handoffs[handoff_id] = _stored_handoff(replace(handoff, id=handoff_id))
        return replace(handoff, id=handoff_id)

    def save(self, handoff: Handoff) -> None:
        if handoff.id in self._t.handoffs:
            self._t.require_leads([handoff.lead_id])
            self._t.handoffs[handoff.id] = _stored_handoff(handoff)

    def get(self, handoff_id: int) -> Handoff | None:
        found = self._t.handoffs.get(handoff_id)
        return None if found is None else self._copy(found)

    def pending_for(self, lead_ids: Collection[int]) -> dict[int, Handoff]:
        wanted = set(lead_ids)
        return {
            h.lead_id: self._copy(h)
            for h in self._rows()
            if h.lead_id in wanted and h.status is HandoffStatus.PENDING
        }

    def for_lead(self, lead_id: int) -> list[Handoff]:
        return [self._copy(h) for h in self._rows() if h.lead_id == lead_id]

    def listing(
        self,
        *,
        owner: str | None = None,
        team: str | None = None,
        status: str | None = None,
        sla_status: str | None = None,
        after_id: int | None = None,
        limit: int = 50,
    ) -> list[Handoff]:
        found = [
            h
            for h in self._rows()
            if (owner is None or h.owner == owner)
            and (team is None or h.team == team)
            and (status is None or h.status.value == status)
            and (sla_status is None or h.sla_status.value == sla_status)
            and (after_id is None or (h.id or 0) > after_id)
        ]
        return [self._copy(h) for h in found[:limit]]

    def queued(self, limit: int = 500) -> list[Handoff]:
        found = [h for h in self._rows() if h.status is HandoffStatus.PENDING and h.owner is None]
        found.sort(key=lambda h: (h.created_at, h.id or 0))
        return [self._copy(h) for h in found[:limit]]

    def sla_due(self, now: datetime, limit: int = 500) -> list[Handoff]:
        def due(h: Handoff) -> bool:
            return (h.due_at is not None and h.due_at < now) or (
                h.warn_at is not None and h.warn_at <= now and h.warned_at is None
            )

        found = [
            h
            for h in self._rows()
            if h.status is HandoffStatus.PENDING and h.sla_status is SlaStatus.OPEN and due(h)
        ]
        # PostgreSQL's order: NULL deadlines last (SQLite puts them first; nothing relies
        # on either).
        found.sort(key=lambda h: (h.due_at is None, h.due_at or now, h.id or 0))
        return [self._copy(h) for h in found[:limit]]

    def open_with_owner(self, lead_ids: Collection[int]) -> list[Handoff]:
        wanted = set(lead_ids)
        return [self._copy(h) for h in self._rows() if h.lead_id in wanted and h.is_open]

    def touched(self, names: Collection[str]) -> list[tuple[Handoff, list[Touchpoint]]]:
        wanted = set(names)
        found = []
        for handoff in self._rows():
            if not handoff.is_open:
                continue
            touches = sorted(
                (
                    row.touchpoint
                    for row in self._t.touchpoints.values()
                    if row.lead_id == handoff.lead_id
                    and row.touchpoint.name in wanted
                    and row.touchpoint.occurred_at >= handoff.created_at
                ),
                key=lambda tp: tp.occurred_at,
            )
            if touches:
                copies = [replace(tp, properties=copy.deepcopy(tp.properties)) for tp in touches]
                found.append((self._copy(handoff), copies))
        return found

    def open_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for h in self._t.handoffs.values():
            if h.status is HandoffStatus.PENDING and h.owner is not None:
                counts[h.owner] = counts.get(h.owner, 0) + 1
        return counts

    def routing_state(self, *, lock: bool = False) -> dict[str, Any]:
        return {
            team: copy.deepcopy(state) for team, (state, _) in sorted(self._t.routing_state.items())
        }

    def save_routing_state(self, states: Mapping[str, Any], now: datetime) -> None:
        for team, state in states.items():
            self._t.routing_state[team] = (_json(state), _utc(now))

    def nurture_tracks(self, lead_ids: Collection[int]) -> dict[int, str]:
        found: dict[int, str] = {}
        for lead_id in sorted(set(lead_ids)):
            row = self._t.leads.get(lead_id)
            if row is not None and row.nurture_track is not None:
                found[lead_id] = row.nurture_track
        return found

    def set_nurture_track(self, lead_id: int, track: str | None, now: datetime) -> None:
        row = self._t.leads.get(lead_id)
        if row is not None:
            self._t.leads[lead_id] = replace(row, nurture_track=track, updated_at=_utc(now))

    def add_outcome(self, outcome: Outcome) -> int:
        self._t.require_leads([outcome.lead_id])
        if outcome.handoff_id is not None and outcome.handoff_id not in self._t.handoffs:
            raise FakeIntegrityError(f"no handoff {outcome.handoff_id} (foreign key)")
        outcome_id = self._t.next_id("outcomes")
        self._t.outcomes[outcome_id] = replace(
            outcome,
            occurred_at=_utc(outcome.occurred_at),
            details=_json(dict(outcome.details)),
            id=outcome_id,
        )
        return outcome_id

    def outcomes_for(self, lead_id: int) -> list[Outcome]:
        return [
            replace(o, details=copy.deepcopy(o.details))
            for _, o in sorted(self._t.outcomes.items())
            if o.lead_id == lead_id
        ]


class FakeConfigRepository(_Repository):
    """Versioned configuration documents, one active per kind (as SqlConfigRepository)."""

    def _version(self, row: _ConfigRow) -> ConfigVersion:
        return ConfigVersion(
            row.kind, row.version, row.document, row.created_at, row.created_by, row.is_active
        )

    def active(self, kind: str) -> ConfigVersion | None:
        row = next((r for r in self._t.configs if r.kind == kind and r.is_active), None)
        return None if row is None else self._version(row)

    def all(self, kind: str) -> list[ConfigVersion]:
        rows = sorted((r for r in self._t.configs if r.kind == kind), key=lambda r: r.version)
        return [self._version(row) for row in rows]

    def add(self, kind: str, document: str, *, now: datetime, actor: str) -> ConfigVersion:
        digest = _checksum(document)
        same = next((r for r in self._t.configs if r.kind == kind and r.checksum == digest), None)
        if same is not None:
            return self._version(same)
        version = max((r.version for r in self._t.configs if r.kind == kind), default=0) + 1
        row = _ConfigRow(kind, version, digest, document, _utc(now), actor)
        self._t.configs.append(row)
        return self._version(row)

    def activate(self, kind: str, version: int, now: datetime) -> None:
        rows = [r for r in self._t.configs if r.kind == kind]
        if not any(r.version == version for r in rows):
            raise LookupError(f"no {kind} configuration version {version}")
        self._t.configs = [
            r
            if r.kind != kind
            else replace(
                r,
                is_active=r.version == version,
                activated_at=_utc(now) if r.version == version else r.activated_at,
            )
            for r in self._t.configs
        ]

    def handoff_config(self) -> HandoffConfig:
        active = self.active(HANDOFF_KIND)
        if active is None:
            return _parsed_handoff(default_handoff_text(), "leadgate/models/handoff.yaml")
        return _parsed_handoff(active.document, f"handoff version {active.version}")


def _copied_message(message: OutboxMessage) -> OutboxMessage:
    return replace(message, notification=copy.deepcopy(message.notification))


class FakeOutboxRepository(_Repository):
    def add_endpoint(
        self,
        *,
        name: str,
        kind: str,
        config: Mapping[str, Any],
        events: Iterable[str],
        now: datetime,
    ) -> Endpoint:
        if any(e.name == name for e in self._t.endpoints.values()):
            raise FakeIntegrityError(f"an endpoint named {name!r} exists (unique)")
        endpoint_id = self._t.next_id("endpoints")
        # Events are stored comma-separated, as the SQL column holds them.
        joined = ",".join(events)
        self._t.endpoints[endpoint_id] = Endpoint(
            endpoint_id,
            name,
            kind,
            _json(dict(config)),
            tuple(e for e in joined.split(",") if e),
            True,
            _utc(now),
        )
        found = self.endpoint(endpoint_id)
        assert found is not None
        return found

    def endpoint(self, endpoint_id: int) -> Endpoint | None:
        found = self._t.endpoints.get(endpoint_id)
        return None if found is None else replace(found, config=copy.deepcopy(found.config))

    def endpoints(self) -> list[Endpoint]:
        return [
            replace(e, config=copy.deepcopy(e.config)) for _, e in sorted(self._t.endpoints.items())
        ]

    def set_endpoint_active(self, endpoint_id: int, active: bool) -> None:
        found = self._t.endpoints.get(endpoint_id)
        if found is not None:
            self._t.endpoints[endpoint_id] = replace(found, active=active)

    def subscribers(self, event_type: str) -> list[Endpoint]:
        """Active endpoints subscribed to ``event_type`` (or to every event, ``*``)."""
        return [
            e for e in self.endpoints() if e.active and ("*" in e.events or event_type in e.events)
        ]

    def enqueue(
        self,
        endpoint_ids: Iterable[int],
        *,
        event_type: str,
        key: str,
        notification: Mapping[str, Any],
        lead_id: int | None,
        now: datetime,
    ) -> None:
        """Add one message per endpoint; the same key again for an endpoint is ignored."""
        taken = {(m.endpoint_id, m.idempotency_key) for m in self._t.outbox.values()}
        for endpoint_id in endpoint_ids:
            if endpoint_id not in self._t.endpoints:
                raise FakeIntegrityError(f"no endpoint {endpoint_id} (foreign key)")
            if (endpoint_id, key) in taken:
                continue
            taken.add((endpoint_id, key))
            message_id = self._t.next_id("outbox")
            self._t.outbox[message_id] = OutboxMessage(
                id=message_id,
                endpoint_id=endpoint_id,
                event_type=event_type,
                idempotency_key=key,
                lead_id=lead_id,
                notification=_json(dict(notification)),
                status="pending",
                attempts=0,
                next_attempt_at=_utc(now),
                last_error=None,
                created_at=_utc(now),
                delivered_at=None,
            )

    def claim(self, now: datetime, *, limit: int, lease: timedelta) -> list[OutboxMessage]:
        """Take up to ``limit`` messages due now (a paused endpoint's wait) and push their
        next attempt ``lease`` ahead; the messages are returned as they were before."""
        active = {e.id for e in self._t.endpoints.values() if e.active}
        due = sorted(
            (
                m
                for m in self._t.outbox.values()
                if m.status == "pending" and m.next_attempt_at <= now and m.endpoint_id in active
            ),
            key=lambda m: (m.next_attempt_at, m.id),
        )[:limit]
        for m in due:
            self._t.outbox[m.id] = replace(m, next_attempt_at=_utc(now + lease))
        return [_copied_message(m) for m in due]

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
    ) -> None:
        if message_id not in self._t.outbox:
            raise FakeIntegrityError(f"no outbox message {message_id} (foreign key)")
        attempt_id = self._t.next_id("delivery_attempts")
        self._t.attempts[attempt_id] = {
            "id": attempt_id,
            "outbox_id": message_id,
            "attempted_at": _utc(at),
            "ok": ok,
            "status_code": status_code,
            "error": error,
            "duration_ms": float(duration_ms),
        }
        message = self._t.outbox[message_id]
        # A late failure (a worker whose lease ran out) never undoes a settled message.
        if ok or message.status == "pending":
            self._t.outbox[message_id] = replace(
                message,
                status=status,
                attempts=message.attempts + 1,
                next_attempt_at=_utc(next_attempt_at),
                last_error=error,
                delivered_at=_utc(at) if ok else None,
            )

    def message(self, message_id: int) -> OutboxMessage | None:
        found = self._t.outbox.get(message_id)
        return None if found is None else _copied_message(found)

    def messages(
        self,
        *,
        status: str | None = None,
        endpoint_id: int | None = None,
        after_id: int | None = None,
        limit: int = 50,
    ) -> list[OutboxMessage]:
        found = [
            _copied_message(m)
            for _, m in sorted(self._t.outbox.items())
            if (status is None or m.status == status)
            and (endpoint_id is None or m.endpoint_id == endpoint_id)
            and (after_id is None or m.id > after_id)
        ]
        return found[:limit]

    def attempts(self, message_id: int) -> list[dict[str, Any]]:
        return [
            dict(a) for _, a in sorted(self._t.attempts.items()) if a["outbox_id"] == message_id
        ]

    def replay(self, message_id: int, now: datetime) -> bool:
        found = self._t.outbox.get(message_id)
        if found is None:
            return False
        self._t.outbox[message_id] = replace(
            found, status="pending", attempts=0, next_attempt_at=_utc(now), last_error=None
        )
        return True

    def pending_count(self) -> int:
        return sum(m.status == "pending" for m in self._t.outbox.values())


class FakeAudienceRepository(_Repository):
    def _copy(self, audience: Audience) -> Audience:
        return replace(audience, conditions=copy.deepcopy(audience.conditions))

    def add(
        self,
        name: str,
        conditions: Collection[Mapping[str, Any]],
        endpoint_id: int | None,
        now: datetime,
    ) -> Audience:
        if any(a.name == name for a in self._t.audiences.values()):
            raise FakeIntegrityError(f"an audience named {name!r} exists (unique)")
        if endpoint_id is not None and endpoint_id not in self._t.endpoints:
            raise FakeIntegrityError(f"no endpoint {endpoint_id} (foreign key)")
        audience_id = self._t.next_id("audiences")
        self._t.audiences[audience_id] = Audience(
            audience_id,
            name,
            tuple(_json([dict(c) for c in conditions])),
            endpoint_id,
            _utc(now),
            None,
        )
        return self._copy(self._t.audiences[audience_id])

    def get(self, audience_id: int) -> Audience | None:
        found = self._t.audiences.get(audience_id)
        return None if found is None else self._copy(found)

    def by_name(self, name: str) -> Audience | None:
        found = next((a for a in self._t.audiences.values() if a.name == name), None)
        return None if found is None else self._copy(found)

    def all(self) -> list[Audience]:
        return [self._copy(a) for _, a in sorted(self._t.audiences.items())]

    def members(self, audience_id: int) -> set[int]:
        return {lead_id for (aid, lead_id) in self._t.members if aid == audience_id}

    def update_members(
        self, audience_id: int, added: Collection[int], removed: Collection[int], now: datetime
    ) -> None:
        for lead_id in removed:
            self._t.members.pop((audience_id, lead_id), None)
        if added:
            if audience_id not in self._t.audiences:
                raise FakeIntegrityError(f"no audience {audience_id} (foreign key)")
            self._t.require_leads(added)
        for lead_id in added:
            if (audience_id, lead_id) in self._t.members:
                raise FakeIntegrityError(f"lead {lead_id} is a member already (primary key)")
            self._t.members[(audience_id, lead_id)] = _utc(now)
        found = self._t.audiences.get(audience_id)
        if found is not None:
            self._t.audiences[audience_id] = replace(found, refreshed_at=_utc(now))


# --- predictive scoring and users ----------------------------------------------------


class FakePredictiveRepository(_Repository):
    def add(self, model: NewPredictiveModel) -> PredictiveModel:
        version = max(self._t.predictive_models, default=0) + 1
        registered = PredictiveModel(
            version=version,
            created_at=_utc(model.created_at),
            created_by=model.created_by,
            target=model.target,
            horizon_days=float(model.horizon_days),
            algorithm=model.algorithm,
            metrics=_json(dict(model.metrics)),
            features=_json(dict(model.features)),
            training_from=_utc_or_none(model.training_from),
            training_to=_utc_or_none(model.training_to),
            scoring_model_version=model.scoring_model_version,
            artefact_sha256=hashlib.sha256(model.artefact).hexdigest(),
            is_active=False,
            activated_at=None,
        )
        self._t.predictive_models[version] = (registered, bytes(model.artefact))
        return self._copy(registered)

    def _copy(self, model: PredictiveModel) -> PredictiveModel:
        return replace(
            model, metrics=copy.deepcopy(model.metrics), features=copy.deepcopy(model.features)
        )

    def get(self, version: int) -> PredictiveModel | None:
        found = self._t.predictive_models.get(version)
        return None if found is None else self._copy(found[0])

    def all(self) -> list[PredictiveModel]:
        return [self._copy(m) for _, (m, _) in sorted(self._t.predictive_models.items())]

    def activate(self, version: int, now: datetime) -> PredictiveModel:
        if version not in self._t.predictive_models:
            raise KeyError(f"no predictive model version {version}")
        for v, (model, blob) in self._t.predictive_models.items():
            if v == version:
                changed = replace(model, is_active=True, activated_at=_utc(now))
            else:
                changed = replace(model, is_active=False)
            self._t.predictive_models[v] = (changed, blob)
        self._t.probabilities.clear()  # probabilities of another version are stale
        found = self.get(version)
        assert found is not None
        return found

    def deactivate(self) -> None:
        for v, (model, blob) in self._t.predictive_models.items():
            self._t.predictive_models[v] = (replace(model, is_active=False), blob)
        self._t.probabilities.clear()

    def active(self) -> ActivePredictor | None:
        found = next((v for v, (m, _) in self._t.predictive_models.items() if m.is_active), None)
        return None if found is None else self.load(found)

    def load(self, version: int) -> ActivePredictor | None:
        found = self._t.predictive_models.get(version)
        if found is None:
            return None
        model, blob = found
        with _LOADED_LOCK:
            predictor = _LOADED.get(model.artefact_sha256)
        if predictor is None:
            # numpy, scikit-learn and LightGBM load only when a model is used.
            from leadgate.adapters.ml.artefact import loads

            predictor = loads(blob)
            with _LOADED_LOCK:
                _LOADED[model.artefact_sha256] = predictor
        return ActivePredictor(self._copy(model), predictor)

    def upsert_scores(self, rows: Sequence[StoredProbability]) -> None:
        self._t.require_leads(row.lead_id for row in rows)
        for row in rows:
            self._t.probabilities[row.lead_id] = replace(
                row, probability=float(row.probability), scored_at=_utc(row.scored_at)
            )

    def scores(self, lead_ids: Collection[int]) -> dict[int, StoredProbability]:
        return {
            i: self._t.probabilities[i] for i in sorted(set(lead_ids)) if i in self._t.probabilities
        }

    def created_at(self, lead_ids: Collection[int]) -> dict[int, datetime]:
        return {i: self._t.leads[i].created_at for i in sorted(set(lead_ids)) if i in self._t.leads}

    def milestones(self, lead_ids: Collection[int]) -> dict[int, list[Milestone]]:
        wanted = set(lead_ids)
        found: dict[int, list[Milestone]] = {}
        for _, tr in sorted(self._t.transitions.items()):
            if tr.lead_id in wanted:
                found.setdefault(tr.lead_id, []).append(
                    Milestone(tr.occurred_at, stage=tr.to_stage.value)
                )
        for _, o in sorted(self._t.outcomes.items()):
            if o.lead_id in wanted:
                found.setdefault(o.lead_id, []).append(Milestone(o.occurred_at, outcome=o.kind))
        for events in found.values():
            events.sort(key=lambda m: m.occurred_at)
        return found

    def account_activity(
        self,
        account_ids: Collection[int] | None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> dict[int, AccountActivity]:
        wanted = None if account_ids is None else set(account_ids)
        events: dict[int, list[tuple[datetime, int, str, Any]]] = {}
        for row in self._t.touchpoints.values():
            lead = self._t.leads.get(row.lead_id)
            account_id = lead.lead.account_id if lead is not None else None
            tp = row.touchpoint
            if (
                account_id is None
                or (wanted is not None and account_id not in wanted)
                or (since is not None and tp.occurred_at < since)
                or (until is not None and tp.occurred_at > until)
            ):
                continue
            # Only an intent surge's properties are read (its score).
            score = tp.properties.get("score") if tp.name == "intent_surge" else None
            events.setdefault(account_id, []).append((tp.occurred_at, row.lead_id, tp.name, score))
        return {account: AccountActivity.of(items) for account, items in events.items()}


class FakeUserRepository(_Repository):
    def add(
        self, *, username: str, password_hash: str, role: Role, rep: str | None, now: datetime
    ) -> User:
        if any(user.username == username for user, _ in self._t.users.values()):
            raise FakeIntegrityError(f"a user named {username!r} exists (unique)")
        user_id = self._t.next_id("users")
        self._t.users[user_id] = (User(user_id, username, role, _utc(now), rep), password_hash)
        return User(user_id, username, role, now, rep)

    def get(self, user_id: int) -> User | None:
        found = self._t.users.get(user_id)
        return None if found is None else found[0]

    def by_name(self, username: str) -> tuple[User, str] | None:
        """The user and their stored password hash."""
        return next(
            (found for found in self._t.users.values() if found[0].username == username), None
        )

    def all(self) -> list[User]:
        return [user for _, (user, _) in sorted(self._t.users.items())]

    def set_disabled(self, user_id: int, disabled: bool) -> User | None:
        found = self._t.users.get(user_id)
        if found is None:
            return None
        self._t.users[user_id] = (replace(found[0], disabled=disabled), found[1])
        return self._t.users[user_id][0]

    def set_password(self, user_id: int, password_hash: str) -> None:
        found = self._t.users.get(user_id)
        if found is not None:
            self._t.users[user_id] = (found[0], password_hash)


# --- the inbox -----------------------------------------------------------------------


class FakeInboxRepository(_Repository):
    """As SqlInboxRepository: ids ascend, an event's message id is held once, ``take``
    holds the inbox for this transaction (another one's ``take`` gets nothing until it
    ends, as PostgreSQL's advisory lock)."""

    def append(self, calls: Sequence[QueuedCall]) -> None:
        for call in calls:
            if call.event and call.message_id in self._t.inbox_events:
                raise FakeIntegrityError(f"inbox event {call.message_id!r} is held (unique)")
            row = _InboxRow(
                self._t.next_id("inbox"),
                call.message_id,
                call.event,
                _utc(call.received_at),
                json.dumps(call.document),
            )
            self._t.inbox[row.id] = row
            if call.event:
                self._t.inbox_events[call.message_id] = row.id

    def queued(self, message_ids: Collection[str]) -> set[str]:
        return {m for m in message_ids if m in self._t.inbox_events}

    def backlog_bound(self) -> int:
        return sum(1 for row in self._t.inbox.values() if row.waiting)

    def take(self, limit: int) -> list[InboxEntry]:
        database = self._uow.database
        if database.inbox_holder not in (None, self._uow):
            return []
        database.inbox_holder = self._uow
        waiting = sorted(i for i, row in self._t.inbox.items() if row.waiting)[:limit]
        return [
            InboxEntry(i, row.message_id, row.received_at, json.loads(row.document))
            for i in waiting
            for row in (self._t.inbox[i],)
        ]

    def done(self, entry_ids: Collection[int], at: datetime) -> None:
        for i in entry_ids:
            if i in self._t.inbox:
                self._t.inbox[i] = replace(self._t.inbox[i], drained_at=_utc(at))

    def park(self, reasons: Mapping[int, str], at: datetime) -> None:
        for i, reason in reasons.items():
            row = self._t.inbox.get(i)
            if row is not None and row.waiting:
                self._t.inbox[i] = replace(row, parked_at=_utc(at), reason=reason)

    def purge(self, drained_before: datetime) -> int:
        gone = [
            row
            for row in self._t.inbox.values()
            if row.drained_at is not None and row.drained_at < drained_before
        ]
        for row in gone:
            del self._t.inbox[row.id]
            if row.event:
                del self._t.inbox_events[row.message_id]
        return len(gone)

    def counts(self) -> InboxCounts:
        waiting = sorted(i for i, row in self._t.inbox.items() if row.waiting)
        parked = sum(1 for row in self._t.inbox.values() if row.parked_at is not None)
        oldest = self._t.inbox[waiting[0]].received_at if waiting else None
        return InboxCounts(len(waiting), oldest, parked)

    def recent(self, limit: int) -> list[tuple[datetime, datetime]]:
        drained = [row for row in self._t.inbox.values() if row.drained_at is not None]
        drained.sort(key=lambda row: (row.drained_at, row.id), reverse=True)
        return [(row.received_at, row.drained_at) for row in drained[:limit] if row.drained_at]

    def parked(self, *, after_id: int = 0, limit: int = 50) -> list[ParkedCall]:
        rows = sorted(
            (r for r in self._t.inbox.values() if r.parked_at is not None and r.id > after_id),
            key=lambda r: r.id,
        )
        return [
            ParkedCall(
                row.id,
                row.message_id,
                row.received_at,
                row.parked_at,
                row.reason or "",
                json.loads(row.document),
            )
            for row in rows[:limit]
            if row.parked_at is not None
        ]


# --- the unit of work ----------------------------------------------------------------


class FakeUnitOfWork:
    """``with FakeUnitOfWork() as uow: ...; uow.commit()``; no commit means rollback.

    Re-entrant as SqlUnitOfWork: a ``with`` inside an open one joins its transaction (its
    ``commit`` does nothing; the outermost block decides). A transaction works on a copy of
    the committed state, so units of work on one ``FakeDatabase`` see each other's changes
    once committed. Repositories are only usable inside a ``with``.
    """

    def __init__(self, database: FakeDatabase | None = None) -> None:
        self.database = database if database is not None else FakeDatabase()
        self._depth = 0
        self._tables: _Tables | None = None
        self._accounts = FakeAccountRepository(self)
        self._leads = FakeLeadRepository(self)
        self._touchpoints = FakeTouchpointRepository(self)
        self._scores = FakeScoreRepository(self)
        self._lead_states = FakeLeadStateRepository(self)
        self._transitions = FakeTransitionRepository(self)
        self._models = FakeModelRepository(self)
        self._keys = FakeApiKeyRepository(self)
        self._merges = FakeLeadMergeRepository(self)
        self._handoffs = FakeHandoffRepository(self)
        self._configs = FakeConfigRepository(self)
        self._outbox = FakeOutboxRepository(self)
        self._audiences = FakeAudienceRepository(self)
        self._predictive = FakePredictiveRepository(self)
        self._users = FakeUserRepository(self)
        self._inbox = FakeInboxRepository(self)

    def another(self) -> FakeUnitOfWork:
        """A new unit of work on the same database (another connection, another process)."""
        return FakeUnitOfWork(self.database)

    @property
    def tables(self) -> _Tables:
        if self._tables is None:
            raise RuntimeError("the unit of work is not open: use it in a `with` block")
        return self._tables

    @property
    def accounts(self) -> FakeAccountRepository:
        return self._accounts

    @property
    def leads(self) -> FakeLeadRepository:
        return self._leads

    @property
    def touchpoints(self) -> FakeTouchpointRepository:
        return self._touchpoints

    @property
    def scores(self) -> FakeScoreRepository:
        return self._scores

    @property
    def lead_states(self) -> FakeLeadStateRepository:
        return self._lead_states

    @property
    def transitions(self) -> FakeTransitionRepository:
        return self._transitions

    @property
    def models(self) -> FakeModelRepository:
        return self._models

    @property
    def keys(self) -> FakeApiKeyRepository:
        return self._keys

    @property
    def merges(self) -> FakeLeadMergeRepository:
        return self._merges

    @property
    def handoffs(self) -> FakeHandoffRepository:
        return self._handoffs

    @property
    def configs(self) -> FakeConfigRepository:
        return self._configs

    @property
    def outbox(self) -> FakeOutboxRepository:
        return self._outbox

    @property
    def audiences(self) -> FakeAudienceRepository:
        return self._audiences

    @property
    def predictive(self) -> FakePredictiveRepository:
        return self._predictive

    @property
    def users(self) -> FakeUserRepository:
        return self._users

    @property
    def inbox(self) -> FakeInboxRepository:
        return self._inbox

    def __enter__(self) -> Self:
        self._depth += 1
        if self._depth == 1:
            self._tables = self.database.committed.snapshot()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._depth -= 1
        if self._depth > 0:
            return  # an inner use case: the outermost block commits or rolls back
        self._tables = None  # what was not committed is gone
        self._release_inbox()
        if isinstance(exc, FakeIntegrityError):
            raise ConcurrentUpdate(f"concurrent update, retry: {exc}") from exc

    def commit(self) -> None:
        if self._depth > 1:
            return
        self.database.committed = self.tables.snapshot()
        self._release_inbox()  # a transaction-scoped lock ends with its transaction

    def rollback(self) -> None:
        _ = self.tables  # only inside an open unit of work
        self._tables = self.database.committed.snapshot()
        self._release_inbox()

    def _release_inbox(self) -> None:
        if self.database.inbox_holder is self:
            self.database.inbox_holder = None


_: UnitOfWork = FakeUnitOfWork()
