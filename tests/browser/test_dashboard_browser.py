"""The dashboard in a real browser: sign in, read the funnel and change its period, open
a lead and accept its handoff, see the stage change; a rep sees only their own queue.

On SQLite only: what the pages show on each back end is tested in tests/http/test_dashboard.py;
here it is the browser's part (forms, links, scripts, layout). With ``--dist loadgroup`` the
tests share one worker, so Chromium is launched once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.dashboard_world import PASSWORD, World
from tests.http.conftest import LiveServer, sqlite_only

pytestmark = [sqlite_only, pytest.mark.xdist_group("browser")]


def shot(page: Page, artifacts: Path, request: pytest.FixtureRequest, name: str) -> None:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    page.screenshot(path=str(artifacts / f"{safe}-{name}.png"), full_page=True)


def sign_in(page: Page, server: LiveServer, path: str, name: str) -> None:
    page.goto(server.url + path)
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def stage_cell(page: Page, stage: str) -> str:
    return (
        page.locator(
            "#stage-table tbody tr", has=page.get_by_role("rowheader", name=stage, exact=True)
        )
        .locator("td")
        .first.inner_text()
    )


def test_admin_reads_the_funnel_then_accepts_a_handoff(
    page: Page,
    live_server: LiveServer,
    world: World,
    artifacts: Path,
    request: pytest.FixtureRequest,
) -> None:
    sign_in(page, live_server, "/funnel", "ada")
    expect(page).to_have_url(re.compile(r"/funnel$"))
    expect(page.get_by_role("heading", name="Funnel", exact=True)).to_be_visible()
    # Charts carry their numbers for screen readers; the table says the same.
    expect(page.locator("#chart-stages-title")).to_have_text("Leads entering each stage")
    expect(page.get_by_role("img", name=re.compile(r"Leads entering each stage"))).to_be_visible()
    assert int(stage_cell(page, "MQL")) >= 1
    shot(page, artifacts, request, "funnel")

    # Change the period to dates long ago: everything drops to zero.
    page.get_by_label("Show", exact=True).select_option("custom")
    page.get_by_label("From", exact=True).fill("2020-01-01")
    page.get_by_label("To", exact=True).fill("2020-01-31")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"period=custom"))
    expect(page.locator(".lede")).to_contain_text("2020-01-01 to 2020-01-31")
    assert stage_cell(page, "MQL") == "0"
    shot(page, artifacts, request, "funnel-2020")

    # Open the lead from the list and accept its handoff.
    page.get_by_role("link", name="Leads", exact=True).click()
    page.get_by_role("link", name="Ann Archer").click()
    expect(page.get_by_role("heading", name="Ann Archer")).to_be_visible()
    expect(page.locator(".lead-head .stage")).to_have_text("MQL")
    expect(page.locator("#handoff-status")).to_have_text("pending")
    expect(page.locator(".sla")).to_contain_text(re.compile(r"due in|overdue by"))
    expect(page.get_by_role("img", name=re.compile(r"pricing_page"))).to_be_visible()
    shot(page, artifacts, request, "lead-before")
    page.get_by_role("button", name="Accept").click()
    expect(page.locator("#flash")).to_have_text("Recorded: accept; the lead moved from MQL to SQL.")
    expect(page.locator(".lead-head .stage")).to_have_text("SQL")
    expect(page.locator("#handoff-status")).to_have_text("accepted")
    expect(page.locator("#transitions li").first).to_contain_text("MQL → SQL")
    expect(page.locator("#transitions li").first).to_contain_text("by ada")
    shot(page, artifacts, request, "lead-accepted")


def test_a_rep_sees_only_their_queue(
    page: Page,
    live_server: LiveServer,
    world: World,
    artifacts: Path,
    request: pytest.FixtureRequest,
) -> None:
    sign_in(page, live_server, "/", "sam")
    expect(page).to_have_url(re.compile(r"/queue$"))
    expect(page.get_by_role("heading", name="My queue")).to_be_visible()
    rows = page.locator("#queue-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Ann Archer")
    expect(page.get_by_role("navigation", name="Main")).not_to_contain_text("Funnel")
    shot(page, artifacts, request, "queue")

    page.goto(live_server.url + "/funnel")
    expect(page.get_by_role("heading", name="Not for your role")).to_be_visible()
    page.goto(live_server.url + f"/leads/{world.cid}")
    expect(page.get_by_role("heading", name="Not for your role")).to_be_visible()

    page.goto(live_server.url + "/queue")
    page.get_by_role("link", name="Ann Archer").click()
    page.get_by_text("Recycle…").click()
    page.get_by_label("Reason").first.select_option("bad_timing")
    page.get_by_role("button", name="Recycle", exact=True).click()
    expect(page.locator(".lead-head .stage")).to_have_text("Recycled")
    page.get_by_role("link", name="My queue").click()
    expect(page.locator("#queue-table tbody tr")).to_have_count(1)
    expect(page.locator("#queue-table tbody")).to_contain_text("Nothing waiting")


def test_the_lead_list_works_on_a_phone(
    phone: Page,
    live_server: LiveServer,
    world: World,
    artifacts: Path,
    request: pytest.FixtureRequest,
) -> None:
    sign_in(phone, live_server, "/leads", "mia")
    expect(phone.get_by_role("heading", name="Leads")).to_be_visible()
    phone.get_by_label("Stage").select_option("sql")
    phone.get_by_role("button", name="Apply").click()
    expect(phone.locator("#leads-table tbody tr")).to_have_count(1)
    expect(phone.locator("#leads-table tbody")).to_contain_text("Cid Cole")
    # Nothing wider than the screen but the table, which scrolls in its own box.
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    shot(phone, artifacts, request, "leads-phone")
