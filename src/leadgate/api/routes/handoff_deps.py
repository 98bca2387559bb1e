"""What the handoff routes share: the wired app, keys by scope, paging parameters, ids,
and turning a use case's "field: message" refusal into an answer that names the field."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi import Path as PathParam

from leadgate.api.auth import require
from leadgate.api.errors import ApiError, ErrorBody
from leadgate.api.schemas.common import ID_CURSOR, INT64_MAX
from leadgate.bootstrap import App
from leadgate.domain.keys import ApiKey, Scope


def _wired(request: Request) -> App:
    return request.app.state.leadgate  # type: ignore[no-any-return]


Wired = Annotated[App, Depends(_wired)]
Reader = Annotated[ApiKey, Depends(require(Scope.READ))]
Writer = Annotated[ApiKey, Depends(require(Scope.WRITE))]
Admin = Annotated[ApiKey, Depends(require(Scope.ADMIN))]

Limit = Annotated[int, Query(ge=1, le=500, description="Rows per page")]
Cursor = Annotated[
    str | None, Query(pattern=ID_CURSOR, description="`next_cursor` of the previous page")
]


def id_path(what: str) -> Any:
    """A path parameter holding a row id (a 64-bit integer, as the tables store it)."""
    return PathParam(ge=1, le=INT64_MAX, description=f"{what} id")


LeadId = Annotated[int, id_path("Lead")]


def now() -> datetime:
    return datetime.now(UTC)


def not_found(what: str) -> dict[int | str, dict[str, Any]]:
    return {404: {"model": ErrorBody, "description": f"No such {what}"}}


_FIELD = re.compile(r"^([A-Za-z_][\w.\[\]]*): (.+)$", re.DOTALL)


def field_error(message: str, *, status: int, code: str, default_field: str = "body") -> ApiError:
    """Given a use case's refusal ("reason: unknown recycle reason ..."), return the error
    answer with ``errors`` naming the field, the shape 422 validation errors have."""
    match = _FIELD.match(message)
    field, detail = (match[1], match[2]) if match else (default_field, message)
    return ApiError(status, code, message, errors=[{"field": field, "message": detail}])
