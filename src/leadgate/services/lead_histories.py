"""Every lead with its whole history, read in short transactions of a chunk of leads each:
what training, rule evidence and the backtest read (SQLite has one writer, so a long read
would hold ingestion up)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from leadgate.domain.leads import Lead
from leadgate.domain.predictive import Milestone
from leadgate.domain.touchpoints import Touchpoint
from leadgate.services.ports import UnitOfWork

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class LeadRecord:
    """A lead, its touchpoints (in no particular order), when it was created, and the
    stages and outcomes it reached."""

    lead: Lead
    history: list[Touchpoint]
    created_at: datetime
    milestones: list[Milestone]

    @property
    def first_seen(self) -> datetime:
        """When leadgate could first have known the lead: its creation or its first
        touchpoint, whichever came first (imported histories start before the import)."""
        return min([self.created_at, *(tp.occurred_at for tp in self.history)])


def lead_records(
    uow: UnitOfWork, chunks: Sequence[list[int]], progress: Progress | None = None
) -> Iterator[list[LeadRecord]]:
    """Given chunks of lead ids (``uow.leads.id_chunks``), yield each chunk's records in
    id order, read in one short transaction; ``progress(done, total)`` follows each
    chunk the caller has handled."""
    total = sum(len(chunk) for chunk in chunks)
    done = 0
    for chunk in chunks:
        with uow:
            leads = uow.leads.get_many(chunk)
            histories = uow.touchpoints.for_leads(chunk)
            repo = uow.predictive
            created = repo.created_at(chunk)
            milestones = repo.milestones(chunk)
        yield [
            LeadRecord(
                leads[lead_id],
                histories.get(lead_id, []),
                created[lead_id],
                milestones.get(lead_id, []),
            )
            for lead_id in sorted(leads)
        ]
        done += len(chunk)
        if progress:
            progress(done, total)
