"""The real tracking SDKs, unchanged, pointed at a live leadgate server.

Each client sends what a website or backend would (anonymous page views, an event,
identify, group); the test checks every touchpoint is stored once (a retry of the same
messages changes nothing), the anonymous history joined the identified lead, and its
score and stage moved.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from leadgate.adapters.db import tables as t
from tests.http.conftest import LiveServer


def _lead_state(server: LiveServer, email: str) -> dict[str, Any]:
    with server.app.engine.connect() as connection:
        lead = connection.execute(select(t.leads).where(t.leads.c.email == email)).one()
        names = connection.execute(
            select(t.touchpoints.c.name, func.count())
            .where(t.touchpoints.c.lead_id == lead.id)
            .group_by(t.touchpoints.c.name)
        ).all()
        score = connection.execute(select(t.scores).where(t.scores.c.lead_id == lead.id)).one()
        moves = (
            connection.execute(
                select(t.transitions.c.to_stage).where(t.transitions.c.lead_id == lead.id)
            )
            .scalars()
            .all()
        )
        account = connection.execute(
            select(t.accounts).where(t.accounts.c.id == lead.account_id)
        ).one_or_none()
        leads = connection.execute(select(func.count()).select_from(t.leads)).scalar_one()
    return {
        "lead": lead,
        "touchpoints": dict(names),
        "score": score,
        "transitions": list(moves),
        "account": account,
        "leads": leads,
    }


def _assert_qualified(state: dict[str, Any], *, title: str) -> None:
    assert state["leads"] == 1, "the anonymous visitor and the identified person are one lead"
    assert state["lead"].title == title
    assert state["touchpoints"] == {"page_view": 3, "demo_request": 1}
    assert state["score"].engagement > 0
    assert state["score"].fit > 0
    # The demo request of a well-fitting lead skips straight to sales-ready.
    assert state["transitions"] == ["sql"]
    assert state["lead"].stage == "sql"
    assert state["account"] is not None
    assert state["account"].domain == "acme.io"
    assert state["account"].industry == "software"
    assert state["account"].employees == 250


Send = Callable[[str, str], None]


def _segment_like(client: Any, anon: str, ids: list[str]) -> None:
    """The same calls through Segment's or RudderStack's client (one API)."""
    for path, mid in zip(("/", "/pricing", "/pricing/enterprise"), ids[:3], strict=True):
        client.page(anonymous_id=anon, name=path, properties={"path": path}, message_id=mid)
    client.track(anonymous_id=anon, event="Demo Requested", message_id=ids[3])
    client.identify(
        user_id="u-1",
        anonymous_id=anon,
        traits={
            "email": "ann@acme.io",
            "firstName": "Ann",
            "title": "VP Marketing",
            "seniority": "vp",
            "department": "marketing",
        },
        message_id=ids[4],
    )
    client.group(
        user_id="u-1",
        group_id="acme.io",
        traits={"name": "Acme", "industry": "software", "employees": 250, "region": "EMEA"},
        message_id=ids[5],
    )
    client.flush()


@pytest.mark.parametrize("gzip", [False, True], ids=["plain", "gzip"])
def test_segment_client(live_server: LiveServer, gzip: bool) -> None:
    from segment.analytics.client import Client

    errors: list[Exception] = []
    client = Client(
        live_server.track_key,
        host=live_server.url,
        gzip=gzip,
        max_retries=0,
        on_error=lambda exc, _batch: errors.append(exc),
    )
    ids = [str(uuid.uuid4()) for _ in range(6)]
    _segment_like(client, "anon-segment", ids)
    _segment_like(client, "anon-segment", ids)  # the client's retry: nothing counts twice
    client.shutdown()
    assert errors == []
    _assert_qualified(_lead_state(live_server, "ann@acme.io"), title="VP Marketing")


def test_rudderstack_client(live_server: LiveServer) -> None:
    from rudderstack.analytics.client import Client

    errors: list[Exception] = []
    client = Client(
        live_server.track_key,
        host=live_server.url,
        max_retries=0,
        on_error=lambda exc, _batch: errors.append(exc),
    )  # gzip and Basic auth are RudderStack's defaults
    ids = [str(uuid.uuid4()) for _ in range(6)]
    _segment_like(client, "anon-rudder", ids)
    _segment_like(client, "anon-rudder", ids)
    client.shutdown()
    assert errors == []
    _assert_qualified(_lead_state(live_server, "ann@acme.io"), title="VP Marketing")


def test_posthog_client(live_server: LiveServer) -> None:
    from posthog import Posthog

    client = Posthog(
        live_server.track_key, host=live_server.url, max_retries=0, sync_mode=False, gzip=True
    )
    ids = [str(uuid.uuid4()) for _ in range(4)]

    def send() -> None:
        for path, mid in zip(("/", "/pricing", "/pricing/enterprise"), ids[:3], strict=True):
            client.capture(
                "$pageview",
                distinct_id="ph-anon",
                properties={"$current_url": f"https://acme-site.example{path}"},
                uuid=mid,
            )
        client.capture("Demo Requested", distinct_id="ph-anon", uuid=ids[3])
        client.set(
            distinct_id="ph-anon",
            properties={
                "email": "ann@acme.io",
                "title": "Head of RevOps",
                "seniority": "vp",
                "department": "revops",
            },
        )
        client.group_identify(
            "company", "acme.io", {"name": "Acme", "industry": "software", "employees": 250}
        )
        client.flush()

    send()
    send()  # retried events keep their uuid and count once
    client.shutdown()
    _assert_qualified(_lead_state(live_server, "ann@acme.io"), title="Head of RevOps")
