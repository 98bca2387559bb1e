"""Where the shared X Education data set is, for tests that read it.

The docs name it relative to the repository (``../shared/data/...``: the checkout sits
beside ``shared/``); a clone elsewhere (CI's) reads it at its fixed place instead.
"""

from __future__ import annotations

from pathlib import Path

XEDUCATION = Path("/work/shared/data/xeducation/Leads.csv")
DOCUMENTED = "../shared/data/xeducation/Leads.csv"


def located(args: list[str]) -> list[str]:
    """A documented command's arguments with the data set's path made absolute."""
    assert all(a == DOCUMENTED for a in args if a.endswith("Leads.csv")), args
    return [str(XEDUCATION) if a == DOCUMENTED else a for a in args]
