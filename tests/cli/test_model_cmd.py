"""``leadgate model validate`` (``leadgate.cli.model_cmd``): the shipped model is valid, and
every problem of a broken one is listed at file:line:column; no database is needed."""

from __future__ import annotations

import re
from pathlib import Path

from tests.cli.runner import REPO, leadgate

DEFAULT_MODEL = REPO / "src" / "leadgate" / "models" / "default.yaml"


def test_model_validate_accepts_the_shipped_model(tmp_path: Path) -> None:
    result = leadgate(tmp_path / "x.db", "model", "validate", str(DEFAULT_MODEL))
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().endswith(f"{DEFAULT_MODEL}: valid (0 errors, 0 warnings)")


BROKEN_MODEL = """\
name: broken
half_life_days: 10
colour: blue
fit:
  - {id: vp, field: seniority, in: [vp, c_level], points: 20}
engagement:
  - id: pricing
    touchpoint: page_view
    where:
      - field: category
        like: pricing
    points: 10
grades:
  A: {min: 20}
  D: {max: 20}
gates:
  mql: {field: total, gte: 10}
  sales_ready: {field: total, gte: 20}
"""


def test_model_validate_points_at_every_problem(tmp_path: Path) -> None:
    file = tmp_path / "broken.yaml"
    file.write_text(BROKEN_MODEL, encoding="utf-8")
    result = leadgate(tmp_path / "x.db", "model", "validate", str(file))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    *problems, verdict = result.stderr.strip().splitlines()
    assert verdict.startswith(f"{file}: invalid (")
    # Every problem says where it is, as file:line:column.
    where = re.compile(rf"^{re.escape(str(file))}:(\d+):(\d+): error: ")
    located: dict[tuple[int, int], str] = {}
    for problem in problems:
        match = where.match(problem)
        assert match, problem
        located[(int(match[1]), int(match[2]))] = problem
    # The unknown key at line 3 and the unknown operator `like` at line 11, column 9.
    assert "colour" in located.get((3, 1), ""), problems
    assert "like" in located.get((11, 9), ""), problems
    assert not (tmp_path / "x.db").exists(), "validating needs no database"
