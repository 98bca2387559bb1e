"""Handoffs, the routing state, sales outcomes, and versioned configuration documents."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from dataclasses import replace
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select, update

from leadgate.adapters.db import tables as t
from leadgate.adapters.handoff_yaml import load_handoff_config
from leadgate.domain.handoff_config import HandoffConfig
from leadgate.domain.handoffs import Handoff, HandoffStatus
from leadgate.domain.routing import HandoffKind
from leadgate.domain.sla import SlaStatus
from leadgate.domain.touchpoints import Touchpoint
from leadgate.models.handoff import default_handoff_text
from leadgate.services.ports import HANDOFF_KIND, ConfigVersion, Outcome

_HANDOFF_FIELDS = (
    "lead_id",
    "team",
    "owner",
    "routing_reason",
    "created_at",
    "sla_policy",
    "due_at",
    "warn_at",
    "warned_at",
    "breached_at",
    "first_touch_at",
    "closed_at",
    "context",
)


def _handoff_from(row: Row[Any]) -> Handoff:
    return Handoff(
        **{name: getattr(row, name) for name in _HANDOFF_FIELDS},
        kind=HandoffKind(row.kind),
        status=HandoffStatus(row.status),
        sla_status=SlaStatus(row.sla_status),
        id=row.id,
    )


def _handoff_values(handoff: Handoff) -> dict[str, Any]:
    return {
        **{name: getattr(handoff, name) for name in _HANDOFF_FIELDS},
        "kind": handoff.kind.value,
        "status": handoff.status.value,
        "sla_status": handoff.sla_status.value,
    }


class SqlHandoffRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(self, handoff: Handoff) -> Handoff:
        new_id = self._c.execute(
            insert(t.handoffs).values(_handoff_values(handoff)).returning(t.handoffs.c.id)
        ).scalar_one()
        return replace(handoff, id=new_id)

    def save(self, handoff: Handoff) -> None:
        self._c.execute(
            update(t.handoffs).where(t.handoffs.c.id == handoff.id).values(_handoff_values(handoff))
        )

    def get(self, handoff_id: int) -> Handoff | None:
        row = self._c.execute(select(t.handoffs).where(t.handoffs.c.id == handoff_id)).first()
        return _handoff_from(row) if row else None

    def pending_for(self, lead_ids: Collection[int]) -> dict[int, Handoff]:
        """The pending handoff of each lead that has one."""
        if not lead_ids:
            return {}
        rows = self._c.execute(
            select(t.handoffs).where(
                t.handoffs.c.lead_id.in_(sorted(lead_ids)),
                t.handoffs.c.status == HandoffStatus.PENDING.value,
            )
        )
        return {row.lead_id: _handoff_from(row) for row in rows}

    def for_lead(self, lead_id: int) -> list[Handoff]:
        rows = self._c.execute(
            select(t.handoffs).where(t.handoffs.c.lead_id == lead_id).order_by(t.handoffs.c.id)
        )
        return [_handoff_from(row) for row in rows]

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
        """Handoffs by id (a stable order for cursor pages); filters optional."""
        query = select(t.handoffs)
        for column, value in (
            (t.handoffs.c.owner, owner),
            (t.handoffs.c.team, team),
            (t.handoffs.c.status, status),
            (t.handoffs.c.sla_status, sla_status),
        ):
            if value is not None:
                query = query.where(column == value)
        if after_id is not None:
            query = query.where(t.handoffs.c.id > after_id)
        rows = self._c.execute(query.order_by(t.handoffs.c.id).limit(limit))
        return [_handoff_from(row) for row in rows]

    def queued(self, limit: int = 500) -> list[Handoff]:
        """Pending handoffs waiting in a team queue (no owner), oldest first."""
        rows = self._c.execute(
            select(t.handoffs)
            .where(
                t.handoffs.c.status == HandoffStatus.PENDING.value,
                t.handoffs.c.owner.is_(None),
            )
            .order_by(t.handoffs.c.created_at, t.handoffs.c.id)
            .limit(limit)
        )
        return [_handoff_from(row) for row in rows]

    def sla_due(self, now: datetime, limit: int = 500) -> list[Handoff]:
        """Open handoffs whose warning time or deadline has come."""
        open_ = (t.handoffs.c.status == HandoffStatus.PENDING.value) & (
            t.handoffs.c.sla_status == SlaStatus.OPEN.value
        )
        due = (t.handoffs.c.due_at < now) | (
            (t.handoffs.c.warn_at <= now) & t.handoffs.c.warned_at.is_(None)
        )
        rows = self._c.execute(
            select(t.handoffs).where(open_, due).order_by(t.handoffs.c.due_at).limit(limit)
        )
        return [_handoff_from(row) for row in rows]

    def open_with_owner(self, lead_ids: Collection[int]) -> list[Handoff]:
        """Open handoffs of these leads (for first-touch detection)."""
        if not lead_ids:
            return []
        rows = self._c.execute(
            select(t.handoffs).where(
                t.handoffs.c.lead_id.in_(sorted(lead_ids)),
                t.handoffs.c.status == HandoffStatus.PENDING.value,
                t.handoffs.c.sla_status == SlaStatus.OPEN.value,
            )
        )
        return [_handoff_from(row) for row in rows]

    def touched(self, names: Collection[str]) -> list[tuple[Handoff, list[Touchpoint]]]:
        """Open handoffs whose lead has touchpoints named ``names`` since the handoff, with
        those touchpoints (the first-touch candidates)."""
        h, tp = t.handoffs, t.touchpoints
        rows = self._c.execute(
            select(
                h, tp.c.message_id, tp.c.name.label("tp_name"), tp.c.occurred_at, tp.c.properties
            )
            .join(tp, tp.c.lead_id == h.c.lead_id)
            .where(
                h.c.status == HandoffStatus.PENDING.value,
                h.c.sla_status == SlaStatus.OPEN.value,
                tp.c.name.in_(sorted(names)),
                tp.c.occurred_at >= h.c.created_at,
            )
            .order_by(h.c.id, tp.c.occurred_at)
        )
        found: dict[int, tuple[Handoff, list[Touchpoint]]] = {}
        for row in rows:
            entry = found.setdefault(row.id, (_handoff_from(row), []))
            entry[1].append(
                Touchpoint(row.message_id, row.tp_name, row.occurred_at, row.properties)
            )
        return list(found.values())

    def open_counts(self) -> dict[str, int]:
        """Pending handoffs per owner: what capacity and least-loaded routing read."""
        rows = self._c.execute(
            select(t.handoffs.c.owner, func.count())
            .where(
                t.handoffs.c.status == HandoffStatus.PENDING.value,
                t.handoffs.c.owner.is_not(None),
            )
            .group_by(t.handoffs.c.owner)
        )
        return {row[0]: int(row[1]) for row in rows}

    def routing_state(self, *, lock: bool = False) -> dict[str, Any]:
        """Every team's stored routing state, locked until commit when ``lock``."""
        query = select(t.routing_state).order_by(t.routing_state.c.team)
        if lock and self._c.dialect.name == "postgresql":
            query = query.with_for_update()
        return {row.team: row.state for row in self._c.execute(query)}

    def save_routing_state(self, states: Mapping[str, Any], now: datetime) -> None:
        known = set(self.routing_state())
        for team, state in states.items():
            if team in known:
                self._c.execute(
                    update(t.routing_state)
                    .where(t.routing_state.c.team == team)
                    .values(state=state, updated_at=now)
                )
            else:
                self._c.execute(
                    insert(t.routing_state).values(team=team, state=state, updated_at=now)
                )

    def set_nurture_track(self, lead_id: int, track: str | None, now: datetime) -> None:
        self._c.execute(
            update(t.leads)
            .where(t.leads.c.id == lead_id)
            .values(nurture_track=track, updated_at=now)
        )

    def nurture_tracks(self, lead_ids: Collection[int]) -> dict[int, str]:
        """The nurture track of each of these leads that has one."""
        if not lead_ids:
            return {}
        rows = self._c.execute(
            select(t.leads.c.id, t.leads.c.nurture_track).where(
                t.leads.c.id.in_(sorted(lead_ids)), t.leads.c.nurture_track.is_not(None)
            )
        )
        return {row.id: row.nurture_track for row in rows}

    def add_outcome(self, outcome: Outcome) -> int:
        return int(
            self._c.execute(
                insert(t.outcomes)
                .values(
                    lead_id=outcome.lead_id,
                    handoff_id=outcome.handoff_id,
                    kind=outcome.kind,
                    reason=outcome.reason,
                    note=outcome.note,
                    details=dict(outcome.details),
                    actor=outcome.actor,
                    occurred_at=outcome.occurred_at,
                )
                .returning(t.outcomes.c.id)
            ).scalar_one()
        )

    def outcomes_for(self, lead_id: int) -> list[Outcome]:
        rows = self._c.execute(
            select(t.outcomes).where(t.outcomes.c.lead_id == lead_id).order_by(t.outcomes.c.id)
        )
        return [
            Outcome(
                lead_id=row.lead_id,
                kind=row.kind,
                actor=row.actor,
                occurred_at=row.occurred_at,
                handoff_id=row.handoff_id,
                reason=row.reason,
                note=row.note,
                details=row.details,
                id=row.id,
            )
            for row in rows
        ]


