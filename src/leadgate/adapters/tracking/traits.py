"""Traits as tracking clients send them, mapped onto leadgate's lead and account fields.

Names are matched in snake_case, so ``firstName``, ``first_name`` and ``First Name`` all
land on ``first_name``. Anything not recognised is kept as a custom trait (snake_case), so
rules can still read it as ``traits.<name>`` or ``account.<name>``.
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import Table

from leadgate.adapters.db import tables
from leadgate.adapters.tracking.payload import (
    MAX_DOMAIN_CHARS,
    MAX_EMAIL_CHARS,
    Rejected,
    bounded,
    snake,
    text,
)
from leadgate.domain.errors import InvalidIdentity
from leadgate.domain.identity import normalise_domain
from leadgate.services.commands import AccountIn, LeadIn

_LEAD_FIELDS = {
    "first_name": "first_name",
    "firstname": "first_name",
    "last_name": "last_name",
    "lastname": "last_name",
    "title": "title",
    "job_title": "title",
    "seniority": "seniority",
    "department": "department",
    "persona": "persona",
    "country": "country",
    "source": "source_channel",
    "source_channel": "source_channel",
    "lead_source": "source_channel",
    "campaign": "source_campaign",
    "source_campaign": "source_campaign",
    "owner": "owner",
}

_ACCOUNT_TEXT = {
    "name": "name",
    "company_name": "name",
    "industry": "industry",
    "country": "country",
    "region": "region",
    "owner": "owner",
}
_ACCOUNT_DOMAIN = ("domain", "website", "company_domain", "url")
_ACCOUNT_EMPLOYEES = ("employees", "employee_count", "number_of_employees", "num_employees")
_ACCOUNT_REVENUE = ("annual_revenue", "revenue")
_ACCOUNT_TECH = ("technographics", "technologies", "tech_stack")
# The employees column is a 32-bit integer on PostgreSQL.
_MAX_EMPLOYEES = 2**31 - 1
# Never stored as traits: they are identities, or already mapped above.
_SKIP = {"email", "id", "user_id", "anonymous_id", "name", "address", "company"}


def email_of(traits: dict[str, Any], where: str = "traits") -> str | None:
    return bounded(text(traits.get("email")), f"{where}.email", MAX_EMAIL_CHARS, "invalid_email")


def _check_lengths(fields: dict[str, Any], table: Table, where: str) -> None:
    """Refuse a text longer than its column holds, naming the field."""
    for name, value in fields.items():
        limit = getattr(table.c[name].type, "length", None)
        if isinstance(value, str) and limit is not None:
            bounded(value, f"{where}.{name}", limit, "invalid_trait")


def lead_from_traits(
    traits: dict[str, Any], where: str = "traits"
) -> tuple[LeadIn, AccountIn | None]:
    """Given identify traits, return the lead profile and the company they name, if any."""
    fields: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    for raw, value in traits.items():
        name = snake(str(raw))
        if name in _LEAD_FIELDS:
            if (val := text(value)) is not None:
                fields[_LEAD_FIELDS[name]] = val
        elif name not in _SKIP and value is not None:
            custom[name] = value
    full = text(traits.get("name"))
    if full and "first_name" not in fields and "last_name" not in fields:
        first, _, last = full.partition(" ")
        fields["first_name"] = first
        if last:
            fields["last_name"] = last.strip()
    address = traits.get("address")
    if isinstance(address, dict) and "country" not in fields and text(address.get("country")):
        fields["country"] = text(address.get("country"))
    account = None
    company = traits.get("company")
    if isinstance(company, dict):
        account = account_from_traits(company, "traits.company", required=False)
    elif (company_name := text(company)) is not None:
        custom["company"] = company_name
    _check_lengths(fields, tables.leads, where)
    return LeadIn(**fields, traits=custom), account


def account_from_traits(
    traits: dict[str, Any], where: str, *, fallback_domain: str | None = None, required: bool = True
) -> AccountIn | None:
    """Given group traits, return the account; leadgate keys accounts by web domain, so one
    of domain/website (or a group id that is a domain) is needed."""
    by_name = {snake(str(k)): v for k, v in traits.items()}
    domain = next((text(by_name[k]) for k in _ACCOUNT_DOMAIN if text(by_name.get(k))), None)
    domain = domain or (fallback_domain if fallback_domain and "." in fallback_domain else None)
    if domain is None:
        if not required:
            return None
        raise Rejected(
            "missing_domain",
            f"{where}: give the company's web domain as traits.domain or traits.website "
            "(leadgate keys accounts by domain)",
        )
    try:
        domain = normalise_domain(domain)
    except InvalidIdentity as exc:
        raise Rejected("invalid_domain", f"{where}.domain: {exc}") from None
    bounded(domain, f"{where}.domain", MAX_DOMAIN_CHARS, "invalid_domain")
    fields: dict[str, Any] = {
        target: val for key, target in _ACCOUNT_TEXT.items() if (val := text(by_name.get(key)))
    }
    address = by_name.get("address")
    if isinstance(address, dict) and "country" not in fields and text(address.get("country")):
        fields["country"] = text(address.get("country"))
    _check_lengths(fields, tables.accounts, where)
    employees = next((by_name[k] for k in _ACCOUNT_EMPLOYEES if by_name.get(k) is not None), None)
    if employees is not None:
        count = _number(employees, f"{where}.employees")
        if not 0 <= count <= _MAX_EMPLOYEES:
            raise Rejected(
                "invalid_trait",
                f"{where}.employees: {employees!r} is not a head count (0 to {_MAX_EMPLOYEES:,})",
            )
        fields["employees"] = int(count)
    revenue = next((by_name[k] for k in _ACCOUNT_REVENUE if by_name.get(k) is not None), None)
    if revenue is not None:
        fields["annual_revenue"] = _number(revenue, f"{where}.annual_revenue")
    tech = next((by_name[k] for k in _ACCOUNT_TECH if by_name.get(k) is not None), None)
    if tech is not None:
        items = tech.split(",") if isinstance(tech, str) else tech
        if not isinstance(items, list):
            raise Rejected("invalid_trait", f"{where}.technographics: expected a list of names")
        fields["technographics"] = tuple(str(i).strip().lower() for i in items if str(i).strip())
    known = (
        set(_ACCOUNT_TEXT)
        | set(_ACCOUNT_DOMAIN)
        | set(_ACCOUNT_EMPLOYEES)
        | set(_ACCOUNT_REVENUE)
        | set(_ACCOUNT_TECH)
        | {"address"}
    )
    custom = {k: v for k, v in by_name.items() if k not in known and v is not None}
    return AccountIn(domain=domain, **fields, traits=custom)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool):
        raise Rejected("invalid_trait", f"{where}: expected a number, found {value!r}")
    try:
        number = float(value if isinstance(value, int | float) else str(value).replace(",", ""))
    except (ValueError, OverflowError):
        raise Rejected("invalid_trait", f"{where}: {value!r} is not a number") from None
    # "NaN" and "Infinity" parse as floats but are no company's size or revenue.
    if not math.isfinite(number):
        raise Rejected("invalid_trait", f"{where}: {value!r} is not a number")
    return number
