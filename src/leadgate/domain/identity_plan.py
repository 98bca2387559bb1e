"""Identity resolution as a pure function: the facts a batch needs in, a plan out.

``plan_identities`` decides which lead each message of a batch belongs to, which new leads
to create, which leads to merge and which keys to link, from facts the caller loads
beforehand (which lead each key already points at, which of those leads have an email).
The caller then carries the plan out in one transaction: it creates the new leads, merges,
and links. Nothing here reads or writes storage, so the policy is tested in milliseconds.

The policy:

- The strongest key already known decides (email, then user id, CRM id, anonymous id).
  Keys a message carries that are not yet linked are attached to its lead, so an
  anonymous id seen with an email keeps pointing at that lead afterwards.
- When a message ties together keys of two leads (Segment's identify with an anonymousId,
  an alias call), the weaker lead is merged into the stronger one (a lead with an email,
  whichever of the call's ids names it), as long as the weaker has no email of its own.
- Two leads that both have an email are two people (a shared computer, a forwarded email)
  and are never merged; the message joins the stronger one.
- For the same reason a new email that arrives with only the anonymous (device) id of a
  lead that has another email is a new lead; with that lead's user id it is the same
  person's new email.
- Chains of links inside one batch end on one lead: new keys are grouped before any lead
  exists, so a batch that names a person three ways creates one lead, not three merged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TypeAlias

from leadgate.domain.identity import IdentityKey, IdentityKind


@dataclass(frozen=True, slots=True)
class IdentityFacts:
    """What identity resolution knows before it decides.

    ``messages`` holds each message's keys, strongest first; ``known`` the lead id of
    every key already linked; ``with_email`` which of those leads have an email.

    Example: a known anonymous visitor (lead 7) identifying with a new email,
    ``IdentityFacts(messages=((ann, cookie),), known={cookie: 7}, with_email=frozenset())``
    with ``ann = IdentityKey(IdentityKind.EMAIL, "ann@acme.io")`` and
    ``cookie = IdentityKey(IdentityKind.ANONYMOUS_ID, "a-1")``, is planned as lead 7 for
    the message, nothing created or merged, and the email linked to lead 7.
    """

    messages: tuple[tuple[IdentityKey, ...], ...]
    known: Mapping[IdentityKey, int]
    with_email: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "messages", tuple(tuple(keys) for keys in self.messages))
        object.__setattr__(self, "known", MappingProxyType(dict(self.known)))
        object.__setattr__(self, "with_email", frozenset(self.with_email))


@dataclass(frozen=True, slots=True)
class PendingLead:
    """The ``index``-th of a plan's new leads, which has no id until it is created."""

    index: int


LeadRef: TypeAlias = int | PendingLead
"""A lead in a plan: an existing lead's id, or a new lead to create."""


@dataclass(frozen=True, slots=True)
class NewLead:
    """A lead to create: the keys it is found by, and its email (the first email key)."""

    keys: tuple[IdentityKey, ...]
    email: str | None


@dataclass(frozen=True, slots=True)
class IdentityPlan:
    """What to do for a batch: the lead of each message (in order), the leads to create
    (``PendingLead(i)`` is ``new_leads[i]``), the merges as (merged id, surviving lead),
    and the keys to link to a lead (keys already known move with their lead instead).

    Example: for a new email and a new anonymous id in one message,
    ``IdentityPlan(leads=(PendingLead(0),), new_leads=(NewLead((ann, cookie), "ann@acme.io"),),
    merges=(), links=((PendingLead(0), ann), (PendingLead(0), cookie)))``.
    """

    leads: tuple[LeadRef, ...]
    new_leads: tuple[NewLead, ...]
    merges: tuple[tuple[int, LeadRef], ...]
    links: tuple[tuple[LeadRef, IdentityKey], ...]


def plan_identities(facts: IdentityFacts) -> IdentityPlan:
    """Given what is known about a batch's keys, return the lead of each message, the
    leads to create, the merges and the new links (the policy is in the module docstring).

    Deterministic: the same facts give the same plan, whatever order ``known`` is in.
    """
    planner = _Planner(facts)
    targets = [planner.place(keys) for keys in facts.messages]
    return planner.plan(targets)


@dataclass(frozen=True, slots=True)
class _Pending:
    """A group of new keys that will become a lead unless it joins a known one."""

    number: int


# A lead the batch mentions: a known lead id or a pending group.
_Node: TypeAlias = int | _Pending


class _Groups:
    """Union-find over the leads a batch mentions, so that chains of links inside one
    batch end on one lead."""

    def __init__(self) -> None:
        self.parent: dict[_Node, _Node] = {}

    def find(self, node: _Node) -> _Node:
        root = node
        while (up := self.parent.get(root, root)) != root:
            root = up
        while node != root:  # path compression
            self.parent[node], node = root, self.parent.get(node, node)
        return root

    def join(self, node: _Node, into: _Node) -> None:
        a, b = self.find(node), self.find(into)
        if a != b:
            self.parent[a] = b


