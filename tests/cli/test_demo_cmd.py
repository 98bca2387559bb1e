"""``leadgate demo --no-serve`` (``leadgate.cli.demo_cmd``): the same seed gives the same
world and output, and an existing workspace is not overwritten without ``--reset``."""

from __future__ import annotations

from pathlib import Path

from tests.cli.runner import Ran, count, leadgate, ok, one_line_error


def demo(database: Path, *args: str) -> Ran:
    return leadgate(database, "demo", "--leads", "200", "--days", "30", "--no-serve", *args)


def test_demo_is_reproducible_and_refuses_to_overwrite(tmp_path: Path) -> None:
    runs = [("one.db", "3"), ("two.db", "3"), ("three.db", "4")]
    # One after another: the commands share this process's standard streams.
    first, second, other = [
        ok(demo(tmp_path / name, "--seed", seed, "--reset")) for name, seed in runs
    ]
    assert first == second, "same seed, same output"
    assert other != first, "another seed, another world"
    assert "Funnel: 200 leads" in first
    for stage in ("lead", "mql", "sql", "opportunity", "customer"):
        assert f" {stage} " in first, stage
    assert "Top 10 leads" in first
    assert count(tmp_path / "one.db", "leads") == 200

    refused = demo(tmp_path / "one.db", "--seed", "3")
    assert "--reset" in one_line_error(refused, 2)
    assert count(tmp_path / "one.db", "leads") == 200
