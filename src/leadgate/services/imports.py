"""Importing a file of leads, accounts, touchpoints or outcomes: check every row, then store.

An importer (``leadgate.adapters.importers``) turns a file into an ``ImportFile``: one
command per good row and a ``RowError`` per bad one. ``run_import`` then checks what only
the database can tell (duplicates of one lead, outcomes for unknown leads) and stores the
good rows in **one** transaction: all of them, or none when any row is bad (unless
``partial``), or none at all on a dry run (which does the whole work and rolls it back, so
its counts are exact).

Leads, accounts and touchpoints go through the ordinary use cases (``upsert_leads``,
``upsert_accounts``, ``ingest_touchpoints``). Those open and commit their own unit of
work; handed the import's open one, they join its transaction (units of work are
re-entrant: only the outermost ``with`` and ``commit`` count). Outcomes become stage
changes written here, as ``services.lifecycle.change_stage`` writes one, but in a batch.

Running the same import twice changes nothing: rows whose lead (or touchpoint, or stage)
is already as the row says are counted ``unchanged`` and not written at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from leadgate.domain.errors import InvalidIdentity
from leadgate.domain.identity import (
    IdentityKey,
    account_domain_for,
    identity_keys,
    normalise_domain,
)
from leadgate.domain.leads import Lead
from leadgate.domain.lifecycle import ActorType, Stage, Transition, allowed
from leadgate.domain.qualification import qualify
from leadgate.domain.scoring_model import RecycleEngagement
from leadgate.services.commands import AccountIn, LeadIn, TouchpointIn
from leadgate.services.errors import InvalidInput
from leadgate.services.ingest import ingest_touchpoints, touchpoint_keys
from leadgate.services.ports import (
    StageChange,
    UnitOfWork,
)
from leadgate.services.profiles import upsert_accounts, upsert_leads
from leadgate.services.qualification import active_model, rescore_leads

# Rows handed to one call of upsert_leads / ingest_touchpoints: each call rescores its
# leads, so batches keep memory flat and let a progress bar move; they still share the
# import's one transaction.
BATCH = 500

Progress = Callable[[int, int, str], None]

_T = TypeVar("_T")


class ImportKind(StrEnum):
    """What a file holds, one row each."""

    LEADS = "leads"
    ACCOUNTS = "accounts"
    TOUCHPOINTS = "touchpoints"
    OUTCOMES = "outcomes"


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem with one row.

    ``row`` is the line of the file where the row starts, the header being line 1 (so it
    is also the spreadsheet row number unless a cell holds a line break). ``column`` is
    the column as headed in the file (None when the row as a whole is at fault), and
    ``value`` the cell as written.
    """

    row: int
    column: str | None
    value: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class OutcomeIn:
    """A result a CRM recorded for a lead, as the stage it puts the lead in.

    ``value`` is the cell as written ("1", "Closed Won"), kept for the transition's reason.
    """

    stage: Stage
    value: str
    email: str | None = None
    user_id: str | None = None
    external_id: str | None = None
    occurred_at: datetime | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ImportRow:
    """A good row of a file and what it says; a row saying nothing (say, an outcome
    column reading 0) carries no command and is counted as skipped.

    A lead row may carry its company's firmographics as ``account``.
    """

    row: int
    lead: LeadIn | None = None
    account: AccountIn | None = None
    touchpoint: TouchpointIn | None = None
    outcome: OutcomeIn | None = None


