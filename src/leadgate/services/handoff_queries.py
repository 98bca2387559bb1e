"""Reads for the handoff API: handoffs, the outbox, endpoints, audiences and their export.

Lists come in keyset pages (``id > after``, one row more than asked to know whether
another page follows), so a client walking a list never sees a row twice or misses one
while rows are added.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from leadgate.domain.handoffs import Handoff
from leadgate.services.audiences import AudienceNotFound, current_members
from leadgate.services.errors import LeadNotFound, ServiceError
from leadgate.services.ports import Audience, Endpoint, OutboxMessage, UnitOfWork

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """Up to ``limit`` rows, and whether more follow the last one."""

    items: list[T]
    more: bool


class NoHandoff(ServiceError):
    def __init__(self, lead_id: int) -> None:
        super().__init__(f"lead {lead_id} has never been handed off")
        self.lead_id = lead_id


@dataclass(frozen=True, slots=True)
class MessageDetail:
    message: OutboxMessage
    attempts: list[dict[str, Any]]  # oldest first: attempted_at, ok, status_code, error ...


@dataclass(frozen=True, slots=True)
class AudienceDetail:
    audience: Audience
    members: int  # as of the last refresh


def handoff_page(
    uow: UnitOfWork,
    *,
    owner: str | None = None,
    team: str | None = None,
    status: str | None = None,
    sla_status: str | None = None,
    after_id: int | None = None,
    limit: int = 50,
) -> Page[Handoff]:
    """Handoffs matching every filter given, by ascending id."""
    with uow:
        rows = uow.handoffs.listing(
            owner=owner,
            team=team,
            status=status,
            sla_status=sla_status,
            after_id=after_id,
            limit=limit + 1,
        )
    return Page(rows[:limit], len(rows) > limit)


def get_handoff(uow: UnitOfWork, handoff_id: int) -> Handoff | None:
    with uow:
        return uow.handoffs.get(handoff_id)


def lead_handoffs(uow: UnitOfWork, lead_id: int) -> list[Handoff]:
    """Every handoff of a lead, oldest first (a recycled lead may qualify again)."""
    with uow:
        if not uow.leads.get_many([lead_id]):
            raise LeadNotFound(lead_id)
        return uow.handoffs.for_lead(lead_id)


def latest_handoff(uow: UnitOfWork, lead_id: int) -> Handoff:
    """The lead's most recent handoff (whose context package is the freshest)."""
    handoffs = lead_handoffs(uow, lead_id)
    if not handoffs:
        raise NoHandoff(lead_id)
    return handoffs[-1]


def list_endpoints(uow: UnitOfWork) -> list[Endpoint]:
    with uow:
        return uow.outbox.endpoints()


def get_endpoint(uow: UnitOfWork, endpoint_id: int) -> Endpoint | None:
    with uow:
        return uow.outbox.endpoint(endpoint_id)


def outbox_page(
    uow: UnitOfWork,
    *,
    status: str | None = None,
    endpoint_id: int | None = None,
    after_id: int | None = None,
    limit: int = 50,
) -> Page[OutboxMessage]:
    """Outbox messages matching the filters, by ascending id."""
    with uow:
        rows = uow.outbox.messages(
            status=status, endpoint_id=endpoint_id, after_id=after_id, limit=limit + 1
        )
    return Page(rows[:limit], len(rows) > limit)


def outbox_message(uow: UnitOfWork, message_id: int) -> MessageDetail | None:
    with uow:
        message = uow.outbox.message(message_id)
        if message is None:
            return None
        return MessageDetail(message, uow.outbox.attempts(message_id))


def list_audiences(uow: UnitOfWork) -> list[Audience]:
    with uow:
        return uow.audiences.all()


def audience_details(uow: UnitOfWork) -> list[AudienceDetail]:
    """Every audience, oldest first, with its member count as of its last refresh."""
    with uow:
        return [AudienceDetail(a, len(uow.audiences.members(a.id))) for a in uow.audiences.all()]


def audience_named(uow: UnitOfWork, name: str) -> Audience | None:
    with uow:
        return uow.audiences.by_name(name.strip())


def get_audience(uow: UnitOfWork, audience_id: int) -> AudienceDetail | None:
    with uow:
        audience = uow.audiences.get(audience_id)
        if audience is None:
            return None
        return AudienceDetail(audience, len(uow.audiences.members(audience_id)))


EXPORT_COLUMNS = (
    "lead_id",
    "email",
    "first_name",
    "last_name",
    "account_domain",
    "stage",
    "grade",
    "score",
)


def export_audience(uow: UnitOfWork, audience_id: int) -> Iterator[tuple[Any, ...]]:
    """The audience's members now, one row of ``EXPORT_COLUMNS`` each, read lazily (a
    thousand leads at a time) so an export of any size streams in little memory.

    The audience is looked up before the first row is asked for, so a missing one raises
    AudienceNotFound at once.
    """
    with uow:
        audience = uow.audiences.get(audience_id)
    if audience is None:
        raise AudienceNotFound(audience_id)
    return _rows(uow, audience)


def _rows(uow: UnitOfWork, audience: Audience) -> Iterator[tuple[Any, ...]]:
    with uow:
        for lead, score in current_members(uow, audience):
            yield (
                lead.id,
                lead.email,
                lead.first_name,
                lead.last_name,
                lead.account.domain if lead.account else None,
                lead.stage.value,
                score.grade if score else None,
                round(score.total, 2) if score else None,
            )
