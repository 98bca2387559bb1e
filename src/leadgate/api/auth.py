"""Who is calling: the API key from the request, checked against the stored (hashed) keys.

A key may come as ``Authorization: Bearer KEY``, as the HTTP Basic user name (Segment's
and RudderStack's clients do this), as ``X-API-Key``, or, for tracking calls only, in the
JSON body (``writeKey``, PostHog's ``api_key``). Lookups are cached for a short while so a
tracking request does not cost a database round trip; a revoked key therefore stops
working within ``key_cache_seconds``.
"""

from __future__ import annotations

import base64
import binascii
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import Request

from leadgate.api.errors import ApiError
from leadgate.domain.keys import ApiKey, Scope
from leadgate.services.keys import authenticate
from leadgate.services.ports import UnitOfWork


def key_from_headers(request: Request) -> str | None:
    """The key a request carries in its headers, or None."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if scheme.lower() == "basic" and value.strip():
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise ApiError(
                401, "unauthorized", "Authorization: Basic credentials are not valid base64"
            ) from None
        user = decoded.partition(":")[0]
        return user or None
    return request.headers.get("x-api-key") or None


@dataclass
class KeyCache:
    """Recently checked keys, so hot tracking traffic skips the database."""

    uow_factory: Callable[[], UnitOfWork]
    ttl_seconds: float = 30.0
    _entries: dict[str, tuple[ApiKey | None, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def lookup(self, secret: str) -> ApiKey | None:
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(secret)
        if entry is not None and entry[1] > now:
            return entry[0]
        key = authenticate(self.uow_factory(), secret)
        with self._lock:
            if len(self._entries) > 10_000:  # unknown keys must not grow this forever
                self._entries.clear()
            self._entries[secret] = (key, now + self.ttl_seconds)
        return key

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def authorize(request: Request, scope: Scope, secret: str | None = None) -> ApiKey:
    """Given a request (and a key found in its body), return the key or raise 401/403."""
    secret = secret or key_from_headers(request)
    if not secret:
        raise ApiError(
            401,
            "unauthorized",
            "no API key: send it as 'Authorization: Bearer KEY', as the Basic user name, "
            "or as X-API-Key",
            headers={"WWW-Authenticate": 'Bearer, Basic realm="leadgate"'},
        )
    cache: KeyCache = request.app.state.keys
    key = cache.lookup(secret)
    if key is None:
        raise ApiError(401, "unauthorized", "unknown or revoked API key")
    if not key.allows(scope):
        granted = ", ".join(sorted(s.value for s in key.scopes))
        raise ApiError(
            403,
            "forbidden",
            f"key {key.prefix}… ({key.name}) lacks the {scope.value!r} scope (it has: {granted})",
        )
    request.state.api_key = key
    return key


def require(scope: Scope) -> Callable[[Request], ApiKey]:
    """A dependency: ``key: ApiKey = Depends(require(Scope.READ))``."""

    def dependency(request: Request) -> ApiKey:
        return authorize(request, scope)

    dependency.__name__ = f"require_{scope.value}"
    return dependency
