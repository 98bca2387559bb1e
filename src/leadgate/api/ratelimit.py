"""An optional per-key request limit (a token bucket per key, in this server process)."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field


@dataclass
class RateLimiter:
    """``per_second`` requests a second per key, with bursts up to one second's worth.

    0 turns the limit off. Each server process keeps its own buckets, so with
    ``--workers N`` a key may make up to N times the limit.
    """

    per_second: float
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def retry_after(self, key: str) -> int | None:
        """Take one token for ``key``; None if allowed, else seconds to wait before retrying."""
        if self.per_second <= 0:
            return None
        capacity = max(1.0, self.per_second)
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (capacity, now))
            tokens = min(capacity, tokens + (now - last) * self.per_second)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return None
            self._buckets[key] = (tokens, now)
        return max(1, math.ceil((1.0 - tokens) / self.per_second))
