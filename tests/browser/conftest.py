"""Browser tests: Playwright driving Debian's Chromium (``/usr/bin/chromium``; CI installs
it from .ci/run, Playwright's own browser download is never used) against a live server
(on SQLite: see test_dashboard_browser.py). Screenshots go to ``$PYTEST_ARTIFACTS`` (default
``test-artifacts/browser``), kept as CI artifacts and ignored by git."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from leadgate.config import Settings
from tests.dashboard_world import World, build_world
from tests.http.conftest import LiveServer, live_server  # noqa: F401  (fixture)

CHROMIUM = os.environ.get("LEADGATE_TEST_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture
def server_settings() -> Settings:
    return Settings(
        database_url="sqlite://",
        key_cache_seconds=0.0,
        session_secret="browser-test-secret-0123456",
    )


@pytest.fixture
def world(live_server: LiveServer) -> World:  # noqa: F811
    return build_world(live_server.app)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium is not at {CHROMIUM}: install it with `apt-get install -y chromium` "
            "(.ci/run does) or set LEADGATE_TEST_CHROMIUM",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        yield launched
        launched.close()


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    root = Path(os.environ.get("PYTEST_ARTIFACTS", "test-artifacts")) / "browser"
    root.mkdir(parents=True, exist_ok=True)
    return root


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(20_000)
    yield opened
    context.close()


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    opened = context.new_page()
    opened.set_default_timeout(20_000)
    yield opened
    context.close()
