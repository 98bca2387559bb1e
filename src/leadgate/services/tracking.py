"""Recording what tracking clients send: identify, group, alias, track, page, screen.

One batch is one transaction: identities are resolved (and leads merged where a call ties
two together), traits land on leads and accounts, events are appended as touchpoints,
and every lead whose fit or engagement may have changed is requalified.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from leadgate.domain.identity import IdentityKind, account_domain_for
from leadgate.services.commands import LeadIn, TrackedCall
from leadgate.services.identities import resolve_leads
from leadgate.services.ingest import stored_rows
from leadgate.services.ports import UnitOfWork
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


def record_calls(uow: UnitOfWork, calls: Sequence[TrackedCall], *, now: datetime) -> TrackResult:
    """Store a batch of already-validated calls in one transaction; see the module doc."""
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
        )
        stored = uow.touchpoints.add(rows)

        # A group call changes firmographics, and with them every colleague's fit.
        if accounts:
            colleagues = set(uow.leads.ids_for_accounts({account_ids[a.domain] for a in accounts}))
            uow.leads.lock(colleagues - touched)
            touched |= colleagues
        stats = qualify_leads(uow, touched, active, now)
        uow.commit()
    return TrackResult(
        received=len(calls),
        stored=stored,
        duplicates=duplicates,
        leads_created=resolution.created,
        leads_merged=len(resolution.merges),
        leads_rescored=stats.rescored,
        transitions=stats.transitions,
    )
