"""Retrying a use case that lost a race with a concurrent writer."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from leadgate.services.errors import ConcurrentUpdate

R = TypeVar("R")


def retry_on_conflict(run: Callable[[], R], *, attempts: int = 8) -> R:
    """Run ``run`` and run it again when it raises ConcurrentUpdate, up to ``attempts`` times.

    Safe because every write use case is idempotent (touchpoints are keyed by message id).
    The waits grow and are random (full jitter), so writers that collided once do not
    collide again in lock-step.
    """
    for attempt in range(1, attempts + 1):
        try:
            return run()
        except ConcurrentUpdate:
            if attempt == attempts:
                raise
            time.sleep(random.uniform(0, min(0.5, 0.02 * 2**attempt)))
    raise AssertionError("unreachable")  # pragma: no cover
