"""Route: backtest a candidate scoring model against the recorded history."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from leadgate.adapters.model_yaml import validate_model
from leadgate.api.auth import require
from leadgate.api.errors import ERROR_RESPONSES, ApiError, ErrorBody
from leadgate.api.schemas.backtest import BacktestIn, BacktestOut
from leadgate.api.schemas.models import problems
from leadgate.bootstrap import App
from leadgate.domain.keys import ApiKey, Scope
from leadgate.domain.scoring_model import ScoringModel
from leadgate.services.backtest import Baseline, report_json, run_backtest

router = APIRouter(prefix="/v1/models", tags=["scoring models"])

Reader = Annotated[ApiKey, Depends(require(Scope.READ))]


def _wired(request: Request) -> App:
    return request.app.state.leadgate  # type: ignore[no-any-return]


Wired = Annotated[App, Depends(_wired)]


def _model(document: str, field: str) -> ScoringModel:
    report = validate_model(document, source=field)
    if report.errors or report.model is None:
        first = report.errors[0]
        more = f" (and {len(report.errors) - 1} more)" if len(report.errors) > 1 else ""
        raise ApiError(
            422,
            "invalid_model",
            f"{field} is not a valid scoring model: {first}{more}",
            errors=problems(report.errors),
        )
    return report.model


_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    404: {"model": ErrorBody, "description": "No such baseline version"},
    409: {"model": ErrorBody, "description": "No model is active (with against=active)"},
}


@router.post(
    "/backtest",
    response_model=BacktestOut,
    response_model_by_alias=True,
    responses=_RESPONSES,
    summary="Backtest a candidate model against the recorded history",
)
def backtest(body: BacktestIn, key: Reader, wired: Wired) -> dict[str, Any]:
    """Replays the recorded touchpoints through the candidate and the baseline at the end of
    each day (UTC) of the window (default: the 90 days ending today), as `leadgate backtest`
    does, and returns per week the MQLs and sales-ready leads each model would have
    produced, how many converted, the opportunities and customers each caught, the timing
    of the candidate's flags, and the leads whose status would change (``changes_limit``
    from ``changes_offset``; ``changes_total`` says how many). An invalid model is a 422
    whose ``errors`` give line and column. Nothing is stored."""
    candidate = _model(body.candidate, "candidate")
    if body.against_document is not None:
        baseline = Baseline(
            model=_model(body.against_document, "against_document"), source="document"
        )
    elif body.against == "active":
        baseline = Baseline()
    else:
        baseline = Baseline(version=int(body.against))
    report = run_backtest(
        wired.uow(),
        candidate,
        candidate_source="document",
        baseline=baseline,
        first=body.first,
        last=body.last,
        converted=body.converted,
        now=datetime.now(UTC),
    )
    return report_json(report, body.changes_offset, body.changes_limit)
