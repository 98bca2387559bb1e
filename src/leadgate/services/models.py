"""Scoring model versions: store, activate (and rescore under the new version)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from leadgate.services.ports import ModelVersion, UnitOfWork
from leadgate.services.rescore import Progress, requalify_all


@dataclass(frozen=True, slots=True)
class Activation:
    version: int
    name: str
    previous_version: int | None
    already_active: bool
    rescored: int
    transitions: int


def activate_model(
    uow: UnitOfWork,
    document: str,
    *,
    now: datetime,
    actor: str,
    chunk_size: int = 2000,
    progress: Progress | None = None,
) -> Activation:
    """Store a model document (validated) as a version, make it active and rescore all leads.

    New scores and any transitions they cause carry the new version; earlier transitions
    keep the version they were made under. Activating the active document again changes
    nothing.
    """
    with uow:
        previous = uow.models.active()
        version = uow.models.add(document, now=now, created_by=actor)
        if previous is not None and previous.version == version.version:
            return Activation(version.version, version.name, previous.version, True, 0, 0)
        active = uow.models.activate(version.version, now)
        stats = requalify_all(
            uow, active, now, chunk_size=chunk_size, progress=progress, from_log=True
        )
        uow.commit()
    return Activation(
        active.version,
        active.name,
        previous.version if previous else None,
        False,
        stats.rescored,
        stats.transitions,
    )


def store_model(
    uow: UnitOfWork, document: str, *, now: datetime, actor: str
) -> tuple[ModelVersion, bool]:
    """Store a model document as a candidate version (not active); return it and whether it
    is new (the same text already stored is that version, not a new one).

    The document must be valid: the model repository refuses one that is not.
    """
    with uow:
        known = {v.version for v in uow.models.all()}
        stored = uow.models.add(document, now=now, created_by=actor)
        uow.commit()
    return stored, stored.version not in known
