"""kill -9 of `leadgate serve` mid-load, with the real Segment client retrying: nothing is
lost, nothing counts twice, and every stored score equals a recompute from the log."""

from __future__ import annotations

import signal
import subprocess
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, func, select

from leadgate.adapters.db import tables as t
from leadgate.adapters.db.unit_of_work import SqlUnitOfWork
from leadgate.domain.scoring import score_lead
from leadgate.models import default_model_text
from leadgate.services.keys import create_key
from leadgate.services.models import activate_model
from tests.e2e.servers import LEADGATE, free_port, server_env, wait_ready

PEOPLE = 40
VIEWS = 8
PATHS = ("/", "/pricing", "/product/tour", "/blog/intent", "/pricing/enterprise", "/careers")


def _serve(url: str, port: int, cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(LEADGATE), "serve", "--port", str(port)],
        env=server_env(url),
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stored(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(t.touchpoints)).scalar_one())


def test_a_server_killed_mid_load_loses_and_duplicates_nothing_and_scores_stay_exact(
    engine: Engine, tmp_path: Path
) -> None:
    from segment.analytics.client import Client

    now = datetime.now(UTC)
    activate_model(SqlUnitOfWork(engine), default_model_text(), now=now, actor="test")
    key = create_key(SqlUnitOfWork(engine), name="site", scopes="track", now=now).secret
    database_url = engine.url.render_as_string(hide_password=False)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = _serve(database_url, port, tmp_path)
    errors: list[Exception] = []
    sent: set[str] = set()
    try:
        wait_ready(base, server)
        client = Client(
            key,
            host=base,
            upload_size=25,
            upload_interval=0.02,
            max_retries=40,
            on_error=lambda exc, _batch: errors.append(exc),
        )

        def send_round(view: int) -> None:
            for person in range(PEOPLE):
                message_id = str(uuid.uuid4())
                sent.add(message_id)
                path = PATHS[(person + view) % len(PATHS)]
                client.page(
                    anonymous_id=f"anon-{person}",
                    name=path,
                    properties={"path": path},
                    message_id=message_id,
                )
            if view == 2:  # half of them identify: their anonymous history joins them
                for person in range(0, PEOPLE, 2):
                    client.identify(
                        user_id=f"user-{person}",
                        anonymous_id=f"anon-{person}",
                        traits={"email": f"p{person}@acme{person % 5}.io", "title": "VP Sales"},
                    )

        for view in range(VIEWS // 2):
            send_round(view)
        deadline = time.monotonic() + 30
        while _stored(engine) == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        server.send_signal(signal.SIGKILL)  # mid-load: requests in flight die with it
        server.wait()
        for view in range(VIEWS // 2, VIEWS):
            send_round(view)  # queued while the server is down; the client retries
        server = _serve(database_url, port, tmp_path)
        wait_ready(base, server)
        client.flush()
        client.shutdown()
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait()

    assert errors == []
    with engine.connect() as connection:
        stored_ids = set(connection.execute(select(t.touchpoints.c.message_id)).scalars())
    assert stored_ids == sent  # nothing lost, and (unique ids) nothing counted twice
    assert _stored(engine) == len(sent)
    with SqlUnitOfWork(engine) as uow:
        active = uow.models.active()
        assert active is not None
        ids = [lead_id for chunk in uow.leads.id_chunks(500) for lead_id in chunk]
        leads = uow.leads.get_many(ids)
        logs = uow.touchpoints.for_leads(ids)
        scores = uow.scores.get_many(ids)
    assert len(leads) == PEOPLE  # identified visitors merged into one lead each
    for lead_id, lead in leads.items():
        score = scores[lead_id]
        expected = score_lead(lead, logs.get(lead_id, []), active.model, score.scored_at)
        assert abs(score.engagement - expected.engagement) <= 1e-9 * abs(expected.engagement) + 1e-9
        assert score.fit == expected.fit
