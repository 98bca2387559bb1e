"""Segment's `integrations` switch, batch-level and per message, is honoured."""

from __future__ import annotations

from sqlalchemy import select

from leadgate.adapters.db import tables as t
from tests.http.conftest import AppServer


def test_integrations_can_turn_leadgate_off_per_batch_and_per_message(
    app_server: AppServer,
) -> None:
    batch = {
        "integrations": {"All": False, "leadgate": True},
        "batch": [
            {"type": "track", "userId": "u-1", "event": "Signed Up", "messageId": "kept"},
            {
                "type": "track",
                "userId": "u-1",
                "event": "Signed Up",
                "messageId": "off",
                "integrations": {"leadgate": False},
            },
            {
                "type": "track",
                "userId": "u-1",
                "event": "Signed Up",
                "messageId": "all-off",
                "integrations": {"All": False, "leadgate": None},
            },
        ],
    }
    with app_server.client(app_server.track_key) as http:
        response = http.post("/v1/batch", json=batch)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["accepted"] == 1
    assert body["rejected"] == []
    assert [(w["index"], w["code"]) for w in body["warnings"]] == [
        (1, "integration_disabled"),
        (2, "integration_disabled"),
    ]
    with app_server.app.engine.connect() as connection:
        stored = connection.execute(select(t.touchpoints.c.message_id)).scalars().all()
    assert stored == ["kept"]