@dataclass(frozen=True, slots=True)
class ImportFile:
    """A file read by an importer, not yet checked against the database.

    ``columns`` maps each field to the column it was read from; ``traits`` each other
    column to the custom trait (touchpoints: property) it fills. ``placeholders`` counts,
    per column, the placeholder values (``Select``, ``N/A`` ...) read as missing, and
    ``blanks`` the empty cells.
    """

    kind: ImportKind
    name: str
    rows_read: int
    rows: tuple[ImportRow, ...]
    errors: tuple[RowError, ...] = ()
    columns: dict[str, str] = field(default_factory=dict)
    traits: dict[str, str] = field(default_factory=dict)
    placeholders: dict[str, dict[str, int]] = field(default_factory=dict)
    blanks: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did, or, when ``stored`` is false, would have done.

    ``rows`` counts the rows read; each ends up ``created``, ``updated``, ``unchanged``
    (already stored as the row says), ``skipped`` (nothing to import, e.g. an outcome of
    0) or in error (``errors`` rows; ``row_errors`` lists every problem). A ``refused``
    import (errors without ``partial``) stores nothing and counts nothing as created.
    ``transitions`` counts stage changes, by target stage in ``stages``.
    """

    kind: ImportKind
    file: str
    rows: int
    created: int
    updated: int
    unchanged: int
    skipped: int
    errors: int
    transitions: int
    stored: bool
    refused: bool
    dry_run: bool
    partial: bool
    stages: dict[str, int]
    row_errors: list[RowError]
    placeholders: dict[str, dict[str, int]]
    blanks: dict[str, int]
    columns: dict[str, str]
    traits: dict[str, str]
    seconds: float = 0.0


@dataclass
class _Tally:
    """Counts and row errors gathered while checking and storing."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    transitions: int = 0
    stages: dict[str, int] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)


# What checking a file against the database leaves to do: store these rows.
_Store = Callable[[UnitOfWork, Progress], None]


def run_import(
    uow: UnitOfWork,
    file: ImportFile,
    *,
    now: datetime,
    partial: bool = False,
    dry_run: bool = False,
    actor: str = "import",
    progress: Progress | None = None,
) -> ImportReport:
    """Check every row of ``file``, then store the good ones in one transaction.

    Without ``partial``, any row error means nothing is stored. ``dry_run`` does the whole
    import and rolls it back. Outcome transitions are recorded with ``actor``.
    Raises NoActiveModel when no scoring model is active (scores are computed on import).
    """
    started = time.perf_counter()
    step: Progress = progress or (lambda done, total, label: None)
    tally = _Tally()
    stored = False
    with uow:
        active_model(uow)  # fail before any work when nothing could be scored
        step(0, len(file.rows), f"checking {file.kind.value}")
        planners = {
            ImportKind.LEADS: _plan_leads,
            ImportKind.ACCOUNTS: _plan_accounts,
            ImportKind.TOUCHPOINTS: _plan_touchpoints,
            ImportKind.OUTCOMES: _plan_outcomes,
        }
        store = planners[file.kind](uow, file, tally, now, actor)
        bad = bool(file.errors or tally.errors)
        if bad and not partial:
            tally = _Tally(errors=tally.errors)
        else:
            store(uow, step)
            if not dry_run:
                uow.commit()
                stored = True
    # Stable: within a row, errors stay in column order.
    errors = sorted([*file.errors, *tally.errors], key=lambda e: e.row)
    return ImportReport(
        kind=file.kind,
        file=file.name,
        rows=file.rows_read,
        created=tally.created,
        updated=tally.updated,
        unchanged=tally.unchanged,
        skipped=tally.skipped,
        errors=len({e.row for e in errors}),
        transitions=tally.transitions,
        stored=stored,
        refused=bool(errors) and not partial,
        dry_run=dry_run,
        partial=partial,
        stages=tally.stages,
        row_errors=errors,
        placeholders=file.placeholders,
        blanks=file.blanks,
        columns=file.columns,
        traits=file.traits,
        seconds=round(time.perf_counter() - started, 3),
    )


def _batches(items: Sequence[_T]) -> list[Sequence[_T]]:
    return [items[start : start + BATCH] for start in range(0, len(items), BATCH)]


