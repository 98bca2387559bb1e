"""Creating and updating what leadgate knows about accounts and leads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from leadgate.domain.accounts import Account
from leadgate.domain.errors import InvalidIdentity
from leadgate.domain.identity import account_domain_for, identity_keys, normalise_domain
from leadgate.domain.leads import Lead
from leadgate.services.commands import AccountIn, LeadIn
from leadgate.services.errors import InvalidInput, LeadNotFound
from leadgate.services.handlers import handle
from leadgate.services.identities import resolve_leads
from leadgate.services.ports import UnitOfWork
from leadgate.services.qualification import active_model, qualify_leads


@dataclass(frozen=True, slots=True)
class UpsertResult:
    """``ids`` are in the order of the items given."""

    received: int
    created: int
    ids: tuple[int, ...]
    transitions: int = 0


def _domain(raw: str, where: str) -> str:
    try:
        return normalise_domain(raw)
    except InvalidIdentity as exc:
        raise InvalidInput(f"{where}: domain: {exc}") from None


def account_from(item: AccountIn, where: str) -> Account:
    """Given a command, return the account it describes (``where`` names it in errors)."""
    return Account(
        domain=_domain(item.domain, where),
        name=item.name,
        industry=item.industry,
        employees=item.employees,
        annual_revenue=item.annual_revenue,
        country=item.country,
        region=item.region,
        technographics=list(item.technographics),
        owner=item.owner,
        traits=dict(item.traits),
    )


def lead_profile(item: LeadIn, lead_id: int, email: str | None, account_id: int | None) -> Lead:
    """Given a command and what resolution found, return the profile to write."""
    return Lead(
        id=lead_id,
        email=email,
        first_name=item.first_name,
        last_name=item.last_name,
        title=item.title,
        seniority=item.seniority,
        department=item.department,
        persona=item.persona,
        source_channel=item.source_channel,
        source_campaign=item.source_campaign,
        country=item.country,
        owner=item.owner,
        account_id=account_id,
        traits=dict(item.traits),
    )


def upsert_accounts(uow: UnitOfWork, items: Sequence[AccountIn], *, now: datetime) -> UpsertResult:
    """Create or update accounts by domain; their leads are rescored since fit may change."""
    accounts = [account_from(item, f"account {position}") for position, item in enumerate(items)]
    with uow:
        active = active_model(uow)
        existing = uow.accounts.find({a.domain for a in accounts})
        ids = uow.accounts.upsert(accounts, now)
        lead_ids = uow.leads.ids_for_accounts(set(ids.values()))
        uow.leads.lock(lead_ids)
        stats = qualify_leads(uow, lead_ids, active, now)
        handle(uow, stats.events, active, now)
        uow.commit()
    created = len({a.domain for a in accounts} - existing.keys())
    return UpsertResult(
        len(items), created, tuple(ids[a.domain] for a in accounts), stats.transitions
    )


def upsert_leads(uow: UnitOfWork, items: Sequence[LeadIn], *, now: datetime) -> UpsertResult:
    """Create or update leads by their identity (email, CRM id, user id), then rescore them."""
    keysets = []
    for position, item in enumerate(items):
        try:
            keys = identity_keys(
                email=item.email, user_id=item.user_id, external_id=item.external_id
            )
        except InvalidIdentity as exc:
            raise InvalidInput(f"lead {position}: email: {exc}") from None
        if not keys:
            raise InvalidInput(f"lead {position}: give an email, external_id or user_id")
        keysets.append(keys)
    domains = {
        position: _domain(item.account_domain, f"lead {position}: account_domain")
        for position, item in enumerate(items)
        if item.account_domain
    }
    with uow:
        active = active_model(uow)
        resolution = resolve_leads(uow, keysets, now)
        lead_ids, created = resolution.lead_ids, resolution.created
        wanted = set(domains.values())
        for keys in keysets:
            email = next((k.value for k in keys if k.kind.value == "email"), None)
            if email and (domain := account_domain_for(email)):
                wanted.add(domain)
        account_ids = uow.accounts.ensure(wanted, now) if wanted else {}
        uow.leads.lock(lead_ids)
        profiles = []
        for position, (item, lead_id) in enumerate(zip(items, lead_ids, strict=True)):
            email = next((k.value for k in keysets[position] if k.kind.value == "email"), None)
            domain = domains.get(position) or (account_domain_for(email) if email else None)
            profiles.append(
                lead_profile(item, lead_id, email, account_ids.get(domain) if domain else None)
            )
        uow.leads.update_profiles(profiles, now)
        stats = qualify_leads(uow, set(lead_ids), active, now)
        handle(uow, stats.events, active, now)
        uow.commit()
    return UpsertResult(len(items), created, tuple(lead_ids), stats.transitions)


def update_lead(uow: UnitOfWork, lead_id: int, item: LeadIn, *, now: datetime) -> None:
    """Overwrite the profile fields ``item`` gives (None leaves one as it is) of one lead,
    attach it to ``item.account_domain`` if given, and rescore it.

    Identities (email, external and user ids) are not changed here: they decide which lead
    a message belongs to, so they change through ``upsert_leads``, which resolves and merges.
    """
    if item.email is not None or item.external_id is not None or item.user_id is not None:
        raise InvalidInput(f"lead {lead_id}: identities cannot be changed by an update")
    domain = None
    if item.account_domain:
        try:
            domain = normalise_domain(item.account_domain)
        except InvalidIdentity as exc:
            raise InvalidInput(f"lead {lead_id}: account_domain: {exc}") from None
    with uow:
        active = active_model(uow)
        uow.leads.lock([lead_id])
        if lead_id not in uow.leads.get_many([lead_id]):
            raise LeadNotFound(lead_id)
        account_id = uow.accounts.ensure({domain}, now)[domain] if domain else None
        uow.leads.update_profiles([lead_profile(item, lead_id, None, account_id)], now)
        handle(uow, qualify_leads(uow, [lead_id], active, now).events, active, now)
        uow.commit()
