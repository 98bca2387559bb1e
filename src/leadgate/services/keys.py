"""Creating, listing, revoking and checking API keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from leadgate.domain.errors import DomainError
from leadgate.domain.keys import (
    ApiKey,
    display_prefix,
    generate_key,
    hash_key,
    kind_for,
    parse_scopes,
)
from leadgate.services.errors import InvalidInput, NotFound
from leadgate.services.ports import UnitOfWork


class KeyNotFound(NotFound):
    def __init__(self, key_id: int) -> None:
        super().__init__(f"no API key with id {key_id}")


@dataclass(frozen=True, slots=True)
class CreatedKey:
    """A new key. ``secret`` is shown once, at creation; only its hash is stored."""

    key: ApiKey
    secret: str


def create_key(uow: UnitOfWork, *, name: str, scopes: str | list[str], now: datetime) -> CreatedKey:
    """Create a key with these scopes: 'track' alone makes a tracking key, else a secret key."""
    if not name.strip():
        raise InvalidInput("name: required (say what the key is for, e.g. 'website')")
    try:
        parsed = parse_scopes(scopes)
    except DomainError as exc:
        raise InvalidInput(f"scopes: {exc}") from None
    kind = kind_for(parsed)
    secret = generate_key(kind)
    with uow:
        key = uow.keys.add(
            name=name.strip(),
            kind=kind,
            prefix=display_prefix(secret),
            key_hash=hash_key(secret),
            scopes=parsed,
            now=now,
        )
        uow.commit()
    return CreatedKey(key, secret)


def list_keys(uow: UnitOfWork) -> list[ApiKey]:
    with uow:
        return uow.keys.all()


def revoke_key(uow: UnitOfWork, key_id: int, *, now: datetime) -> ApiKey:
    """Revoke a key (idempotent: revoking twice keeps the first time)."""
    with uow:
        key = uow.keys.revoke(key_id, now)
        if key is None:
            raise KeyNotFound(key_id)
        uow.commit()
    return key


def authenticate(uow: UnitOfWork, secret: str) -> ApiKey | None:
    """Given a key as presented, return the active stored key it is, or None."""
    with uow:
        key = uow.keys.by_hash(hash_key(secret))
    return key if key is not None and key.active else None
