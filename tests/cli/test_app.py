"""The root command (``leadgate.cli``): the commands it lists, and the one-line failures
every command shares when the database cannot be used (``leadgate.cli._common``)."""

from __future__ import annotations

from pathlib import Path

from leadgate.analytics.report_params import REPORT_TABLES
from tests.cli.runner import leadgate, ok, one_line_error


def test_help_lists_the_commands(tmp_path: Path) -> None:
    root = ok(leadgate(tmp_path / "x.db", "--help"))
    for command in (
        "db",
        "model",
        "ingest",
        "score",
        "explain",
        "transitions",
        "stage",
        "rescore",
        "refresh",
        "demo",
    ):
        assert f" {command} " in root, command
    model = ok(leadgate(tmp_path / "x.db", "model", "--help"))
    for command in ("validate", "activate", "show", "list"):
        assert f" {command} " in model, command
    assert not (tmp_path / "x.db").exists(), "--help must not touch the database"


def test_help_lists_the_handoff_commands(tmp_path: Path) -> None:
    root = ok(leadgate(tmp_path / "x.db", "--help"))
    for command in ("handoffs", "feedback", "endpoints", "outbox", "handoff-config", "audiences"):
        assert f" {command} " in root, command
    handoffs = ok(leadgate(tmp_path / "x.db", "handoffs", "--help"))
    for command in ("list", "show", "push", "touch"):
        assert f" {command} " in handoffs, command
    assert not (tmp_path / "x.db").exists(), "--help must not touch the database"


def test_help_lists_the_reports_and_import(tmp_path: Path) -> None:
    root = ok(leadgate(tmp_path / "x.db", "--help"))
    for command in [*REPORT_TABLES, "import"]:
        assert f" {command} " in root, command


def test_a_bad_database_url_is_one_line(tmp_path: Path) -> None:
    error = one_line_error(leadgate("mysql://x", "score", cwd=tmp_path))
    assert "mysql" in error
    assert "sqlite:///" in error, "the message says which URLs work"


def test_an_unmigrated_database_says_to_run_db_upgrade(tmp_path: Path) -> None:
    error = one_line_error(leadgate(tmp_path / "fresh.db", "score"))
    assert "leadgate db upgrade" in error
