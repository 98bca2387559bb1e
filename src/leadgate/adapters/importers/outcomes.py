"""The outcome vocabulary: what a CRM writes for a result, and the stage it means.

Values are matched ignoring case, spaces and punctuation ("Closed - Won" = "closedwon").
A value meaning "no result yet" (0, false, an open status, the first lifecycle stages)
records nothing and the row is skipped; a value not listed here is a row error, so a
typo never becomes a silent no-op.
"""

from __future__ import annotations

import re

from leadgate.domain.lifecycle import Stage

_VOCABULARY: dict[Stage | None, tuple[str, ...]] = {
    # A 0/1 or yes/no column such as X Education's or Salesforce's "Converted": 1 is a
    # converted lead, which leadgate records as a customer.
    Stage.CUSTOMER: (
        "1", "true", "yes", "y", "customer", "won", "closed won", "converted",
        "closed - converted", "evangelist",
    ),
    Stage.LOST: ("lost", "closed lost"),
    Stage.DISQUALIFIED: (
        "disqualified", "unqualified", "closed - not converted", "not qualified", "junk",
    ),
    Stage.RECYCLED: ("recycled", "nurture", "nurturing"),
    Stage.OPPORTUNITY: (
        "opportunity", "opp",
        # Salesforce's default open opportunity stages.
        "prospecting", "qualification", "needs analysis", "value proposition",
        "id. decision makers", "perception analysis", "proposal/price quote",
        "negotiation/review",
        # HubSpot's default open deal stages.
        "appointment scheduled", "qualified to buy", "presentation scheduled",
        "decision maker bought-in", "contract sent",
    ),
    Stage.SQL: ("sql", "sales qualified lead", "qualified", "accepted"),
    Stage.MQL: ("mql", "marketing qualified lead"),
    # No result recorded: the row is skipped.
    None: (
        "0", "false", "no", "n", "lead", "subscriber", "other", "new", "open",
        "open - not contacted", "working - contacted", "contacted", "working",
    ),
}  # fmt: skip


def squash(value: str) -> str:
    """Lower case, letters and digits only: how vocabularies and headers are compared."""
    return re.sub(r"[^0-9a-z]+", "", value.casefold())


OUTCOMES: dict[str, Stage | None] = {
    squash(word): stage for stage, words in _VOCABULARY.items() for word in words
}


def outcome_stage(raw: str) -> Stage | None:
    """Given an outcome cell, return the stage it records, or None for no result yet."""
    try:
        return OUTCOMES[squash(raw)]
    except KeyError:
        raise ValueError(
            "unknown outcome (known: won/converted/1, lost, disqualified, recycled, "
            "opportunity, sql, mql, their CRM names, or 0/open for none)"
        ) from None


def vocabulary() -> dict[str, list[str]]:
    """Each stage (and "none") with the values that mean it, for documentation and help."""
    return {(stage.value if stage else "none"): list(words) for stage, words in _VOCABULARY.items()}