def _keys_of(row: ImportRow, file: ImportFile, tally: _Tally) -> tuple[IdentityKey, ...] | None:
    """The identity keys of a lead or outcome row, or None after recording why not."""
    item = row.lead or row.outcome
    assert item is not None
    try:
        keys = identity_keys(email=item.email, user_id=item.user_id, external_id=item.external_id)
    except InvalidIdentity as exc:
        tally.errors.append(RowError(row.row, file.columns.get("email"), item.email, str(exc)))
        return None
    if not keys:
        columns = [
            file.columns[f] for f in ("email", "external_id", "user_id") if f in file.columns
        ]
        tally.errors.append(
            RowError(row.row, " / ".join(columns) or None, "", "no email, external_id or user_id")
        )
        return None
    return keys


def _first_claim(
    row: ImportRow,
    keys: tuple[IdentityKey, ...],
    claimed: dict[IdentityKey, int],
    file: ImportFile,
    tally: _Tally,
) -> bool:
    """Claim a row's keys; a key an earlier row claimed is an error (which row would win
    is a guess, so the file must say one thing per lead)."""
    for key in keys:
        if key in claimed:
            tally.errors.append(
                RowError(
                    row.row,
                    file.columns.get(key.kind.value),
                    key.value,
                    f"same {key.kind.value} as row {claimed[key]}",
                )
            )
            return False
    for key in keys:
        claimed[key] = row.row
    return True


# Profile fields compared to decide whether a lead row changes anything.
_LEAD_FIELDS = (
    "first_name",
    "last_name",
    "title",
    "seniority",
    "department",
    "persona",
    "source_channel",
    "source_campaign",
    "country",
    "owner",
)
_ACCOUNT_FIELDS = ("name", "industry", "employees", "annual_revenue", "country", "region", "owner")


def _expected_domain(item: LeadIn, keys: tuple[IdentityKey, ...]) -> str | None:
    """The account a lead row attaches its lead to, as upsert_leads decides it."""
    if item.account_domain:
        return normalise_domain(item.account_domain)
    email = next((k.value for k in keys if k.kind.value == "email"), None)
    return account_domain_for(email) if email else None


def _account_unchanged(stored: Lead, item: AccountIn) -> bool:
    account = stored.account
    if account is None or account.domain != normalise_domain(item.domain):
        return False
    if any(
        getattr(item, name) is not None and getattr(item, name) != getattr(account, name)
        for name in _ACCOUNT_FIELDS
    ):
        return False
    if not set(item.technographics) <= set(account.technographics):
        return False
    return all(account.traits.get(k) == v for k, v in item.traits.items())


def _lead_unchanged(
    stored: Lead, row: ImportRow, keys: tuple[IdentityKey, ...], known: dict[IdentityKey, int]
) -> bool:
    """Whether writing the row would leave the stored lead (and its account) as they are."""
    item = row.lead
    assert item is not None
    if any(known.get(key) != stored.id for key in keys):
        return False  # a key to link, or two leads to merge
    if any(
        getattr(item, name) is not None and getattr(item, name) != getattr(stored, name)
        for name in _LEAD_FIELDS
    ):
        return False
    if any(stored.traits.get(k) != v for k, v in item.traits.items()):
        return False
    domain = _expected_domain(item, keys)
    if domain is not None and (stored.account is None or stored.account.domain != domain):
        return False
    return row.account is None or _account_unchanged(stored, row.account)


def _plan_leads(
    uow: UnitOfWork, file: ImportFile, tally: _Tally, now: datetime, actor: str
) -> _Store:
    claimed: dict[IdentityKey, int] = {}
    keyed: list[tuple[ImportRow, tuple[IdentityKey, ...]]] = []
    for row in file.rows:
        if row.lead is None:
            tally.skipped += 1
            continue
        keys = _keys_of(row, file, tally)
        if keys is not None and _first_claim(row, keys, claimed, file, tally):
            keyed.append((row, keys))
    known = uow.leads.resolve(claimed.keys())
    stored = uow.leads.get_many(set(known.values()))
    changed: list[ImportRow] = []
    for row, keys in keyed:
        ids = {known[key] for key in keys if key in known}
        if not ids:
            tally.created += 1
        elif len(ids) == 1 and _lead_unchanged(stored[ids.pop()], row, keys, known):
            tally.unchanged += 1
            continue
        else:
            tally.updated += 1
        changed.append(row)

    def store(joined: UnitOfWork, progress: Progress) -> None:
        for done, batch in enumerate(_batches(changed)):
            accounts = [row.account for row in batch if row.account is not None]
            if accounts:
                tally.transitions += upsert_accounts(joined, accounts, now=now).transitions
            leads = [row.lead for row in batch if row.lead is not None]
            tally.transitions += upsert_leads(joined, leads, now=now).transitions
            progress(done * BATCH + len(batch), len(changed), "storing leads")

    return store


