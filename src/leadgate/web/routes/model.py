"""The model page: the active scoring model in words, and which signals convert."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import HTMLResponse

from leadgate.analytics.signals import SignalsReport, signals_report
from leadgate.services.errors import NoActiveModel
from leadgate.services.queries import model_versions
from leadgate.web.access import sees_analytics
from leadgate.web.auth import CurrentUser, Forbidden, Reports, Wired
from leadgate.web.labels import stage_label
from leadgate.web.model_words import in_words
from leadgate.web.periods import PRESET_LABELS, pick_period
from leadgate.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/model")
def model_page(
    request: Request,
    user: CurrentUser,
    wired: Wired,
    reports: Reports,
    period: str | None = None,
    start: Annotated[str | None, Query(alias="from")] = None,
    end: Annotated[str | None, Query(alias="to")] = None,
) -> HTMLResponse:
    if not sees_analytics(user):
        raise Forbidden("The scoring model page is for marketing and admins.")
    picked = pick_period(
        period or (None if start or end else "90d"), start, end, now=datetime.now(UTC)
    )
    versions = model_versions(wired.uow())
    active = next((v for v in versions if v.is_active), None)
    if active is None:
        return render(
            request,
            "model.html",
            user,
            active=None,
            words=None,
            picked=picked,
            presets=PRESET_LABELS,
            message=str(NoActiveModel()),
            signals=None,
        )

    def compute() -> SignalsReport:
        with wired.engine.connect() as connection:
            return signals_report(connection, picked.period, model_version=active.version)

    signals = reports.get(("signals", picked.period, active.version), compute)
    descriptions = {r.id: r.description for r in active.model.engagement_rules}
    return render(
        request,
        "model.html",
        user,
        active=active,
        words=in_words(active.model),
        picked=picked,
        presets=PRESET_LABELS,
        signals=signals,
        descriptions=descriptions,
        stage_label=stage_label,
        message=None,
    )
