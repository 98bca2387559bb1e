"""The domain imports nothing but the standard library and itself (DESIGN.md)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import leadgate.domain

DOMAIN = Path(leadgate.domain.__file__).parent


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.startswith("leadgate."):
                found.add(".".join(node.module.split(".")[:2]))
            else:
                found.add(node.module.split(".")[0])
    return found


def test_domain_imports_only_the_standard_library_and_itself() -> None:
    offenders = {}
    for path in sorted(DOMAIN.glob("*.py")):
        bad = {
            name
            for name in _imports(path)
            if name not in sys.stdlib_module_names and name not in ("__future__", "leadgate.domain")
        }
        if bad:
            offenders[path.name] = sorted(bad)
    assert offenders == {}
