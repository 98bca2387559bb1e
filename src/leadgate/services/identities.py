"""Finding (or creating) the lead each incoming message belongs to."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from leadgate.domain.identity import IdentityKey, IdentityKind, account_domain_for
from leadgate.domain.leads import Lead
from leadgate.services.ports import UnitOfWork


def resolve_leads(
    uow: UnitOfWork, keysets: Sequence[tuple[IdentityKey, ...]], now: datetime
) -> tuple[list[int], int]:
    """Given each message's identity keys, return each message's lead id and how many leads
    were created.

    The strongest key already known decides (email, then user id, CRM id, anonymous id).
    Unknown messages that share a key become one new lead. Keys a message carries that are
    not yet linked are attached to its lead, so an anonymous id seen with an email keeps
    pointing at that lead afterwards. Leads are never merged here: a message whose keys
    point at two leads joins the stronger one.
    """
    all_keys = {key for keys in keysets for key in keys}
    known = uow.leads.resolve(all_keys)

    # Group unknown messages into new leads: the first key of a message that an earlier
    # pending lead already claimed joins it.
    pending_of: dict[IdentityKey, int] = {}
    pending: list[list[IdentityKey]] = []
    owner: list[tuple[str, int]] = []  # ("known", lead id) or ("new", pending index)
    for message_keys in keysets:
        lead_id = next((known[k] for k in message_keys if k in known), None)
        if lead_id is not None:
            owner.append(("known", lead_id))
            continue
        index = next((pending_of[k] for k in message_keys if k in pending_of), None)
        if index is None:
            index = len(pending)
            pending.append([])
        for key in message_keys:
            if key not in pending_of:
                pending_of[key] = index
                pending[index].append(key)
        owner.append(("new", index))

    new_ids: list[int] = []
    if pending:
        domains = {
            domain
            for keys in pending
            for key in keys
            if key.kind is IdentityKind.EMAIL and (domain := account_domain_for(key.value))
        }
        account_ids = uow.accounts.ensure(domains, now) if domains else {}
        new_leads = []
        for new_keys in pending:
            email = next((k.value for k in new_keys if k.kind is IdentityKind.EMAIL), None)
            domain = account_domain_for(email) if email else None
            new_leads.append(
                Lead(email=email, account_id=account_ids.get(domain) if domain else None)
            )
        new_ids = uow.leads.create(new_leads, now)

    links: list[tuple[int, IdentityKey]] = []
    linked: set[IdentityKey] = set(known)
    for index, new_keys in enumerate(pending):
        links.extend((new_ids[index], key) for key in new_keys)
        linked.update(new_keys)
    lead_ids: list[int] = []
    for keys, (kind, value) in zip(keysets, owner, strict=True):
        lead_id = value if kind == "known" else new_ids[value]
        lead_ids.append(lead_id)
        for key in keys:
            if key not in linked:
                links.append((lead_id, key))
                linked.add(key)
    uow.leads.add_identities(links, now)
    return lead_ids, len(new_ids)