class SqlConfigRepository:
    """Versioned configuration documents (the handoff YAML), one active per kind."""

    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def _version(self, row: Row[Any]) -> ConfigVersion:
        return ConfigVersion(
            kind=row.kind,
            version=row.version,
            document=row.document,
            created_at=row.created_at,
            created_by=row.created_by,
            is_active=row.is_active,
        )

    def active(self, kind: str) -> ConfigVersion | None:
        row = self._c.execute(
            select(t.config_documents).where(
                t.config_documents.c.kind == kind, t.config_documents.c.is_active.is_(True)
            )
        ).first()
        return self._version(row) if row else None

    def all(self, kind: str) -> list[ConfigVersion]:
        rows = self._c.execute(
            select(t.config_documents)
            .where(t.config_documents.c.kind == kind)
            .order_by(t.config_documents.c.version)
        )
        return [self._version(row) for row in rows]

    def add(self, kind: str, document: str, *, now: datetime, actor: str) -> ConfigVersion:
        """Store a document as the next version (the same text again is that version)."""
        checksum = hashlib.sha256(document.encode()).hexdigest()
        row = self._c.execute(
            select(t.config_documents).where(
                t.config_documents.c.kind == kind, t.config_documents.c.checksum == checksum
            )
        ).first()
        if row:
            return self._version(row)
        latest = self._c.execute(
            select(func.max(t.config_documents.c.version)).where(t.config_documents.c.kind == kind)
        ).scalar()
        self._c.execute(
            insert(t.config_documents).values(
                kind=kind,
                version=(latest or 0) + 1,
                checksum=checksum,
                document=document,
                created_at=now,
                created_by=actor,
                is_active=False,
            )
        )
        return self.all(kind)[-1]

    def activate(self, kind: str, version: int, now: datetime) -> None:
        """Make ``version`` the active one; a version never stored raises LookupError
        (deactivating every version would silently fall back to the shipped default)."""
        stored = self._c.execute(
            select(t.config_documents.c.version).where(
                t.config_documents.c.kind == kind, t.config_documents.c.version == version
            )
        ).first()
        if stored is None:
            raise LookupError(f"no {kind} configuration version {version}")
        self._c.execute(
            update(t.config_documents)
            .where(t.config_documents.c.kind == kind)
            .values(is_active=t.config_documents.c.version == version)
        )
        self._c.execute(
            update(t.config_documents)
            .where(t.config_documents.c.kind == kind, t.config_documents.c.version == version)
            .values(activated_at=now)
        )

    def handoff_config(self) -> HandoffConfig:
        """The active handoff configuration, or the shipped default when none was activated."""
        active = self.active(HANDOFF_KIND)
        if active is None:
            return _parsed(default_handoff_text(), "leadgate/models/handoff.yaml")
        return _parsed(active.document, f"handoff version {active.version}")


@lru_cache(maxsize=8)
def _parsed(document: str, source: str) -> HandoffConfig:
    # Every handoff reads the configuration; validating the document each time would cost
    # more than the handoff. Only validated documents are ever activated.
    return load_handoff_config(document, source)
