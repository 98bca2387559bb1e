"""`leadgate handoff-config` (``leadgate.cli.handoff_config_cmd``) on SQLite and PostgreSQL:
validate (problems at file:line:column), activate, show and versions; an activated recycle
reason is one `leadgate feedback` accepts at once."""

from __future__ import annotations

import json
import re
from pathlib import Path

from sqlalchemy import Engine

from leadgate.adapters.handoff_yaml import load_handoff_config
from leadgate.models.handoff import default_handoff_text
from tests.cli.runner import USER, cli
from tests.cli.test_handoffs_cmd import seed, stages


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
