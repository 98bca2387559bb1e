"""Names and colours the dashboard shows for stages, models and empty groups (the domain
keeps codes; labels live in the web layer)."""

from __future__ import annotations

from leadgate.analytics.attribution import AttributionModel
from leadgate.domain.lifecycle import Stage

STAGE_LABELS: dict[Stage, str] = {
    Stage.LEAD: "Lead",
    Stage.MQL: "MQL",
    Stage.SQL: "SQL",
    Stage.OPPORTUNITY: "Opportunity",
    Stage.CUSTOMER: "Customer (won)",
    Stage.RECYCLED: "Recycled",
    Stage.DISQUALIFIED: "Disqualified",
    Stage.LOST: "Lost",
}

# For chart labels, where room is short.
SHORT_LABELS: dict[Stage, str] = {**STAGE_LABELS, Stage.OPPORTUNITY: "Opp.", Stage.CUSTOMER: "Won"}

MODEL_LABELS: dict[AttributionModel, str] = {
    AttributionModel.FIRST_TOUCH: "First touch",
    AttributionModel.LAST_TOUCH: "Last touch",
    AttributionModel.LINEAR: "Linear",
    AttributionModel.U_SHAPED: "U-shaped",
    AttributionModel.W_SHAPED: "W-shaped",
    AttributionModel.TIME_DECAY: "Time decay",
}


def stage_label(code: str | Stage) -> str:
    try:
        return STAGE_LABELS[Stage(code)]
    except ValueError:
        return str(code)


def group_label(group: str | None, empty: str = "(none)") -> str:
    return empty if group is None or group == "" else str(group)