def _plan_accounts(
    uow: UnitOfWork, file: ImportFile, tally: _Tally, now: datetime, actor: str
) -> _Store:
    claimed: dict[str, int] = {}
    kept: list[AccountIn] = []
    for row in file.rows:
        if row.account is None:
            tally.skipped += 1
            continue
        domain = normalise_domain(row.account.domain)
        if domain in claimed:
            tally.errors.append(
                RowError(
                    row.row,
                    file.columns.get("domain"),
                    row.account.domain,
                    f"same domain as row {claimed[domain]}",
                )
            )
            continue
        claimed[domain] = row.row
        kept.append(row.account)
    existing = uow.accounts.find(claimed.keys())
    # The account repository cannot read an account back, so an existing account is
    # "updated" (its given values written again) even when nothing differs.
    tally.updated = len(existing)
    tally.created = len(kept) - len(existing)

    def store(joined: UnitOfWork, progress: Progress) -> None:
        for done, batch in enumerate(_batches(kept)):
            tally.transitions += upsert_accounts(joined, batch, now=now).transitions
            progress(done * BATCH + len(batch), len(kept), "storing accounts")

    return store


def _plan_touchpoints(
    uow: UnitOfWork, file: ImportFile, tally: _Tally, now: datetime, actor: str
) -> _Store:
    items: list[TouchpointIn] = []
    for row in file.rows:
        if row.touchpoint is None:
            tally.skipped += 1
            continue
        try:
            touchpoint_keys(row.touchpoint)
        except InvalidInput as exc:
            tally.errors.append(RowError(row.row, None, None, str(exc)))
            continue
        items.append(row.touchpoint)
    known = uow.touchpoints.known({item.message_id for item in items})
    fresh: list[TouchpointIn] = []
    for item in items:
        # A message id stored before, or repeated in the file, is the same event again.
        if item.message_id in known:
            tally.unchanged += 1
        else:
            known.add(item.message_id)
            fresh.append(item)
    tally.created = len(fresh)

    def store(joined: UnitOfWork, progress: Progress) -> None:
        for done, batch in enumerate(_batches(fresh)):
            tally.transitions += ingest_touchpoints(joined, batch, now=now).transitions
            progress(done * BATCH + len(batch), len(fresh), "storing touchpoints")

    return store


@dataclass(frozen=True, slots=True)
class _Move:
    row: int
    lead: Lead
    outcome: OutcomeIn
    at: datetime


