"""Dashboard users: who may sign in, with which role, and how their password is checked.

Three roles, as revenue teams split the work:
- ``admin`` sees and does everything;
- ``marketing`` sees the funnel, attribution, the scoring model and its signals, and may
  look at leads (read only);
- ``sales`` sees their own queue and the leads they own, and answers handoffs.

A sales user is tied to a rep by ``rep``: the owner name leads and handoffs carry (for
example ``lena.schmidt@example.com``). Passwords are kept only as scrypt hashes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cache

from leadgate.domain.errors import DomainError


class Role(StrEnum):
    ADMIN = "admin"
    MARKETING = "marketing"
    SALES = "sales"


class InvalidUser(DomainError):
    """A user name, role, rep or password that cannot be stored; the message says which."""


@dataclass(frozen=True, slots=True)
class User:
    """A person who signs in to the dashboard.

    Example: ``User(3, "lena", Role.SALES, rep="lena.schmidt@example.com", created_at=t)``.
    """

    id: int
    username: str
    role: Role
    created_at: datetime
    rep: str | None = None
    disabled: bool = False


USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # scrypt reads it all; a megabyte "password" is an attack, not a secret


def check_username(name: str) -> str:
    """Given a user name as typed, return it stripped, or say what is wrong with it."""
    name = name.strip()
    if not USERNAME.match(name):
        raise InvalidUser(
            f"name: {name!r} is not a user name (1-64 letters, digits and . _ @ + -, "
            "starting with a letter or digit)"
        )
    return name


def parse_role(raw: str) -> Role:
    try:
        return Role(raw.strip().lower())
    except ValueError:
        raise InvalidUser(
            f"role: unknown role {raw!r}; one of {', '.join(r.value for r in Role)}"
        ) from None


def check_rep(role: Role, rep: str | None) -> str | None:
    """A sales user needs the owner name their leads carry; other roles have none."""
    rep = rep.strip() if rep else None
    if role is Role.SALES and not rep:
        raise InvalidUser("rep: a sales user needs --rep, the owner name on their leads")
    if role is not Role.SALES and rep:
        raise InvalidUser(f"rep: only sales users have a rep (this one is {role.value})")
    return rep


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidUser(f"password: use at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise InvalidUser(f"password: use at most {MAX_PASSWORD} characters")
    return password


# scrypt with n=2**14, r=8, p=1 (the parameters Python's docs and OWASP's minimum use):
# 16 MiB of memory and about 50 ms per check, slow for a guesser and fine for a login.
_N, _R, _P = 2**14, 8, 1
_SCHEME = "scrypt"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024, dklen=32
    )


def hash_password(password: str) -> str:
    """Given a password, return ``scrypt$n$r$p$salt$hash`` (salt and hash in base64).

    >>> hash_password("correct horse").startswith("scrypt$16384$8$1$")
    True
    """
    salt = secrets.token_bytes(16)
    return "$".join(
        (_SCHEME, str(_N), str(_R), str(_P), _b64(salt), _b64(_derive(password, salt, _N, _R, _P)))
    )


def verify_password(password: str, stored: str) -> bool:
    """Given a password and a stored hash, return whether they match (constant time).

    >>> verify_password("correct horse", hash_password("correct horse"))
    True
    >>> verify_password("wrong", hash_password("correct horse"))
    False
    """
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != _SCHEME or len(password) > MAX_PASSWORD:
            return False
        actual = _derive(password, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, base64.b64decode(expected))


@cache
def decoy_hash() -> str:
    """A hash to check against when the user name is unknown, so that a wrong name takes
    as long as a wrong password and the login form does not tell which names exist."""
    return hash_password(secrets.token_urlsafe(16))
