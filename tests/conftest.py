"""Shared fixtures: real SQLite and real PostgreSQL databases, migrated, one per test.

PostgreSQL comes from ``LEADGATE_TEST_POSTGRES_URL`` (default: the local server's ``test``
database). It is never skipped: if it cannot be reached the PostgreSQL half of the suite
fails with a message saying how to start it.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from leadgate.adapters.db.engine import build_engine
from leadgate.adapters.db.migrate import upgrade
from leadgate.adapters.db.tables import metadata
from leadgate.adapters.db.unit_of_work import SqlUnitOfWork
from leadgate.models import default_model_text
from leadgate.services.models import activate_model

POSTGRES_URL = os.environ.get(
    "LEADGATE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
START_POSTGRES = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once keeps tests fast)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = build_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test process, dropped at the end."""
    admin_url = make_url(POSTGRES_URL).set(drivername="postgresql+psycopg")
    name = f"leadgate_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # the message must reach the person reading CI output
        pytest.fail(
            f"PostgreSQL is not reachable at {POSTGRES_URL} ({exc.__class__.__name__}: "
            f"{str(exc).splitlines()[0]}). Start it with `{START_POSTGRES}` or set "
            "LEADGATE_TEST_POSTGRES_URL.",
            pytrace=False,
        )
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    engine = build_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_postgres(engine: Engine) -> None:
    names = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty database on each back end: every test using it runs twice."""
    if request.param == "sqlite":
        path = tmp_path / "leadgate.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        engine = build_engine(f"sqlite:///{path}")
    else:
        engine = build_engine(request.getfixturevalue("postgres_database"))
        _truncate_postgres(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def uow_factory(engine: Engine) -> Callable[[], SqlUnitOfWork]:
    return lambda: SqlUnitOfWork(engine)


@pytest.fixture
def default_model(uow_factory: Callable[[], SqlUnitOfWork]) -> int:
    """Activate the shipped default model; return its version."""
    return activate_model(uow_factory(), default_model_text(), now=T0, actor="test").version


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under ``--dist loadgroup`` (the Makefile's), every test on one back end's analytics
    workspace (the ``ws`` fixture of tests/integration/test_analytics_data.py, built once
    per test process) runs in one worker, which builds that workspace once instead of each
    worker building its own. Other runs ignore the group."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "ws" in getattr(item, "fixturenames", ()):
            backend = callspec.params.get("ws")
            if backend is not None:
                item.add_marker(pytest.mark.xdist_group(f"analytics-workspace-{backend}"))
