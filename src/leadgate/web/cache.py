"""A short-lived cache of analytics reports for the dashboard pages.

The funnel, attribution and signals reports scan the transition log and the touchpoints;
on a workspace of tens of thousands of leads that takes longer than a page should. Each
report is therefore kept for ``REPORT_SECONDS`` per server process, keyed by the report
and its exact options: everyone looking at "last 30 days by channel" within that time
shares one computation, and figures on the dashboard are at most that old (the JSON API
and the CLI always compute afresh). Concurrent requests for the same key wait for one
computation instead of each running it.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")

REPORT_SECONDS = 60.0
MAX_ENTRIES = 128


class ReportCache:
    def __init__(self, seconds: float = REPORT_SECONDS, entries: int = MAX_ENTRIES) -> None:
        self._seconds = seconds
        self._entries = entries
        self._values: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._locks: dict[Hashable, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The cached value of ``key`` if it is fresh, else ``compute()`` stored."""
        found = self._fresh(key)
        if found is not None:
            return found[1]  # type: ignore[no-any-return]
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            found = self._fresh(key)  # another request may have computed it meanwhile
            if found is not None:
                return found[1]  # type: ignore[no-any-return]
            value = compute()
            with self._guard:
                self._values[key] = (time.monotonic(), value)
                self._values.move_to_end(key)
                while len(self._values) > self._entries:
                    old, _ = self._values.popitem(last=False)
                    self._locks.pop(old, None)
            return value

    def clear(self) -> None:
        with self._guard:
            self._values.clear()

    def _fresh(self, key: Hashable) -> tuple[float, Any] | None:
        with self._guard:
            found = self._values.get(key)
        if found is None or time.monotonic() - found[0] > self._seconds:
            return None
        return found
