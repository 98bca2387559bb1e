"""Recording what tracking clients send: identify, group, alias, track, page, screen.

One batch is one transaction: identities are resolved (and leads merged where a call ties
two together), traits land on leads and accounts, events are appended as touchpoints,
and every lead whose fit or engagement may have changed is requalified.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from leadgate.domain.identity import IdentityKind, account_domain_for
from leadgate.domain.touchpoints import Touchpoint, classify
from leadgate.services.commands import LeadIn, TouchpointIn, TrackedCall
from leadgate.services.errors import ConcurrentUpdate
from leadgate.services.handlers import handle
from leadgate.services.identities import resolve_leads
from leadgate.services.ports import ModelVersion, StoredTouchpoint, UnitOfWork
from leadgate.services.profiles import account_from, lead_profile
from leadgate.services.qualification import active_model, qualify_leads

# A call that names an account but sets no traits still links the lead to it.
_NO_TRAITS = LeadIn()


@dataclass(frozen=True, slots=True)
class TrackResult:
    """What one batch of calls did. ``duplicates`` are events whose message id was stored
    before (a client's retry) or repeated in the batch."""

    received: int
    stored: int
    duplicates: int
    leads_created: int
    leads_merged: int
    leads_rescored: int
    transitions: int
    lead_ids: tuple[int, ...] = field(default=(), repr=False)  # the leads touched, ascending


def record_calls(
    uow: UnitOfWork,
    calls: Sequence[TrackedCall],
    *,
    now: datetime,
    handlers: bool = True,
    received: Mapping[str, datetime] | None = None,
) -> TrackResult:
    """Store a batch of already-validated calls in one transaction; see the module doc.

    This is the one ingestion pipeline: tracking endpoints, ``leadgate ingest`` and CSV
    touchpoint imports all end here. ``handlers=False`` (a backfill) stores and scores
    without alerts or handoffs. ``received`` gives touchpoints, by message id, the time
    their request arrived when that was before ``now`` (the inbox's qualifier runs many
    requests at once); without it every touchpoint was received ``now``."""
    with uow:
        active = active_model(uow)
        # An event seen before is skipped whole: the retry of a batch changes nothing.
        seen = uow.touchpoints.known({c.message_id for c in calls if c.touchpoint})
        kept: list[TrackedCall] = []
        for call in calls:
            if call.touchpoint is not None:
                if call.message_id in seen:
                    continue
                seen.add(call.message_id)
            kept.append(call)
        duplicates = sum(1 for c in calls if c.touchpoint) - sum(1 for c in kept if c.touchpoint)

        # Calls about a company alone (PostHog's $groupidentify) name no person.
        accounts_only = [c for c in kept if not c.keys]
        kept = [c for c in kept if c.keys]
        resolution = resolve_leads(uow, [c.keys for c in kept], now)
        touched = set(resolution.lead_ids)
        uow.leads.lock(touched)

        # Accounts named by group calls, then the leads' own account from their email.
        accounts = [
            account_from(c.account, f"message {c.message_id}")
            for c in (*accounts_only, *kept)
            if c.account
        ]
        account_ids = uow.accounts.upsert(accounts, now) if accounts else {}
        email_of = {
            lead_id: key.value
            for call, lead_id in zip(kept, resolution.lead_ids, strict=True)
            for key in call.keys
            if key.kind is IdentityKind.EMAIL
        }
        domains = {d for e in email_of.values() if (d := account_domain_for(e))}
        email_accounts = uow.accounts.ensure(domains - account_ids.keys(), now) if domains else {}
        account_ids = {**email_accounts, **account_ids}

        profiles = []
        for call, lead_id in zip(kept, resolution.lead_ids, strict=True):
            if call.lead is None and call.account is None:
                continue
            email = email_of.get(lead_id)
            domain = (
                account_from(call.account, "").domain
                if call.account
                else (account_domain_for(email) if email else None)
            )
            profile = call.lead or _NO_TRAITS
            profiles.append(
                lead_profile(profile, lead_id, email, account_ids.get(domain) if domain else None)
            )
        uow.leads.update_profiles(profiles, now)

        rows = stored_rows(
            active,
            [
                (c.touchpoint, lead_id)
                for c, lead_id in zip(kept, resolution.lead_ids, strict=True)
                if c.touchpoint is not None
            ],
            now,
            received,
        )
        # A writer that stored one of these message ids for the same lead held the lead's
        # lock until it committed; asked again now, it is known (and not folded twice).
        if late := uow.touchpoints.known({row.touchpoint.message_id for row in rows}):
            rows = [row for row in rows if row.touchpoint.message_id not in late]
            duplicates += len(late)
        stored = uow.touchpoints.add(rows)
        if stored != len(rows):
            # Stored at the same time for another lead (no lock in common): retried, the
            # batch finds it known and never counts it twice.
            raise ConcurrentUpdate("a touchpoint of this batch was stored at the same time")
        added: dict[int, list[Touchpoint]] = {}
        for row in rows:
            added.setdefault(row.lead_id, []).append(row.touchpoint)

        # A group call changes firmographics, and with them every colleague's fit.
        if accounts:
            colleagues = set(uow.leads.ids_for_accounts({account_ids[a.domain] for a in accounts}))
            uow.leads.lock(colleagues - touched)
            touched |= colleagues
        stats = qualify_leads(uow, touched, active, now, added=added)
        if handlers:
            handle(uow, stats.events, active, now)
        uow.commit()
    return TrackResult(
        received=len(calls),
        stored=stored,
        duplicates=duplicates,
        leads_created=resolution.created,
        leads_merged=len(resolution.merges),
        leads_rescored=stats.rescored,
        transitions=stats.transitions,
        lead_ids=tuple(sorted(set(resolution.lead_ids))),
    )


def stored_rows(
    active: ModelVersion,
    items: Sequence[tuple[TouchpointIn, int]],
    now: datetime,
    received: Mapping[str, datetime] | None = None,
) -> list[StoredTouchpoint]:
    """Given incoming touchpoints and their leads, return the rows to append: named by the
    model's alias table, page views categorised by its URL patterns, times in UTC,
    received ``now`` unless ``received`` has an earlier time for the message id."""
    model = active.model
    received = received or {}
    rows = []
    for item, lead_id in items:
        name, properties = classify(
            item.name, item.properties, model.aliases, model.page_categories
        )
        rows.append(
            StoredTouchpoint(
                Touchpoint(
                    item.message_id, name, item.occurred_at.astimezone(UTC), properties, lead_id
                ),
                lead_id,
                item.name,
                received.get(item.message_id, now),
            )
        )
    return rows
