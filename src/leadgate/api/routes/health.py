"""Liveness and readiness, for load balancers and orchestrators."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from leadgate.adapters.db.migrate import current_revision, head_revision
from leadgate.api.errors import ApiError, ErrorBody
from leadgate.bootstrap import App

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


class Ready(BaseModel):
    status: str
    database: str
    schema_revision: str | None
    schema_needed: str


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """The process is up and answering."""
    return Health(status="ok")


@router.get("/readyz", response_model=Ready, responses={503: {"model": ErrorBody}})
def readyz(request: Request) -> Ready:
    """The database answers and its schema is the one this leadgate needs."""
    wired: App = request.app.state.leadgate
    try:
        with wired.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        current = current_revision(wired.engine)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise ApiError(503, "database_unavailable", f"database unreachable: {reason}") from None
    needed = head_revision()
    if current != needed:
        raise ApiError(
            503,
            "schema_not_current",
            f"database schema is at {current or 'none'}, leadgate needs {needed}: "
            "run `leadgate db upgrade`",
        )
    return Ready(
        status="ready",
        database=wired.engine.dialect.name,
        schema_revision=current,
        schema_needed=needed,
    )
