"""Scoring models shipped with leadgate."""

from __future__ import annotations

from importlib.resources import files


def default_model_text() -> str:
    """The YAML text of the shipped default B2B SaaS model (docs/scoring-model.md)."""
    return files("leadgate.models").joinpath("default.yaml").read_text(encoding="utf-8")
