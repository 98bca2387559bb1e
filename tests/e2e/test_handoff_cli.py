"""`leadgate handoffs` and `leadgate handoff-config` on SQLite and PostgreSQL.

The commands run in this process through Typer's runner (the same app object the console
script calls), because a fresh interpreter per command would cost a second or two each and
these tests run dozens; `test_the_console_script_lists_the_handoff_commands` runs the real
script once. Leads get to sales the documented way: `import accounts`, `import leads`,
`ingest` touchpoints that cross the sales-ready gate.

The helpers here (``cli``, ``seed`` ...) are shared by the other handoff-era CLI tests.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import click
import pytest
import typer
from click.testing import CliRunner
from sqlalchemy import Engine, select

from leadgate.adapters.db import tables as t
from leadgate.adapters.handoff_yaml import load_handoff_config
from leadgate.cli import _common, app
from leadgate.models.handoff import default_handoff_text
from tests.e2e.test_cli import leadgate, ok

USER = "pat.tester"


@dataclass(frozen=True)
class Ran:
    code: int
    stdout: str
    stderr: str

    def ok(self) -> str:
        assert self.code == 0, f"exit {self.code}\n{self.stderr}{self.stdout}"
        return self.stdout

    def json(self) -> Any:
        return json.loads(self.ok())

    def error(self, code: int) -> str:
        """The one-line message of a command that failed with ``code``."""
        assert self.code == code, f"exit {self.code}, wanted {code}\n{self.stderr}{self.stdout}"
        assert "Traceback" not in self.stderr + self.stdout
        lines = self.stderr.strip().splitlines()
        assert len(lines) == 1, self.stderr
        assert lines[0].startswith("error: "), lines[0]
        return lines[0]


@cache
def _command() -> click.Command:
    # Built once: turning the Typer app into a click command is most of an invocation.
    return typer.main.get_command(app)


def cli(url: str, *args: str, user: str = USER) -> Ran:
    """Run ``leadgate ARGS`` against the database at ``url``, as user ``user``."""
    env = {"LEADGATE_DATABASE_URL": url, "USER": user, "COLUMNS": "200", "NO_COLOR": "1"}
    # The consoles read COLUMNS when the module is imported; a subprocess would see 200.
    widths = (_common.console.width, _common.err_console.width)
    _common.console.width = _common.err_console.width = 200
    try:
        result = CliRunner().invoke(_command(), list(args), env=env, catch_exceptions=False)
    finally:
        _common.console.width, _common.err_console.width = widths
    return Ran(result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def url(engine: Engine, default_model: int) -> str:
    """A migrated database (SQLite file or PostgreSQL) with the default model active."""
    return engine.url.render_as_string(hide_password=False)


ACCOUNTS = """\
domain,name,industry,employees,country,region,technographics
acme.io,Acme,software,200,DE,EMEA,salesforce
globex.com,Globex,fintech,400,US,NA,salesforce
initech.com,Initech,retail,20,FR,EMEA,
"""
LEADS = """\
email,first_name,last_name,seniority,department,account_domain
ann@acme.io,Ann,Lee,vp,marketing,acme.io
bob@globex.com,Bob,Ray,director,sales,globex.com
eve@globex.com,Eve,Cho,vp,revops,globex.com
cat@acme.io,Cat,Kim,manager,marketing,acme.io
dan@initech.com,Dan,Fox,student,other,initech.com
"""
# Three pricing visits and a webinar put a grade-A lead past the sales-ready gate (total
# 80, grade A or B); Cat reads one ebook and stays a lead; Dan does nothing.
SALES_READY = ("ann@acme.io", "bob@globex.com", "eve@globex.com")


def seed(url: str, folder: Path) -> dict[str, int]:
    """Import the accounts and leads above and ingest their touchpoints; return lead ids
    by email."""
    now = datetime.now(UTC)
    accounts = folder / "accounts.csv"
    accounts.write_text(ACCOUNTS, encoding="utf-8")
    leads = folder / "leads.csv"
    leads.write_text(LEADS, encoding="utf-8")
    cli(url, "import", "accounts", str(accounts)).ok()
    cli(url, "import", "leads", str(leads)).ok()
    lines = []
    for email in SALES_READY:
        for i in range(3):
            lines.append(
                {
                    "message_id": f"{email}-pricing-{i}",
                    "name": "page_view",
                    "occurred_at": (now - timedelta(hours=10 - i)).isoformat(),
                    "email": email,
                    "properties": {"path": "/pricing", "category": "pricing"},
                }
            )
        lines.append(
            {
                "message_id": f"{email}-webinar",
                "name": "webinar_attended",
                "occurred_at": (now - timedelta(hours=5)).isoformat(),
                "email": email,
                "properties": {"title": "Scoring 101"},
            }
        )
    lines.append(
        {
            "message_id": "cat-ebook",
            "name": "content_download",
            "occurred_at": (now - timedelta(hours=3)).isoformat(),
            "email": "cat@acme.io",
            "properties": {"title": "Lead scoring ebook"},
        }
    )
    touchpoints = folder / "touchpoints.jsonl"
    touchpoints.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    cli(url, "ingest", str(touchpoints)).ok()
    return {row["email"]: row["lead_id"] for row in cli(url, "score", "--json").json()}


def stages(engine: Engine) -> dict[int, str]:
    with engine.connect() as connection:
        return dict(connection.execute(select(t.leads.c.id, t.leads.c.stage)).all())  # type: ignore[arg-type]


def test_the_console_script_lists_the_handoff_commands(tmp_path: Path) -> None:
    root = ok(leadgate(tmp_path / "x.db", "--help"))
    for command in ("handoffs", "feedback", "endpoints", "outbox", "handoff-config", "audiences"):
        assert f" {command} " in root, command
    handoffs = cli(f"sqlite:///{tmp_path / 'x.db'}", "handoffs", "--help").ok()
    for command in ("list", "show", "push", "touch"):
        assert f" {command} " in handoffs, command
    assert not (tmp_path / "x.db").exists(), "--help must not touch the database"


def test_gates_hand_off_and_handoffs_list_show_push_touch(
    url: str, engine: Engine, tmp_path: Path
) -> None:
    ids = seed(url, tmp_path)
    ann, bob, cat = ids["ann@acme.io"], ids["bob@globex.com"], ids["cat@acme.io"]
    listed = cli(url, "handoffs", "list", "--json").json()
    # Every lead the gate made an SQL has one pending handoff, and no one else has.
    in_sql = {lead for lead, stage in stages(engine).items() if stage == "sql"}
    assert in_sql == {ids[e] for e in SALES_READY}
    assert sorted(h["lead_id"] for h in listed) == sorted(in_sql)
    by_lead = {h["lead_id"]: h for h in listed}
    for handoff in listed:
        assert (handoff["kind"], handoff["status"], handoff["sla_status"]) == (
            "gate",
            "pending",
            "open",
        )
        assert handoff["owner"], "a rep is free in every team of the shipped config"
        assert handoff["due_at"] > handoff["created_at"]
    # The shipped routing: US accounts go to the na team, the rest to emea.
    assert by_lead[ann]["team"] == "emea"
    assert by_lead[bob]["team"] == "na"
    assert by_lead[ann]["email"] == "ann@acme.io"

    # Filters and pages.
    assert [
        h["lead_id"] for h in cli(url, "handoffs", "list", "--team", "emea", "--json").json()
    ] == [ann]
    owner = by_lead[bob]["owner"]
    owned = cli(url, "handoffs", "list", "--owner", owner, "--json").json()
    assert [h["lead_id"] for h in owned] == [h["lead_id"] for h in listed if h["owner"] == owner]
    assert cli(url, "handoffs", "list", "--status", "accepted", "--json").json() == []
    first = cli(url, "handoffs", "list", "--limit", "1", "--json").json()
    assert [h["id"] for h in first] == [listed[0]["id"]]
    rest = cli(url, "handoffs", "list", "--after", str(first[0]["id"]), "--json").json()
    assert [h["id"] for h in rest] == [h["id"] for h in listed[1:]]
    table = cli(url, "handoffs", "list", "--limit", "1")
    assert "ann@acme.io" in table.ok()
    assert f"--after {listed[0]['id']}" in table.stderr, "a person is told how to page on"
    bad = cli(url, "handoffs", "list", "--status", "lost")
    assert bad.code == 2 and "--status" in bad.stderr

    # The context package as Markdown, and as JSON.
    shown = cli(url, "handoffs", "show", str(by_lead[ann]["id"])).ok()
    assert shown.startswith(f"## Handoff {by_lead[ann]['id']}: Ann Lee (lead {ann})")
    for section in ("### Who", "### Company", "### Why now", "### Pages and content"):
        assert section in shown, section
    assert "**Acme** (acme.io) · software · 200 employees" in shown
    assert "`pricing_page`" in shown, "why now names the rules that fired"
    assert "mql → sql" in shown, "earlier stages are listed"
    package = cli(url, "handoffs", "show", str(by_lead[ann]["id"]), "--json").json()
    assert package["context"]["lead"]["email"] == "ann@acme.io"
    assert package["context"]["account"]["domain"] == "acme.io"
    assert "no handoff with id 999" in cli(url, "handoffs", "show", "999").error(1)

    # A push by hand: Cat is not sales-ready, sales wants her anyway.
    pushed = cli(url, "handoffs", "push", str(cat), "--json").json()
    assert (pushed["lead_id"], pushed["kind"], pushed["status"]) == (cat, "manual", "pending")
    assert stages(engine)[cat] == "lead", "a push hands off; it does not move the stage"
    again = cli(url, "handoffs", "push", str(cat)).error(2)
    assert f"already has pending handoff {pushed['id']}" in again
    assert "no lead with id 999" in cli(url, "handoffs", "push", "999").error(1)
    with engine.connect() as connection:
        assert connection.execute(
            select(t.handoffs.c.id).where(t.handoffs.c.lead_id == cat)
        ).scalars().all() == [pushed["id"]], "the refused push stored nothing"

    # The explicit first touch.
    target = by_lead[bob]["id"]
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert "--at: " in cli(url, "handoffs", "touch", str(target), "--at", future).error(2)
    early = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    assert "before the handoff" in cli(url, "handoffs", "touch", str(target), "--at", early).error(
        2
    )
    assert "not an ISO 8601" in cli(url, "handoffs", "touch", str(target), "--at", "noon").error(2)
    touched = cli(url, "handoffs", "touch", str(target), "--json").json()
    assert touched["sla_status"] == "met" and touched["first_touch_at"]
    second = cli(url, "handoffs", "touch", str(target)).ok()
    assert "already touched" in second
    assert (
        cli(url, "handoffs", "show", str(target), "--json").json()["first_touch_at"]
        == (touched["first_touch_at"])
    ), "a second touch does not move the first"
    met = cli(url, "handoffs", "list", "--sla-status", "met", "--json").json()
    assert [h["id"] for h in met] == [target]
    assert "no handoff with id 999" in cli(url, "handoffs", "touch", "999").error(1)


def _line_of(text: str, key: str, value: str) -> tuple[int, int]:
    """Line and column of ``value`` written after ``key``, as an editor shows them."""
    for number, line in enumerate(text.splitlines(), start=1):
        if f"{key} {value}" in line:
            return number, line.index(f"{key} {value}") + len(key) + 2
    raise AssertionError(value)


def test_handoff_config_validate_activate_show_versions(
    url: str, engine: Engine, tmp_path: Path
) -> None:
    shipped = default_handoff_text()
    shown = cli(url, "handoff-config", "show")
    assert shown.ok() == shipped, "before any activation the shipped default is in force"
    assert "shipped default" in shown.stderr
    assert cli(url, "handoff-config", "versions", "--json").json() == []

    broken_text = shipped.replace("strategy: least_loaded", "strategy: fastest").replace(
        "default_team: emea", "default_team: apac"
    )
    broken = tmp_path / "broken.yaml"
    broken.write_text(broken_text, encoding="utf-8")
    checked = cli(url, "handoff-config", "validate", str(broken))
    assert checked.code == 2
    *problems, verdict = checked.stderr.strip().splitlines()
    assert verdict.startswith(f"{broken}: invalid (2 errors")
    where = re.compile(rf"^{re.escape(str(broken))}:(\d+):(\d+): error: ")
    located = {}
    for problem in problems:
        match = where.match(problem)
        assert match, problem
        located[(int(match[1]), int(match[2]))] = problem
    strategy_at = _line_of(broken_text, "strategy:", "fastest")
    team_at = _line_of(broken_text, "default_team:", "apac")
    assert "fastest" in located.get(strategy_at, ""), problems
    assert "apac" in located.get(team_at, ""), problems
    as_json = cli(url, "handoff-config", "validate", str(broken), "--json")
    assert as_json.code == 2
    report = json.loads(as_json.stdout)
    assert report["valid"] is False
    assert {(e["line"], e["column"]) for e in report["errors"]} == {strategy_at, team_at}

    refused = cli(url, "handoff-config", "activate", str(broken))
    assert refused.code == 2
    assert "not a valid handoff configuration; nothing stored" in refused.stderr
    assert cli(url, "handoff-config", "versions", "--json").json() == []

    # A new recycle reason, activated, is one sales can give at once.
    mine_text = shipped.replace("  - using_competitor\n", "  - using_competitor\n  - went_dark\n")
    assert load_handoff_config(mine_text).recycle_reasons[-2:] == ("went_dark", "other")
    mine = tmp_path / "mine.yaml"
    mine.write_text(mine_text, encoding="utf-8")
    assert cli(url, "handoff-config", "validate", str(mine)).code == 0
    ann = seed(url, tmp_path)["ann@acme.io"]
    before = cli(url, "feedback", "recycle", str(ann), "--reason", "went_dark").error(2)
    assert "--reason: unknown recycle reason 'went_dark'" in before
    activated = cli(url, "handoff-config", "activate", str(mine), "--json").json()
    assert activated == {"version": 1, "previous_version": None, "already_active": False}
    assert cli(url, "feedback", "recycle", str(ann), "--reason", "went_dark").code == 0
    assert stages(engine)[ann] == "recycled"

    shown = cli(url, "handoff-config", "show")
    assert shown.ok() == mine_text
    assert "version 1, active" in shown.stderr and USER in shown.stderr
    again = cli(url, "handoff-config", "activate", str(mine)).ok()
    assert "already active" in again
    versions = cli(url, "handoff-config", "versions", "--json").json()
    assert [(v["version"], v["active"], v["created_by"]) for v in versions] == [(1, True, USER)]
    assert "no handoff configuration version 7" in cli(
        url, "handoff-config", "show", "--version", "7"
    ).error(1)
    assert "no handoff configuration version 7" in cli(
        url, "handoff-config", "activate", "--version", "7"
    ).error(1)
    assert "one of them" in cli(url, "handoff-config", "activate").error(2)
