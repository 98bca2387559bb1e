"""Finding (or creating) the lead each incoming message belongs to, merging where one
person turns out to have been two leads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from leadgate.domain.identity import IdentityKey, IdentityKind, account_domain_for
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


class _Groups:
    """Union-find over the leads a batch mentions: known lead ids and pending new leads
    (negative numbers), so that chains of links inside one batch end on one lead."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, node: int) -> int:
        root = node
        while (up := self.parent.get(root, root)) != root:
            root = up
        while node != root:  # path compression
            self.parent[node], node = root, self.parent.get(node, node)
        return root

    def join(self, node: int, into: int) -> None:
        a, b = self.find(node), self.find(into)
        if a != b:
            self.parent[a] = b


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
    all_keys = {key for keys in keysets for key in keys}
    known = uow.leads.resolve(all_keys)
    unknown = all_keys - known.keys()
    if unknown:
        # Two requests naming the same new person at once would each create a lead for it,
        # and one would have to start again. Claimed, the second waits for the first to
        # commit and then finds the key linked.
        uow.leads.claim(unknown)
        known.update(uow.leads.resolve(unknown))

    groups = _Groups()
    claimed: dict[IdentityKey, int] = dict(known)  # key -> node (lead id or pending < 0)
    pending_keys: dict[int, list[IdentityKey]] = {}
    # Whether each known lead has an email decides merges; one query instead of one each.
    known_leads = uow.leads.get_many(set(known.values())) if known else {}
    with_email: dict[int, bool] = {
        lead_id: known_leads.get(lead_id) is not None and known_leads[lead_id].email is not None
        for lead_id in set(known.values())
    }
    message_nodes: list[int] = []
    for message_keys in keysets:
        nodes = _nodes(uow, message_keys, claimed, groups, with_email, pending_keys)
        target = nodes[0]
        if target < 0:
            # A new key (say, the email of an identify call) joins an existing anonymous
            # lead rather than creating a lead and moving the old one's history into it.
            host = next(
                (
                    n
                    for n in nodes[1:]
                    if n > 0 and _mergeable(uow, n, with_email, pending_keys, groups)
                ),
                None,
            )
            if host is not None:
                if not _mergeable(uow, target, with_email, pending_keys, groups):
                    with_email[host] = True
                groups.join(target, host)
                target = host
        for other in nodes[1:]:
            if groups.find(other) != target and _mergeable(
                uow, other, with_email, pending_keys, groups
            ):
                groups.join(other, target)
        for key in message_keys:
            if key not in claimed:
                claimed[key] = target
                if target < 0:
                    pending_keys[target].append(key)
                elif key.kind is IdentityKind.EMAIL:
                    # Known from here on, so a second email in the batch does not join.
                    with_email[target] = True
        message_nodes.append(target)

    # Pending groups that joined a known lead need no lead of their own.
    roots = {node: groups.find(node) for node in pending_keys}
    new_groups = [node for node, root in roots.items() if root == node]
    keys_of: dict[int, list[IdentityKey]] = {}
    for node, keys in pending_keys.items():
        keys_of.setdefault(roots[node], []).extend(keys)
    new_ids = _create(uow, [keys_of[node] for node in new_groups], now)
    lead_of_pending = dict(zip(new_groups, new_ids, strict=True))

    def final(node: int) -> int:
        root = groups.find(node)
        return lead_of_pending[root] if root < 0 else root

    merges = [
        (lead_id, final(lead_id))
        for lead_id in sorted(set(known.values()))
        if final(lead_id) != lead_id
    ]
    if merges:
        uow.leads.lock({id_ for pair in merges for id_ in pair})
        uow.merges.merge(merges, now)
    # Keys already known moved with their lead if it was merged; new keys are linked now.
    _link(uow, [(final(node), key) for key, node in claimed.items() if key not in known], now)
    return Resolution([final(node) for node in message_nodes], len(new_ids), merges)


def _nodes(
    uow: UnitOfWork,
    message_keys: tuple[IdentityKey, ...],
    claimed: dict[IdentityKey, int],
    groups: _Groups,
    with_email: dict[int, bool],
    pending_keys: dict[int, list[IdentityKey]],
) -> list[int]:
    """The leads (and pending groups) a message's keys name, the one it joins first."""
    nodes: list[int] = []
    for key in message_keys:
        if key in claimed and (node := groups.find(claimed[key])) not in nodes:
            nodes.append(node)
    email = next((k for k in message_keys if k.kind is IdentityKind.EMAIL), None)
    new_email = email is not None and email not in claimed
    deciding = next((k for k in message_keys if k in claimed), None)
    if (
        new_email
        and deciding is not None
        and deciding.kind is IdentityKind.ANONYMOUS_ID
        and not _mergeable(uow, nodes[0], with_email, pending_keys, groups)
    ):
        # A device id of someone with another email (a shared laptop, a kiosk): this
        # email is a new person, who takes only the ids nobody has yet. (With a user
        # id, the same person has changed their email: the lead gains the new one.)
        nodes.insert(0, _new_pending(pending_keys))
    if not nodes:
        nodes.append(_new_pending(pending_keys))
    if not new_email and _mergeable(uow, nodes[0], with_email, pending_keys, groups):
        # The first id may be the anonymous one (PostHog's $create_alias names the
        # previous id first): the lead with an email survives wherever it is named.
        holder = next(
            (n for n in nodes[1:] if not _mergeable(uow, n, with_email, pending_keys, groups)),
            None,
        )
        if holder is not None:
            nodes.remove(holder)
            nodes.insert(0, holder)
    return nodes


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


def _new_pending(pending_keys: dict[int, list[IdentityKey]]) -> int:
    node = -(len(pending_keys) + 1)
    pending_keys[node] = []
    return node


def _mergeable(
    uow: UnitOfWork,
    node: int,
    with_email: dict[int, bool],
    pending_keys: dict[int, list[IdentityKey]],
    groups: _Groups,
) -> bool:
    """A lead (or pending group) may be merged into another when it has no email."""
    if node < 0:
        return not any(
            k.kind is IdentityKind.EMAIL
            for n, keys in pending_keys.items()
            if groups.find(n) == node
            for k in keys
        )
    if node not in with_email:
        lead = uow.leads.get_many([node]).get(node)
        with_email[node] = lead is not None and lead.email is not None
    return not with_email[node]


def _create(uow: UnitOfWork, groups: list[list[IdentityKey]], now: datetime) -> list[int]:
    """Create one lead per group of keys, attached to its email's account."""
    if not groups:
        return []
    emails = [
        next((k.value for k in keys if k.kind is IdentityKind.EMAIL), None) for keys in groups
    ]
    domains = {d for e in emails if e and (d := account_domain_for(e))}
    account_ids = uow.accounts.ensure(domains, now) if domains else {}
    leads = []
    for email in emails:
        domain = account_domain_for(email) if email else None
        leads.append(Lead(email=email, account_id=account_ids.get(domain) if domain else None))
    return uow.leads.create(leads, now)
