"""Reading named values out of nested trait and property dictionaries."""

from __future__ import annotations

from typing import Any


def lookup(data: dict[str, Any], dotted: str) -> Any:
    """Given nested dicts and a name such as 'utm.campaign', return the value there or None.

    A key that itself contains dots ('utm.campaign' stored flat) is found first.
    """
    if dotted in data:
        return data[dotted]
    current: Any = data
    for part in dotted.split("."):
        if not isinstance(current, dict) or part not in current:
            return None
        current = current[part]
    return current
