"""SQL repositories: set-based Core statements mapped onto domain objects."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterator, Sequence
from dataclasses import asdict
from datetime import datetime
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy import Connection, Row, Table, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from leadgate.adapters.db import tables as t
from leadgate.adapters.model_yaml import load_model
from leadgate.domain.accounts import ACCOUNT_ATTRIBUTES, Account
from leadgate.domain.identity import IdentityKey, IdentityKind
from leadgate.domain.leads import LEAD_ATTRIBUTES, Lead
from leadgate.domain.lifecycle import ActorType, Stage, Transition
from leadgate.domain.scoring_model import ScoringModel
from leadgate.domain.touchpoints import Touchpoint
from leadgate.services.ports import ModelVersion, StageChange, StoredScore, StoredTouchpoint

# Keeps IN lists well below every back end's bound-parameter limit.
CHUNK = 1000

# Profile columns written as given; the domain's attribute lists are the one source.
_ACCOUNT_FIELDS = tuple(sorted(ACCOUNT_ATTRIBUTES - {"domain", "technographics"}))
_LEAD_FIELDS = tuple(sorted(LEAD_ATTRIBUTES - {"email_domain", "stage"}))


_T = TypeVar("_T")


def _chunks(items: Sequence[_T], size: int = CHUNK) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _upsert_insert(connection: Connection, table: Table) -> Any:
    """An INSERT that can take ON CONFLICT clauses on both back ends.

    Typed Any: the two dialects' Insert classes share these methods but no base class.
    """
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


class SqlAccountRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def find(self, domains: Collection[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for chunk in _chunks(sorted(domains)):
            rows = self._c.execute(
                select(t.accounts.c.domain, t.accounts.c.id).where(t.accounts.c.domain.in_(chunk))
            )
            found.update({row.domain: row.id for row in rows})
        return found

    def ensure(self, domains: Collection[str], now: datetime) -> dict[str, int]:
        found = self.find(domains)
        missing = sorted(set(domains) - found.keys())
        if missing:
            rows = [
                {
                    "domain": d,
                    "technographics": [],
                    "traits": {},
                    "created_at": now,
                    "updated_at": now,
                }
                for d in missing
            ]
            stmt = _upsert_insert(self._c, t.accounts).on_conflict_do_nothing(
                index_elements=["domain"]
            )
            self._c.execute(stmt, rows)
            found.update(self.find(missing))
        return found

    def upsert(self, accounts: Sequence[Account], now: datetime) -> dict[str, int]:
        ids = self.ensure({a.domain for a in accounts}, now)
        current = {
            row.id: row
            for chunk in _chunks(sorted(ids.values()))
            for row in self._c.execute(
                select(t.accounts.c.id, t.accounts.c.traits, t.accounts.c.technographics).where(
                    t.accounts.c.id.in_(chunk)
                )
            )
        }
        for account in accounts:
            account_id = ids[account.domain]
            values: dict[str, Any] = {
                name: getattr(account, name)
                for name in _ACCOUNT_FIELDS
                if getattr(account, name) is not None
            }
            if account.technographics:
                values["technographics"] = sorted(
                    set(current[account_id].technographics or []) | set(account.technographics)
                )
            if account.traits:
                values["traits"] = {**(current[account_id].traits or {}), **account.traits}
            values["updated_at"] = now
            self._c.execute(
                update(t.accounts).where(t.accounts.c.id == account_id).values(**values)
            )
        return ids


def _account_from(row: Row[Any]) -> Account | None:
    if row.a_id is None:
        return None
    return Account(
        id=row.a_id,
        domain=row.a_domain,
        name=row.a_name,
        industry=row.a_industry,
        employees=row.a_employees,
        annual_revenue=row.a_annual_revenue,
        country=row.a_country,
        region=row.a_region,
        technographics=list(row.a_technographics or []),
        owner=row.a_owner,
        traits=dict(row.a_traits or {}),
    )


def _lead_from(row: Row[Any]) -> Lead:
    return Lead(
        id=row.id,
        email=row.email,
        first_name=row.first_name,
        last_name=row.last_name,
        title=row.title,
        seniority=row.seniority,
        department=row.department,
        persona=row.persona,
        source_channel=row.source_channel,
        source_campaign=row.source_campaign,
        country=row.country,
        owner=row.owner,
        stage=Stage(row.stage),
        stage_entered_at=row.stage_entered_at,
        engagement_reset_at=row.engagement_reset_at,
        account_id=row.account_id,
        account=_account_from(row),
        traits=dict(row.traits or {}),
    )


_LEAD_WITH_ACCOUNT = select(
    t.leads,
    *(
        column.label(f"a_{column.name}")
        for column in t.accounts.c
        if column.name not in ("created_at", "updated_at")
    ),
).outerjoin(t.accounts, t.accounts.c.id == t.leads.c.account_id)


class SqlLeadRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def resolve(self, keys: Collection[IdentityKey]) -> dict[IdentityKey, int]:
        found: dict[IdentityKey, int] = {}
        by_kind: dict[IdentityKind, list[str]] = {}
        for key in keys:
            by_kind.setdefault(key.kind, []).append(key.value)
        for kind, values in by_kind.items():
            for chunk in _chunks(sorted(set(values))):
                rows = self._c.execute(
                    select(t.identities.c.value, t.identities.c.lead_id).where(
                        t.identities.c.kind == kind.value, t.identities.c.value.in_(chunk)
                    )
                )
                found.update({IdentityKey(kind, row.value): row.lead_id for row in rows})
        return found

    def create(self, leads: Sequence[Lead], now: datetime) -> list[int]:
        if not leads:
            return []
        rows = [
            {
                **{name: getattr(lead, name) for name in _LEAD_FIELDS},
                "account_id": lead.account_id,
                "stage": lead.stage.value,
                "stage_entered_at": lead.stage_entered_at or now,
                "engagement_reset_at": None,
                "traits": lead.traits,
                "created_at": now,
                "updated_at": now,
            }
            for lead in leads
        ]
        stmt = t.leads.insert().returning(t.leads.c.id, sort_by_parameter_order=True)
        return [row.id for row in self._c.execute(stmt, rows)]

    def add_identities(self, links: Sequence[tuple[int, IdentityKey]], now: datetime) -> None:
        if not links:
            return
        rows = [
            {"lead_id": lead_id, "kind": key.kind.value, "value": key.value, "created_at": now}
            for lead_id, key in links
        ]
        stmt = _upsert_insert(self._c, t.identities).on_conflict_do_nothing(
            index_elements=["kind", "value"]
        )
        self._c.execute(stmt, rows)

    def update_profiles(self, leads: Sequence[Lead], now: datetime) -> None:
        current = {
            row.id: row.traits
            for chunk in _chunks(sorted(lead.id for lead in leads if lead.id is not None))
            for row in self._c.execute(
                select(t.leads.c.id, t.leads.c.traits).where(t.leads.c.id.in_(chunk))
            )
        }
        for lead in leads:
            values: dict[str, Any] = {
                name: getattr(lead, name)
                for name in _LEAD_FIELDS
                if getattr(lead, name) is not None
            }
            if lead.account_id is not None:
                values["account_id"] = lead.account_id
            if lead.traits:
                values["traits"] = {**(current.get(lead.id) or {}), **lead.traits}
            values["updated_at"] = now
            self._c.execute(update(t.leads).where(t.leads.c.id == lead.id).values(**values))

    def lock(self, lead_ids: Collection[int]) -> None:
        # SQLite already holds the database write lock from BEGIN IMMEDIATE.
        if self._c.dialect.name != "postgresql":
            return
        # Always lock in id order, so two writers over overlapping leads cannot deadlock.
        for chunk in _chunks(sorted(lead_ids)):
            self._c.execute(
                select(t.leads.c.id)
                .where(t.leads.c.id.in_(chunk))
                .order_by(t.leads.c.id)
                .with_for_update()
            ).all()

    def get_many(self, lead_ids: Collection[int]) -> dict[int, Lead]:
        found: dict[int, Lead] = {}
        for chunk in _chunks(sorted(lead_ids)):
            for row in self._c.execute(_LEAD_WITH_ACCOUNT.where(t.leads.c.id.in_(chunk))):
                found[row.id] = _lead_from(row)
        return found

    def set_stages(self, changes: Sequence[StageChange], now: datetime) -> None:
        for change in changes:
            self._c.execute(
                update(t.leads)
                .where(t.leads.c.id == change.lead_id)
                .values(
                    stage=change.stage.value,
                    stage_entered_at=change.entered_at,
                    engagement_reset_at=change.engagement_reset_at,
                    updated_at=now,
                )
            )

    def ids_for_accounts(self, account_ids: Collection[int]) -> list[int]:
        found: list[int] = []
        for chunk in _chunks(sorted(account_ids)):
            found.extend(
                self._c.execute(
                    select(t.leads.c.id).where(t.leads.c.account_id.in_(chunk))
                ).scalars()
            )
        return found

    def id_chunks(self, size: int) -> Iterator[list[int]]:
        last = 0
        while True:
            ids = list(
                self._c.execute(
                    select(t.leads.c.id)
                    .where(t.leads.c.id > last)
                    .order_by(t.leads.c.id)
                    .limit(size)
                ).scalars()
            )
            if not ids:
                return
            yield ids
            last = ids[-1]

    def count(self) -> int:
        return int(self._c.execute(select(func.count()).select_from(t.leads)).scalar_one())


class SqlTouchpointRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def known(self, message_ids: Collection[str]) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(sorted(message_ids)):
            found.update(
                self._c.execute(
                    select(t.touchpoints.c.message_id).where(t.touchpoints.c.message_id.in_(chunk))
                ).scalars()
            )
        return found

    def add(self, rows: Sequence[StoredTouchpoint]) -> int:
        if not rows:
            return 0
        values = [
            {
                "message_id": row.touchpoint.message_id,
                "lead_id": row.lead_id,
                "name": row.touchpoint.name,
                "original_name": row.original_name,
                "occurred_at": row.touchpoint.occurred_at,
                "received_at": row.received_at,
                "properties": row.touchpoint.properties,
            }
            for row in rows
        ]
        # A concurrent writer may have stored the same message id since we checked.
        stmt = (
            _upsert_insert(self._c, t.touchpoints)
            .on_conflict_do_nothing(index_elements=["message_id"])
            .returning(t.touchpoints.c.id)
        )
        return len(self._c.execute(stmt, values).all())

    def for_leads(self, lead_ids: Collection[int]) -> dict[int, list[Touchpoint]]:
        found: dict[int, list[Touchpoint]] = {}
        c = t.touchpoints.c
        for chunk in _chunks(sorted(lead_ids)):
            rows = self._c.execute(
                select(c.lead_id, c.message_id, c.name, c.occurred_at, c.properties).where(
                    c.lead_id.in_(chunk)
                )
            )
            for row in rows:
                found.setdefault(row.lead_id, []).append(
                    Touchpoint(
                        row.message_id, row.name, row.occurred_at, row.properties, row.lead_id
                    )
                )
        return found


class SqlScoreRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def upsert(self, rows: Sequence[StoredScore]) -> None:
        if not rows:
            return
        # The table's columns are the dataclass's fields, name for name.
        values = [asdict(r) for r in rows]
        stmt = _upsert_insert(self._c, t.scores)
        stmt = stmt.on_conflict_do_update(
            index_elements=["lead_id"],
            set_={name: stmt.excluded[name] for name in values[0] if name != "lead_id"},
        )
        self._c.execute(stmt, values)

    def get_many(self, lead_ids: Collection[int]) -> dict[int, StoredScore]:
        found: dict[int, StoredScore] = {}
        for chunk in _chunks(sorted(lead_ids)):
            for row in self._c.execute(select(t.scores).where(t.scores.c.lead_id.in_(chunk))):
                found[row.lead_id] = StoredScore(**row._asdict())
        return found


class SqlTransitionRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(self, rows: Sequence[Transition]) -> None:
        if not rows:
            return
        self._c.execute(
            t.transitions.insert(),
            [
                {
                    "lead_id": r.lead_id,
                    "from_stage": r.from_stage.value,
                    "to_stage": r.to_stage.value,
                    "occurred_at": r.occurred_at,
                    "actor_type": r.actor_type.value,
                    "actor": r.actor,
                    "reason": r.reason,
                    "fit": r.fit,
                    "engagement": r.engagement,
                    "total": r.total,
                    "grade": r.grade,
                    "model_version": r.model_version,
                    "override": r.override,
                }
                for r in rows
            ],
        )

    def for_lead(self, lead_id: int) -> list[Transition]:
        c = t.transitions.c
        rows = self._c.execute(
            select(t.transitions).where(c.lead_id == lead_id).order_by(c.occurred_at, c.id)
        )
        return [
            Transition(
                lead_id=row.lead_id,
                from_stage=Stage(row.from_stage),
                to_stage=Stage(row.to_stage),
                occurred_at=row.occurred_at,
                actor_type=ActorType(row.actor_type),
                actor=row.actor,
                reason=row.reason,
                fit=row.fit,
                engagement=row.engagement,
                total=row.total,
                grade=row.grade,
                model_version=row.model_version,
                override=row.override,
            )
            for row in rows
        ]


@lru_cache(maxsize=32)
def _parsed(document: str) -> ScoringModel:
    """Parse a stored model once per process: stored documents never change."""
    return load_model(document, source="stored model")


def checksum(document: str) -> str:
    """Given a model document, return the checksum that identifies its exact text."""
    return hashlib.sha256(document.encode()).hexdigest()


class SqlModelRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def parse(self, document: str) -> ScoringModel:
        return load_model(document)

    def _version(self, row: Row[Any]) -> ModelVersion:
        return ModelVersion(
            version=row.version,
            name=row.name,
            checksum=row.checksum,
            document=row.document,
            model=_parsed(row.document),
            created_at=row.created_at,
            created_by=row.created_by,
            activated_at=row.activated_at,
            is_active=row.is_active,
        )

    def add(self, document: str, *, now: datetime, created_by: str) -> ModelVersion:
        model = self.parse(document)
        digest = checksum(document)
        existing = self._c.execute(
            select(t.model_versions).where(t.model_versions.c.checksum == digest)
        ).first()
        if existing is not None:
            return self._version(existing)
        latest = self._c.execute(select(func.max(t.model_versions.c.version))).scalar()
        version = (latest or 0) + 1
        self._c.execute(
            t.model_versions.insert().values(
                version=version,
                name=model.name,
                checksum=digest,
                document=document,
                created_at=now,
                created_by=created_by,
                activated_at=None,
                is_active=False,
            )
        )
        found = self.get(version)
        assert found is not None
        return found

    def activate(self, version: int, now: datetime) -> ModelVersion:
        mv = t.model_versions
        self._c.execute(update(mv).where(mv.c.is_active).values(is_active=False))
        self._c.execute(
            update(mv).where(mv.c.version == version).values(is_active=True, activated_at=now)
        )
        found = self.get(version)
        if found is None:
            raise KeyError(f"no scoring model version {version}")
        return found

    def active(self) -> ModelVersion | None:
        row = self._c.execute(select(t.model_versions).where(t.model_versions.c.is_active)).first()
        return None if row is None else self._version(row)

    def get(self, version: int) -> ModelVersion | None:
        row = self._c.execute(
            select(t.model_versions).where(t.model_versions.c.version == version)
        ).first()
        return None if row is None else self._version(row)

    def all(self) -> list[ModelVersion]:
        rows = self._c.execute(select(t.model_versions).order_by(t.model_versions.c.version))
        return [self._version(row) for row in rows]