def _plan_outcomes(
    uow: UnitOfWork, file: ImportFile, tally: _Tally, now: datetime, actor: str
) -> _Store:
    claimed: dict[IdentityKey, int] = {}
    keyed: list[tuple[ImportRow, tuple[IdentityKey, ...]]] = []
    for row in file.rows:
        if row.outcome is None:
            tally.skipped += 1
            continue
        keys = _keys_of(row, file, tally)
        if keys is not None and _first_claim(row, keys, claimed, file, tally):
            keyed.append((row, keys))
    known = uow.leads.resolve(claimed.keys())
    lead_ids = set(known.values())
    # Locked before reading stages so a concurrent decision cannot slip in between.
    uow.leads.lock(lead_ids)
    leads = uow.leads.get_many(lead_ids)
    moves: list[_Move] = []
    first_row_of: dict[int, int] = {}
    for row, keys in keyed:
        outcome = row.outcome
        assert outcome is not None
        # As for touchpoints, the strongest known key decides which lead a row is about.
        key = next((k for k in keys if k in known), None)
        if key is None:
            shown = keys[0]
            tally.errors.append(
                RowError(
                    row.row,
                    file.columns.get(shown.kind.value),
                    shown.value,
                    f"no lead with this {shown.kind.value}; import the leads first",
                )
            )
            continue
        lead = leads[known[key]]
        assert lead.id is not None
        if lead.id in first_row_of:
            tally.errors.append(
                RowError(
                    row.row,
                    file.columns.get(key.kind.value),
                    key.value,
                    f"same lead as row {first_row_of[lead.id]}",
                )
            )
            continue
        first_row_of[lead.id] = row.row
        at = outcome.occurred_at or now
        column = file.columns.get("occurred_at")
        if at > now:
            tally.errors.append(
                RowError(row.row, column, at.isoformat(), "in the future; an outcome has happened")
            )
            continue
        if lead.stage is outcome.stage:
            tally.unchanged += 1
            continue
        if lead.stage_entered_at is not None and at < lead.stage_entered_at:
            # Transitions are read in time order; one dated before the current stage was
            # entered would rewrite history out of order.
            tally.errors.append(
                RowError(
                    row.row,
                    column,
                    at.isoformat(),
                    f"before the lead entered its current stage {lead.stage.value!r} "
                    f"({lead.stage_entered_at.isoformat()})",
                )
            )
            continue
        moves.append(_Move(row.row, lead, outcome, at))
    tally.updated = len(moves)

    def store(joined: UnitOfWork, progress: Progress) -> None:
        _move_stages(joined, file, moves, now, actor, tally)
        progress(len(moves), len(moves), "storing outcomes")

    return store


def _move_stages(
    uow: UnitOfWork,
    file: ImportFile,
    moves: Sequence[_Move],
    now: datetime,
    actor: str,
    tally: _Tally,
) -> None:
    """Record each move as change_stage would: a transition with the score it was decided
    on, the new stage, and the recycle policy's engagement reset."""
    if not moves:
        return
    active = active_model(uow)
    histories = uow.touchpoints.for_leads([m.lead.id for m in moves if m.lead.id is not None])
    resets = active.model.recycle.engagement is RecycleEngagement.RESET
    column = file.columns.get("outcome", "outcome")
    transitions: list[Transition] = []
    changes: list[StageChange] = []
    rescore: list[int] = []
    for move in moves:
        lead, outcome = move.lead, move.outcome
        assert lead.id is not None
        score = qualify(
            lead, histories.get(lead.id, ()), active.model, move.at, model_version=active.version
        ).score
        reason = f"import of {file.name}, row {move.row}: {column} = {outcome.value}"
        if outcome.reason:
            reason += f" ({outcome.reason})"
        transitions.append(
            Transition(
                lead_id=lead.id,
                from_stage=lead.stage,
                to_stage=outcome.stage,
                occurred_at=move.at,
                actor_type=ActorType.API,
                actor=actor,
                reason=reason,
                fit=score.fit,
                engagement=score.engagement,
                total=score.total,
                grade=score.grade.value if score.grade else None,
                model_version=active.version,
                # The CRM's record is the fact: a move outside the table is kept as an
                # override with the import named as its reason.
                override=not allowed(lead.stage, outcome.stage),
            )
        )
        reset_at = lead.engagement_reset_at
        if outcome.stage is Stage.RECYCLED and resets:
            reset_at = move.at
            rescore.append(lead.id)
        changes.append(StageChange(lead.id, outcome.stage, move.at, reset_at))
        tally.stages[outcome.stage.value] = tally.stages.get(outcome.stage.value, 0) + 1
    uow.leads.set_stages(changes, now)
    uow.transitions.add(transitions)
    if rescore:
        # Gates wait for the next touchpoint or refresh, as after a person's decision.
        rescore_leads(uow, rescore, active, now)
    tally.transitions += len(transitions)
