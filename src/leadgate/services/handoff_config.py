"""The handoff configuration as versioned documents, and the endpoints notifications go to.

Both are settings a RevOps person changes through the API or the CLI: the routing and SLA
YAML (stored as numbered versions, one active; the shipped default until one is
activated) and the notification endpoints with the events each one wants.

Whether a document or a channel's settings are valid is the adapters' knowledge (a YAML
reader, the channel parsers), and services do not import adapters: each use case takes the
check as a parameter, which raises the adapter's own error naming every problem.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from leadgate.services.errors import NotFound, ServiceError
from leadgate.services.ports import HANDOFF_KIND, ConfigVersion, Endpoint, UnitOfWork

CheckDocument = Callable[[str], object]
"""Raises when the document has errors (listing every one); its return value is unused."""

CheckChannel = Callable[[str, Mapping[str, Any]], object]
"""Given a channel kind and settings, raises naming the wrong field; return value unused."""


class ConfigVersionNotFound(NotFound):
    def __init__(self, version: int) -> None:
        super().__init__(f"no handoff configuration version {version}")
        self.version = version


class EndpointNotFound(NotFound):
    def __init__(self, endpoint_id: int) -> None:
        super().__init__(f"no endpoint with id {endpoint_id}")
        self.endpoint_id = endpoint_id


class NameTaken(ServiceError):
    """Another item of the same kind has this name already."""


@dataclass(frozen=True, slots=True)
class ConfigActivation:
    version: int
    previous_version: int | None  # None: the shipped default was in force
    already_active: bool


def active_handoff_config(uow: UnitOfWork) -> ConfigVersion | None:
    """The active stored handoff document, or None while the shipped default is in force."""
    with uow:
        return uow.configs.active(HANDOFF_KIND)


def handoff_config_versions(uow: UnitOfWork) -> list[ConfigVersion]:
    """Every stored handoff document, oldest first."""
    with uow:
        return uow.configs.all(HANDOFF_KIND)


def handoff_config_version(uow: UnitOfWork, version: int) -> ConfigVersion | None:
    with uow:
        return next((v for v in uow.configs.all(HANDOFF_KIND) if v.version == version), None)


def store_handoff_config(
    uow: UnitOfWork, document: str, *, check: CheckDocument, now: datetime, actor: str
) -> tuple[ConfigVersion, bool]:
    """Check a handoff document and store it as a new version, not active; return it and
    whether it is new (the same text stored before is that version, not another)."""
    check(document)
    with uow:
        known = {v.version for v in uow.configs.all(HANDOFF_KIND)}
        stored = uow.configs.add(HANDOFF_KIND, document, now=now, actor=actor)
        uow.commit()
    return stored, stored.version not in known


def activate_handoff_config(
    uow: UnitOfWork, version: int, *, check: CheckDocument, now: datetime
) -> ConfigActivation:
    """Make a stored version the one every later handoff is routed and timed by.

    The document is checked again first: it was valid when stored, but a newer leadgate
    may read it more strictly, and an active document that cannot be read would stop
    every handoff. Handoffs made before keep their owner and deadline.
    """
    with uow:
        found = next((v for v in uow.configs.all(HANDOFF_KIND) if v.version == version), None)
        if found is None:
            raise ConfigVersionNotFound(version)
        check(found.document)
        previous = uow.configs.active(HANDOFF_KIND)
        previous_version = previous.version if previous else None
        if previous_version == version:
            return ConfigActivation(version, previous_version, True)
        uow.configs.activate(HANDOFF_KIND, version, now)
        uow.commit()
    return ConfigActivation(version, previous_version, False)


def create_endpoint(
    uow: UnitOfWork,
    *,
    name: str,
    kind: str,
    config: Mapping[str, Any],
    events: Sequence[str],
    check: CheckChannel,
    now: datetime,
) -> Endpoint:
    """Check a channel's settings and store the endpoint, active, subscribed to ``events``
    (event types, or ``*`` for every event)."""
    check(kind, config)
    name = name.strip()
    wanted = ("*",) if "*" in events else tuple(dict.fromkeys(events))
    with uow:
        if any(e.name == name for e in uow.outbox.endpoints()):
            raise NameTaken(f"name: an endpoint named {name!r} exists")
        endpoint = uow.outbox.add_endpoint(
            name=name, kind=kind, config=config, events=wanted, now=now
        )
        uow.commit()
    return endpoint


def set_endpoint_active(uow: UnitOfWork, endpoint_id: int, *, active: bool) -> Endpoint:
    """Pause (``active=False``) or resume an endpoint. A paused endpoint gets no new
    messages; those already in the outbox wait until it is resumed."""
    with uow:
        if uow.outbox.endpoint(endpoint_id) is None:
            raise EndpointNotFound(endpoint_id)
        uow.outbox.set_endpoint_active(endpoint_id, active)
        endpoint = uow.outbox.endpoint(endpoint_id)
        uow.commit()
    assert endpoint is not None
    return endpoint
