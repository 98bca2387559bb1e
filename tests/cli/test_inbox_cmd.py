"""`leadgate inbox` (``leadgate.cli.inbox_cmd``): status, parked calls, draining now."""

from __future__ import annotations

from pathlib import Path

from leadgate.adapters.db.engine import build_engine
from leadgate.adapters.db.unit_of_work import SqlUnitOfWork
from leadgate.domain.identity import IdentityKey, IdentityKind
from leadgate.services.commands import TouchpointIn, TrackedCall
from leadgate.services.inbox import capture_calls
from leadgate.services.ports import QueuedCall
from tests.cli.runner import as_json, leadgate, ok, one_line_error
from tests.conftest import T0


def _capture(database: Path) -> None:
    """Two page views captured in inbox mode, and a call from some other version."""
    engine = build_engine(f"sqlite:///{database}")
    calls = [
        TrackedCall(
            f"p{i}",
            (IdentityKey(IdentityKind.USER_ID, f"user-{i}"),),
            touchpoint=TouchpointIn(f"p{i}", "Page Viewed", T0, user_id=f"user-{i}"),
        )
        for i in range(2)
    ]
    capture_calls(SqlUnitOfWork(engine), calls, now=T0)
    with SqlUnitOfWork(engine) as uow:
        uow.inbox.append([QueuedCall("future", True, T0, {"v": 2, "id": "future"})])
        uow.commit()
    engine.dispose()


def test_status_drain_and_parked_show_and_empty_the_inbox(db: Path) -> None:
    _capture(db)
    status = as_json(leadgate(db, "inbox", "status", "--json"))
    assert (status["ingest_mode"], status["backlog"], status["parked"]) == ("inline", 3, 0)
    assert status["oldest_received_at"].startswith("2026-03-02T09:00")
    assert status["max_backlog"] == 200_000 and status["recent_drained"] == 0
    assert "backlog 3 calls (capture refuses at 200,000)" in ok(leadgate(db, "inbox", "status"))

    drained = as_json(leadgate(db, "inbox", "drain", "--json"))
    assert (drained["drained"], drained["parked"], drained["stored"]) == (2, 1, 2)
    assert "drained 0, parked 0" in ok(leadgate(db, "inbox", "drain"))

    (parked,) = as_json(leadgate(db, "inbox", "parked", "--json"))
    assert parked["message_id"] == "future"
    assert parked["reason"].startswith("cannot rebuild the call: document format 2 is not 1")
    assert parked["document"] == {"v": 2, "id": "future"}
    table = ok(leadgate(db, "inbox", "parked"))
    assert "future" in table and "document format 2" in table
    assert ok(leadgate(db, "inbox", "parked", "--after", str(parked["id"]))).strip() == (
        "no parked calls"
    )
    after = ok(leadgate(db, "inbox", "status"))
    assert "backlog 0 calls" in after and "parked 1" in after and "last 2 drained" in after


def test_parked_refuses_a_bad_limit(db: Path) -> None:
    assert "--limit must be at least 1" in one_line_error(
        leadgate(db, "inbox", "parked", "--limit", "0"), 2
    )
