"""The qualifier: drains the inbox through the one ingestion pipeline, oldest calls first.

One round takes up to ``limit`` waiting calls (many requests' worth) and runs them through
``record_calls`` in one transaction, handlers on, marking them drained in the same
transaction: what is committed is qualified, what is not is still waiting. Calls are taken
in arrival order by one qualifier at a time per database (the inbox's lock), so each lead's
calls are applied in the order they arrived. A round run again over calls already
qualified changes nothing: the pipeline is idempotent by message id.

A call that cannot be rebuilt, or whose processing is refused as InvalidInput, must not
hold back the calls behind it: the round is retried on halves of the batch until the call
is alone, and that call is parked with the reason (``leadgate inbox parked``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from leadgate.services.commands import TrackedCall
from leadgate.services.errors import InvalidInput
from leadgate.services.inbox_codec import tracked_call
from leadgate.services.ports import InboxEntry, UnitOfWork
from leadgate.services.retry import retry_on_conflict
from leadgate.services.tracking import record_calls

DEFAULT_LIMIT = 5000
DEFAULT_KEEP = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class DrainResult:
    """What one or more rounds did: calls taken (``drained`` + ``parked``), touchpoints
    stored, duplicates skipped, leads rescored, transitions, committed transactions; and
    whether the last round took a full batch, so more is probably waiting."""

    drained: int = 0
    parked: int = 0
    stored: int = 0
    duplicates: int = 0
    leads_rescored: int = 0
    transitions: int = 0
    transactions: int = 0
    more: bool = False

    @property
    def taken(self) -> int:
        return self.drained + self.parked

    def __add__(self, other: DrainResult) -> DrainResult:
        return DrainResult(
            self.drained + other.drained,
            self.parked + other.parked,
            self.stored + other.stored,
            self.duplicates + other.duplicates,
            self.leads_rescored + other.leads_rescored,
            self.transitions + other.transitions,
            self.transactions + other.transactions,
            other.more,
        )


@dataclass(frozen=True, slots=True)
class _Refused:
    """A round the pipeline refused: its first call and the reason."""

    first_id: int
    reason: str


def drain_inbox(
    uow_factory: Callable[[], UnitOfWork],
    now: Callable[[], datetime],
    *,
    limit: int = DEFAULT_LIMIT,
    keep: timedelta = DEFAULT_KEEP,
) -> DrainResult:
    """Drain one batch of up to ``limit`` calls (see the module doc); calls drained more
    than ``keep`` ago are forgotten in the same transaction. Returns what was done; an
    empty inbox, or one another qualifier holds, gives an empty result."""
    if limit < 1:
        raise ValueError(f"limit: {limit} calls per round; it must be at least 1")
    size, done = limit, DrainResult()
    while True:
        outcome = retry_on_conflict(partial(_round, uow_factory, now, size, keep))
        if isinstance(outcome, DrainResult):
            done += outcome
            # The usual case, or the calls after a parked one are drained: done for now.
            if size == limit or not outcome.more:
                return done + DrainResult(more=outcome.more)
            continue  # a refused call is still ahead: go on in batches of this size
        if size > 1:
            size //= 2  # the refused call is in one half: find it, draining the rest
            continue
        parked = retry_on_conflict(partial(_park, uow_factory, now, outcome))
        return done + parked + DrainResult(more=True)


def _round(
    uow_factory: Callable[[], UnitOfWork], now: Callable[[], datetime], size: int, keep: timedelta
) -> DrainResult | _Refused:
    uow = uow_factory()
    with uow:
        entries = uow.inbox.take(size)
        if not entries:
            return DrainResult()
        calls, received, unreadable = _rebuilt(entries)
        # Scored as of now, never before the newest of the calls arrived.
        at = max(now(), *(e.received_at for e in entries))
        try:
            result = record_calls(uow, calls, now=at, received=received)
        except InvalidInput as exc:
            # Leaving the block without a commit undoes the round, parking included.
            return _Refused(entries[0].id, f"refused by the pipeline: {exc}")
        if unreadable:
            uow.inbox.park(unreadable, at)
        drained_at = now()
        uow.inbox.done([e.id for e in entries if e.id not in unreadable], drained_at)
        uow.inbox.purge(drained_at - keep)
        uow.commit()
    return DrainResult(
        drained=len(entries) - len(unreadable),
        parked=len(unreadable),
        stored=result.stored,
        duplicates=result.duplicates,
        leads_rescored=result.leads_rescored,
        transitions=result.transitions,
        transactions=1,
        more=len(entries) == size,
    )


def _rebuilt(
    entries: list[InboxEntry],
) -> tuple[list[TrackedCall], dict[str, datetime], dict[int, str]]:
    """The entries' calls in order, when each event arrived (by message id), and the
    entries that do not rebuild, with the reason."""
    calls: list[TrackedCall] = []
    received: dict[str, datetime] = {}
    unreadable: dict[int, str] = {}
    for entry in entries:
        try:
            call = tracked_call(entry.document)
        except InvalidInput as exc:
            unreadable[entry.id] = f"cannot rebuild the call: {exc}"
            continue
        calls.append(call)
        if call.touchpoint is not None:
            received[call.touchpoint.message_id] = entry.received_at
    return calls, received, unreadable


def _park(
    uow_factory: Callable[[], UnitOfWork], now: Callable[[], datetime], refused: _Refused
) -> DrainResult:
    uow = uow_factory()
    with uow:
        # Under the inbox's lock, and only if the refused call still comes first: another
        # qualifier may have parked it meanwhile.
        first = uow.inbox.take(1)
        if not first or first[0].id != refused.first_id:
            return DrainResult()
        uow.inbox.park({refused.first_id: refused.reason}, now())
        uow.commit()
    return DrainResult(parked=1, transactions=1)


def run_qualifier(
    drain: Callable[[], DrainResult],
    *,
    should_stop: Callable[[], bool],
    wait: Callable[[float], object],
    poll_seconds: float = 0.05,
    on_error: Callable[[Exception], float] | None = None,
) -> DrainResult:
    """Drain until ``should_stop()``: at once again while rounds come back full, else
    ``wait(poll_seconds)`` (which a capture may cut short). An exception from a round is
    given to ``on_error``, which says how long to wait before the next (none: raised)."""
    total = DrainResult()
    while not should_stop():
        started = time.monotonic()
        try:
            result = drain()
        except Exception as exc:  # the database went away, say: nothing was half applied
            if on_error is None:
                raise
            wait(on_error(exc))
            continue
        total += result
        if not result.more:
            wait(max(0.0, poll_seconds - (time.monotonic() - started)))
    return total
