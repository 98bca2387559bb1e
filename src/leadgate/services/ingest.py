"""Ingesting touchpoints: deduplicate, resolve identities, store, rescore, apply gates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from leadgate.domain.errors import InvalidIdentity
from leadgate.domain.identity import IdentityKey, identity_keys
from leadgate.domain.touchpoints import Touchpoint, classify
from leadgate.services.commands import TouchpointIn
from leadgate.services.errors import InvalidInput
from leadgate.services.identities import resolve_leads
from leadgate.services.ports import ModelVersion, StoredTouchpoint, UnitOfWork
from leadgate.services.qualification import active_model, qualify_leads


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What one batch did. ``duplicates`` counts message ids seen before or twice in it."""

    received: int
    stored: int
    duplicates: int
    leads_created: int
    leads_rescored: int
    transitions: int
    lead_ids: tuple[int, ...] = field(default=(), repr=False)


def ingest_touchpoints(
    uow: UnitOfWork, batch: Sequence[TouchpointIn], *, now: datetime
) -> IngestResult:
    """Store a batch of touchpoints in one transaction and requalify the leads it touches.

    Idempotent: a message id already stored (or repeated in the batch) is skipped, so a
    client's retry of the whole batch changes nothing. Scores are computed as of ``now``;
    touchpoints dated after ``now`` are stored and count once their time has come.
    Raises InvalidInput, naming the item and field, before anything is written.
    """
    keysets = []
    for position, item in enumerate(batch):
        try:
            keysets.append(touchpoint_keys(item))
        except InvalidInput as exc:
            raise InvalidInput(f"touchpoint {position} ({item.message_id}): {exc}") from None

    with uow:
        active = active_model(uow)
        stored, created, touched = store_touchpoints(uow, active, batch, keysets, now)
        stats = qualify_leads(uow, touched, active, now)
        uow.commit()
    return IngestResult(
        received=len(batch),
        stored=stored,
        duplicates=len(batch) - stored,
        leads_created=created,
        leads_rescored=stats.rescored,
        transitions=stats.transitions,
        lead_ids=tuple(touched),
    )


def store_touchpoints(
    uow: UnitOfWork,
    active: ModelVersion,
    batch: Sequence[TouchpointIn],
    keysets: Sequence[tuple[IdentityKey, ...]],
    now: datetime,
) -> tuple[int, int, list[int]]:
    """Inside an open unit of work: skip known message ids, find or create each new item's
    lead, and append the touchpoints under their canonical names.

    Returns how many were stored, how many leads were created, and the leads touched
    (sorted, locked until commit), which the caller requalifies.
    """
    seen = uow.touchpoints.known({item.message_id for item in batch})
    fresh: list[int] = []
    for position, item in enumerate(batch):
        if item.message_id not in seen:
            seen.add(item.message_id)
            fresh.append(position)
    resolution = resolve_leads(uow, [keysets[i] for i in fresh], now)
    lead_ids, created = resolution.lead_ids, resolution.created
    touched = sorted(set(lead_ids))
    # Lock before the inserts: their foreign-key checks would otherwise take weaker locks
    # first and two writers could deadlock upgrading them.
    uow.leads.lock(touched)
    rows = stored_rows(
        active, [(batch[p], lead_id) for p, lead_id in zip(fresh, lead_ids, strict=True)], now
    )
    stored = uow.touchpoints.add(rows)
    return stored, created, touched


def stored_rows(
    active: ModelVersion, items: Sequence[tuple[TouchpointIn, int]], now: datetime
) -> list[StoredTouchpoint]:
    """Given incoming touchpoints and their leads, return the rows to append: named by the
    model's alias table, page views categorised by its URL patterns, times in UTC."""
    model = active.model
    rows = []
    for item, lead_id in items:
        name, properties = classify(
            item.name, item.properties, model.aliases, model.page_categories
        )
        rows.append(
            StoredTouchpoint(
                Touchpoint(item.message_id, name, item.occurred_at.astimezone(UTC), properties),
                lead_id,
                item.name,
                now,
            )
        )
    return rows


def touchpoint_keys(item: TouchpointIn) -> tuple[IdentityKey, ...]:
    """Given one incoming touchpoint, return its identity keys or say which field is wrong.

    Callers that know where the item came from (a file line, a request) check items with
    this before ingesting anything, so a bad item is reported by its place.
    """
    if not item.message_id or not item.message_id.strip():
        raise InvalidInput("message_id: required")
    if not item.name or not item.name.strip():
        raise InvalidInput("name: required")
    if item.occurred_at.tzinfo is None:
        raise InvalidInput(
            f"occurred_at: {item.occurred_at.isoformat()} has no time zone "
            "(send ISO 8601 with an offset, e.g. 2026-03-01T09:30:00Z)"
        )
    try:
        keys = identity_keys(
            email=item.email,
            user_id=item.user_id,
            external_id=item.external_id,
            anonymous_id=item.anonymous_id,
        )
    except InvalidIdentity as exc:
        raise InvalidInput(f"email: {exc}") from None
    if not keys:
        raise InvalidInput("no identity; give an email, user_id, external_id or anonymous_id")
    return keys
