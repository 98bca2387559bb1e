"""Finding (or creating) the lead each incoming message belongs to, merging where one
person turns out to have been two leads.

The policy is the pure ``leadgate.domain.identity_plan.plan_identities``: this use case
loads the facts it needs up front (the same few statements whatever the size of the
batch), plans, then creates, merges and links as planned."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from leadgate.domain.identity import IdentityKey, account_domain_for
from leadgate.domain.identity_plan import (
    IdentityFacts,
    LeadRef,
    NewLead,
    PendingLead,
    plan_identities,
)
from leadgate.domain.leads import Lead
from leadgate.services.errors import ConcurrentUpdate
from leadgate.services.ports import UnitOfWork


@dataclass(frozen=True, slots=True)
class Resolution:
    """Each message's lead id (in order), how many leads were created, and the merges made
    as (merged id, surviving id)."""

    lead_ids: list[int]
    created: int
    merges: list[tuple[int, int]]


def resolve_leads(
    uow: UnitOfWork, keysets: Sequence[tuple[IdentityKey, ...]], now: datetime
) -> Resolution:
    """Given each message's identity keys (strongest first), return the lead of each.

    The strongest key already known decides (email, then user id, CRM id, anonymous id).
    Keys a message carries that are not yet linked are attached to its lead, so an
    anonymous id seen with an email keeps pointing at that lead afterwards.

    When a message ties together keys of two leads (Segment's identify with an
    anonymousId, an alias call), the weaker lead is merged into the stronger one (a lead
    with an email, whichever of the call's ids names it), as long as the weaker has no
    email of its own: an anonymous visitor's touchpoints then count
    on the identified lead at their original times. Two leads that both have an email are
    two people (a shared computer, a forwarded email) and are never merged; the message
    joins the stronger one. For the same reason a new email that arrives with only the
    anonymous (device) id of a lead that has another email is a new lead; with that
    lead's user id it is the same person's new email.
    """
    plan = plan_identities(_facts(uow, keysets))
    new_ids = _create(uow, plan.new_leads, now)

    def lead_id(lead: LeadRef) -> int:
        return new_ids[lead.index] if isinstance(lead, PendingLead) else lead

    merges = [(merged, lead_id(into)) for merged, into in plan.merges]
    if merges:
        uow.leads.lock({id_ for pair in merges for id_ in pair})
        uow.merges.merge(merges, now)
    _link(uow, [(lead_id(lead), key) for lead, key in plan.links], now)
    return Resolution([lead_id(lead) for lead in plan.leads], len(new_ids), merges)


def _facts(uow: UnitOfWork, keysets: Sequence[tuple[IdentityKey, ...]]) -> IdentityFacts:
    """Everything the plan depends on: the lead of every key already linked and whether
    each of those leads has an email. The plan only ever asks about leads that one of the
    batch's keys names, so one query for these leads answers every question it can ask."""
    all_keys = {key for keys in keysets for key in keys}
    known = uow.leads.resolve(all_keys)
    unknown = all_keys - known.keys()
    if unknown:
        # Two requests naming the same new person at once would each create a lead for it,
        # and one would have to start again. Claimed, the second waits for the first to
        # commit and then finds the key linked.
        uow.leads.claim(unknown)
        known.update(uow.leads.resolve(unknown))
    known_leads = uow.leads.get_many(set(known.values())) if known else {}
    with_email = frozenset(
        lead_id for lead_id, lead in known_leads.items() if lead.email is not None
    )
    return IdentityFacts(tuple(keysets), known, with_email)


def _link(uow: UnitOfWork, links: list[tuple[int, IdentityKey]], now: datetime) -> None:
    """Link new keys to their leads, or raise ConcurrentUpdate when another writer linked
    one of them first: its insert wins and ours does nothing, which would leave this
    transaction's lead for the key one that no id leads to. Retried, the key resolves to
    the other writer's lead."""
    if not links:
        return
    uow.leads.add_identities(links, now)
    linked = uow.leads.resolve({key for _, key in links})
    lost = next((key for lead_id, key in links if linked.get(key) != lead_id), None)
    if lost is not None:
        raise ConcurrentUpdate(
            f"{lost.kind.value} {lost.value!r} was linked to another lead at the same time"
        )


def _create(uow: UnitOfWork, new_leads: Sequence[NewLead], now: datetime) -> list[int]:
    """Create the planned leads, each attached to its email's account."""
    if not new_leads:
        return []
    domains = {d for new in new_leads if new.email and (d := account_domain_for(new.email))}
    account_ids = uow.accounts.ensure(domains, now) if domains else {}
    leads = []
    for new in new_leads:
        domain = account_domain_for(new.email) if new.email else None
        leads.append(Lead(email=new.email, account_id=account_ids.get(domain) if domain else None))
    return uow.leads.create(leads, now)
