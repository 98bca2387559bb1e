"""The handoff configuration shipped with leadgate (docs/handoff-config.md)."""

from __future__ import annotations

from importlib.resources import files


def default_handoff_text() -> str:
    """The YAML text of the shipped default handoff configuration: teams emea, na and
    enterprise; Berlin and New York calendars; SLA 1 business hour for demo requests and 4
    for every other handoff.

    Example: ``load_handoff_config(default_handoff_text(), "handoff.yaml")``.
    """
    return files("leadgate.models").joinpath("handoff.yaml").read_text(encoding="utf-8")
