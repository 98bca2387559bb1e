"""Who a lead is: normalised emails, external and anonymous ids, account domains."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from leadgate.domain.errors import InvalidIdentity

# A deliberately loose check: real-world addresses are messier than RFC 5322 suggests,
# and rejecting a valid lead costs more than keeping an odd one.
_EMAIL = re.compile(r"^[^@\s]+@([^@\s]+\.[^@\s]+)$")

# Free-mail providers: a lead at one of these has no company to attach to, so its domain
# never creates an account (a thousand gmail.com leads are not one "Gmail" account).
FREE_MAIL_DOMAINS: frozenset[str] = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "yahoo.co.uk",
        "yahoo.fr",
        "ymail.com",
        "hotmail.com",
        "hotmail.co.uk",
        "hotmail.fr",
        "outlook.com",
        "live.com",
        "msn.com",
        "aol.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "proton.me",
        "protonmail.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "mail.com",
        "mail.ru",
        "yandex.ru",
        "yandex.com",
        "qq.com",
        "163.com",
        "126.com",
        "zoho.com",
        "fastmail.com",
        "tutanota.com",
        "hey.com",
        "rediffmail.com",
        "orange.fr",
        "free.fr",
        "libero.it",
    }
)


class IdentityKind(StrEnum):
    """The kinds of key that can point at a lead, strongest first."""

    EMAIL = "email"
    USER_ID = "user_id"
    EXTERNAL_ID = "external_id"
    ANONYMOUS_ID = "anonymous_id"


# Resolution order: an email beats an app user id, which beats a CRM id, which beats a
# cookie. The first key that is already known decides which lead a touchpoint joins.
IDENTITY_PRIORITY: tuple[IdentityKind, ...] = tuple(IdentityKind)


@dataclass(frozen=True, slots=True)
class IdentityKey:
    """One key that identifies a lead, e.g. ``IdentityKey(IdentityKind.EMAIL, "ann@acme.io")``."""

    kind: IdentityKind
    value: str


def normalise_email(raw: str) -> str:
    """Given an address as typed, return the form leadgate stores (trimmed, lower case)."""
    email = raw.strip().lower()
    if not _EMAIL.match(email):
        raise InvalidIdentity(f"not an email address: {raw!r} (expected name@domain.tld)")
    return email


def email_domain(email: str) -> str:
    """Given a normalised email, return its domain."""
    return email.rsplit("@", 1)[1]


def normalise_domain(raw: str) -> str:
    """Given a domain or URL as typed ('https://www.Acme.io/'), return 'acme.io'."""
    domain = raw.strip().lower()
    domain = re.sub(r"^[a-z][a-z0-9+.-]*://", "", domain)
    domain = domain.split("/", 1)[0].split(":", 1)[0]
    if domain.startswith("www."):
        domain = domain[4:]
    if "." not in domain or " " in domain:
        raise InvalidIdentity(f"not a web domain: {raw!r} (expected e.g. acme.io)")
    return domain


def account_domain_for(email: str) -> str | None:
    """Given a normalised email, return the account domain it implies, or None for free mail."""
    domain = email_domain(email)
    return None if domain in FREE_MAIL_DOMAINS else domain


def identity_keys(
    *,
    email: str | None = None,
    user_id: str | None = None,
    external_id: str | None = None,
    anonymous_id: str | None = None,
) -> tuple[IdentityKey, ...]:
    """Given the ids a message carries, return its keys in resolution order."""
    keys: list[IdentityKey] = []
    if email:
        keys.append(IdentityKey(IdentityKind.EMAIL, normalise_email(email)))
    for kind, value in (
        (IdentityKind.USER_ID, user_id),
        (IdentityKind.EXTERNAL_ID, external_id),
        (IdentityKind.ANONYMOUS_ID, anonymous_id),
    ):
        if value is not None and str(value).strip():
            keys.append(IdentityKey(kind, str(value).strip()))
    return tuple(keys)
