"""API keys: what a key may do, how it is written, and how it is recognised.

Two kinds, as Segment and Stripe have taught users to expect:
- a *tracking* key (``lg_pub_...``) can only send events; it is safe to embed in a web
  page or a mobile app, where anyone can read it;
- a *secret* key (``lg_sk_...``) reads and changes data and belongs on a server.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from leadgate.domain.errors import DomainError


class Scope(StrEnum):
    TRACK = "track"  # send events (Segment / RudderStack / PostHog endpoints)
    READ = "read"  # read leads, scores, models
    WRITE = "write"  # create and change leads, accounts, stages, imports
    ADMIN = "admin"  # scoring models and everything else


class KeyKind(StrEnum):
    TRACKING = "tracking"
    SECRET = "secret"


_PREFIX = {KeyKind.TRACKING: "lg_pub_", KeyKind.SECRET: "lg_sk_"}


class InvalidScopes(DomainError):
    """Scopes that are unknown, missing, or mix a tracking key with secret powers."""


def parse_scopes(raw: str | list[str] | tuple[str, ...]) -> frozenset[Scope]:
    """Given 'track,read' (or a list), return the scopes, naming any unknown one."""
    names = raw.split(",") if isinstance(raw, str) else list(raw)
    scopes: set[Scope] = set()
    for name in (n.strip().lower() for n in names):
        if not name:
            continue
        try:
            scopes.add(Scope(name))
        except ValueError:
            known = ", ".join(s.value for s in Scope)
            raise InvalidScopes(f"unknown scope {name!r} (known: {known})") from None
    if not scopes:
        raise InvalidScopes("give at least one scope: track, read, write or admin")
    return frozenset(scopes)


def kind_for(scopes: frozenset[Scope]) -> KeyKind:
    """A key that can only track is a tracking key; anything more makes it secret."""
    return KeyKind.TRACKING if scopes == {Scope.TRACK} else KeyKind.SECRET


def generate_key(kind: KeyKind) -> str:
    """A new key: its kind's prefix and 32 random bytes (256 bits), URL-safe."""
    return _PREFIX[kind] + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """The stored form of a key. Keys carry 256 random bits, so one SHA-256 is enough."""
    return hashlib.sha256(key.encode()).hexdigest()


def display_prefix(key: str) -> str:
    """The part of a key shown in lists: enough to tell keys apart, never enough to use."""
    return key[:14]


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key (without the key itself, which only its creator ever sees)."""

    id: int
    name: str
    kind: KeyKind
    prefix: str
    scopes: frozenset[Scope]
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def allows(self, scope: Scope) -> bool:
        """Admin may do anything; other scopes are granted one by one."""
        return Scope.ADMIN in self.scopes or scope in self.scopes
