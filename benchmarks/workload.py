"""Synthetic touchpoint streams for the benchmarks: fast to make, shaped like real traffic."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from leadgate.services.commands import TouchpointIn

END = datetime(2026, 6, 1, tzinfo=UTC)

# (incoming name, properties, weight): mostly page views and email, few high-intent events.
_KINDS: list[tuple[str, dict[str, str], int]] = [
    ("page_view", {"category": "blog", "path": "/blog/post"}, 30),
    ("page_view", {"category": "product", "path": "/product"}, 15),
    ("Page Viewed", {"category": "pricing", "path": "/pricing"}, 8),
    ("page_view", {"category": "docs", "path": "/docs/start"}, 8),
    ("page_view", {"category": "careers", "path": "/careers"}, 1),
    ("email_open", {"campaign": "nurture-1"}, 15),
    ("email_click", {"campaign": "nurture-1"}, 6),
    ("content_download", {"asset": "ebook", "asset_type": "ebook"}, 4),
    ("webinar_registered", {"webinar": "w1"}, 2),
    ("webinar_attended", {"webinar": "w1"}, 2),
    ("form_submit", {"form": "newsletter"}, 2),
    ("Demo Requested", {}, 1),
    ("trial_signup", {}, 1),
    ("product_active_day", {}, 4),
    ("email_unsubscribe", {}, 1),
]
_NAMES = [k[0] for k in _KINDS]
_PROPS = [k[1] for k in _KINDS]
_WEIGHTS = [k[2] for k in _KINDS]


def touchpoint_batches(
    *, leads: int, touchpoints: int, days: int, batch_size: int, seed: int = 1
) -> Iterator[tuple[datetime, list[TouchpointIn]]]:
    """Yield (now, batch) in time order: ``touchpoints`` events over ``leads`` leads."""
    rng = random.Random(seed)
    start = END - timedelta(days=days)
    span = days * 86_400
    times = sorted(rng.random() * span for _ in range(touchpoints))
    kinds = rng.choices(range(len(_KINDS)), weights=_WEIGHTS, k=touchpoints)
    for offset in range(0, touchpoints, batch_size):
        batch = []
        for i in range(offset, min(offset + batch_size, touchpoints)):
            lead = rng.randrange(leads)
            kind = kinds[i]
            batch.append(
                TouchpointIn(
                    message_id=f"b-{i}",
                    name=_NAMES[kind],
                    occurred_at=start + timedelta(seconds=times[i]),
                    properties=_PROPS[kind],
                    email=f"lead{lead}@company{lead % (leads // 3 + 1)}.com",
                )
            )
        yield batch[-1].occurred_at, batch