class _Planner:
    """The state of planning one batch, message by message: which node each key is
    claimed by and which nodes (roots of their groups) have an email by now."""

    def __init__(self, facts: IdentityFacts) -> None:
        self.known = facts.known
        self.groups = _Groups()
        self.claimed: dict[IdentityKey, _Node] = dict(facts.known)
        self.pending_keys: dict[_Pending, list[IdentityKey]] = {}
        # Only roots of groups are ever asked (and flagged): a group joins another only
        # when it has no email, or, pending, by handing its email on to the lead it joins.
        self.emailed: set[_Node] = {
            lead_id for lead_id in set(facts.known.values()) if lead_id in facts.with_email
        }

    def mergeable(self, node: _Node) -> bool:
        """A lead (or pending group) may be merged into another when it has no email."""
        return node not in self.emailed

    def new_pending(self) -> _Pending:
        node = _Pending(len(self.pending_keys))
        self.pending_keys[node] = []
        return node

    def place(self, message_keys: tuple[IdentityKey, ...]) -> _Node:
        """Given a message's keys, return the node it belongs to, joining the nodes it
        ties together and claiming its new keys for that node."""
        nodes = self.named(message_keys)
        target = nodes[0]
        if isinstance(target, _Pending):
            # A new key (say, the email of an identify call) joins an existing anonymous
            # lead rather than creating a lead and moving the old one's history into it.
            host = next((n for n in nodes[1:] if isinstance(n, int) and self.mergeable(n)), None)
            if host is not None:
                if not self.mergeable(target):
                    self.emailed.add(host)
                self.groups.join(target, host)
                target = host
        for other in nodes[1:]:
            if self.groups.find(other) != target and self.mergeable(other):
                self.groups.join(other, target)
        for key in message_keys:
            if key not in self.claimed:
                self.claimed[key] = target
                if isinstance(target, _Pending):
                    self.pending_keys[target].append(key)
                if key.kind is IdentityKind.EMAIL:
                    # Known from here on, so a second email in the batch does not join.
                    self.emailed.add(target)
        return target

    def named(self, message_keys: tuple[IdentityKey, ...]) -> list[_Node]:
        """The nodes a message's keys name, the one it joins first."""
        nodes: list[_Node] = []
        for key in message_keys:
            if key in self.claimed and (node := self.groups.find(self.claimed[key])) not in nodes:
                nodes.append(node)
        email = next((k for k in message_keys if k.kind is IdentityKind.EMAIL), None)
        new_email = email is not None and email not in self.claimed
        deciding = next((k for k in message_keys if k in self.claimed), None)
        if (
            new_email
            and deciding is not None
            and deciding.kind is IdentityKind.ANONYMOUS_ID
            and not self.mergeable(nodes[0])
        ):
            # A device id of someone with another email (a shared laptop, a kiosk): this
            # email is a new person, who takes only the ids nobody has yet. (With a user
            # id, the same person has changed their email: the lead gains the new one.)
            nodes.insert(0, self.new_pending())
        if not nodes:
            nodes.append(self.new_pending())
        if not new_email and self.mergeable(nodes[0]):
            # The first id may be the anonymous one (PostHog's $create_alias names the
            # previous id first): the lead with an email survives wherever it is named.
            holder = next((n for n in nodes[1:] if not self.mergeable(n)), None)
            if holder is not None:
                nodes.remove(holder)
                nodes.insert(0, holder)
        return nodes

    def plan(self, targets: Sequence[_Node]) -> IdentityPlan:
        """The plan once every message is placed: pending groups that joined a known lead
        need no lead of their own; the others become the new leads, in order."""
        roots = {node: self.groups.find(node) for node in self.pending_keys}
        keys_of: dict[_Pending, list[IdentityKey]] = {}
        for node, keys in self.pending_keys.items():
            root = roots[node]
            if isinstance(root, _Pending):
                keys_of.setdefault(root, []).extend(keys)
        new_groups = [node for node, root in roots.items() if root == node]
        pending_lead = {node: PendingLead(i) for i, node in enumerate(new_groups)}

        def final(node: _Node) -> LeadRef:
            root = self.groups.find(node)
            return pending_lead[root] if isinstance(root, _Pending) else root

        merges = tuple(
            (lead_id, final(lead_id))
            for lead_id in sorted(set(self.known.values()))
            if final(lead_id) != lead_id
        )
        # Keys already known moved with their lead if it was merged; new keys are linked.
        links = tuple(
            (final(node), key) for key, node in self.claimed.items() if key not in self.known
        )
        return IdentityPlan(
            leads=tuple(final(node) for node in targets),
            new_leads=tuple(_new_lead(keys_of[node]) for node in new_groups),
            merges=merges,
            links=links,
        )


def _new_lead(keys: list[IdentityKey]) -> NewLead:
    email = next((k.value for k in keys if k.kind is IdentityKind.EMAIL), None)
    return NewLead(tuple(keys), email)
