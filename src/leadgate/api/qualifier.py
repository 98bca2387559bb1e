"""The inbox's qualifier in a background thread of each server process (inbox mode).

A capture in this process wakes it; otherwise it looks every ``inbox_poll_seconds``, for
calls captured by other processes. Several processes each run one: the inbox's lock lets
one drain at a time, the others find nothing and wait.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import DBAPIError

from leadgate.bootstrap import App
from leadgate.services.inbox_drain import DrainResult, drain_inbox, run_qualifier

log = logging.getLogger("leadgate.qualifier")

# After a failed round (the database restarting, say): wait, then try again.
_ERROR_PAUSE_SECONDS = 1.0


class BackgroundQualifier:
    """``start()`` at start-up, ``wake()`` after each capture, ``stop()`` at shut-down."""

    def __init__(self, wired: App) -> None:
        self._wired = wired
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="leadgate-qualifier", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the round in flight (which commits or rolls back whole)."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _wait(self, seconds: float) -> None:
        self._wake.wait(seconds)
        self._wake.clear()

    def _drain(self) -> DrainResult:
        settings = self._wired.settings
        return drain_inbox(
            self._wired.uow_factory,
            lambda: datetime.now(UTC),
            limit=settings.inbox_drain_batch,
            keep=timedelta(seconds=settings.inbox_keep_seconds),
        )

    def _failed(self, exc: Exception) -> float:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        log.warning(
            "qualifier round failed, retrying in %.0f s: %s",
            _ERROR_PAUSE_SECONDS,
            first,
            # A database error says what it is in its line; anything else is a bug to trace.
            exc_info=not isinstance(exc, DBAPIError),
        )
        return _ERROR_PAUSE_SECONDS

    def _run(self) -> None:
        run_qualifier(
            self._drain,
            should_stop=self._stop.is_set,
            wait=self._wait,
            poll_seconds=self._wired.settings.inbox_poll_seconds,
            on_error=self._failed,
        )
