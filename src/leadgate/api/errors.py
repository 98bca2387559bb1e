"""One error shape for every endpoint: ``{"code": ..., "message": ...}`` with the right status.

Segment's clients read the status; people read the message, which names the field, the
item or the limit that was broken.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from leadgate.api.responses import JsonResponse
from leadgate.services.errors import (
    ConcurrentUpdate,
    InboxFull,
    InvalidInput,
    NoActiveModel,
    NotFound,
    ServiceError,
)


class ErrorBody(BaseModel):
    """What every error response carries."""

    code: str
    message: str
    errors: list[dict[str, Any]] | None = None


class ApiError(Exception):
    """Raised by routes and dependencies; turned into an ErrorBody response."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
        self.errors = errors


# Status and code for each service error, most specific first.
_SERVICE_ERRORS: list[tuple[type[ServiceError], int, str]] = [
    (NotFound, 404, "not_found"),
    (InvalidInput, 400, "invalid_input"),
    (NoActiveModel, 409, "no_active_model"),
    # A race lost even after retries: a tracking client retries a 503 (never a 409).
    (ConcurrentUpdate, 503, "conflict"),
    # Inbox mode, the qualifier far behind: tracking clients retry a 503 after Retry-After.
    (InboxFull, 503, "inbox_full"),
]

# Error responses for the OpenAPI document, so clients know the shape.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Bad input, named by field or item"},
    401: {"model": ErrorBody, "description": "Missing or unknown API key"},
    403: {"model": ErrorBody, "description": "The key lacks the scope this needs"},
    422: {"model": ErrorBody, "description": "The request does not match the schema"},
}


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    headers: dict[str, str] | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> JsonResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if errors:
        body["errors"] = errors
    return JsonResponse(body, status_code=status, headers=headers)


def service_error_status(exc: ServiceError) -> tuple[int, str]:
    for kind, status, code in _SERVICE_ERRORS:
        if isinstance(exc, kind):
            return status, code
    return 400, "invalid_input"


def _location(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc if part not in ("body", "query", "path"))


def install(app: FastAPI) -> None:
    """Register the handlers that give every failure the one shape."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JsonResponse:
        return error_response(
            exc.status, exc.code, exc.message, headers=exc.headers, errors=exc.errors
        )

    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError) -> JsonResponse:
        status, code = service_error_status(exc)
        wait = exc.retry_after_seconds if isinstance(exc, InboxFull) else 1
        headers = {"Retry-After": str(wait)} if status == 503 else None
        return error_response(status, code, str(exc), headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JsonResponse:
        errors = [
            {
                # Malformed JSON is located by character offset, which is not a field.
                "field": "body" if e["type"] == "json_invalid" else _location(tuple(e["loc"])),
                "message": e["msg"],
            }
            for e in exc.errors()
        ]
        for error in errors:
            error["field"] = error["field"] or "body"
        first = errors[0] if errors else {"field": "body", "message": "invalid"}
        message = f"{first['field']}: {first['message']}"
        if len(errors) > 1:
            message += f" (and {len(errors) - 1} more)"
        return error_response(422, "invalid_request", message, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JsonResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            # Starlette names only the first route on the path; list every method it has.
            headers = {**(headers or {}), "Allow": ", ".join(_allowed(request))}
        return error_response(exc.status_code, code, str(exc.detail), headers=headers)


def _allowed(request: Request) -> list[str]:
    """Every method the documented paths matching this request's path accept."""
    app = request.app
    table = getattr(app.state, "methods_by_path", None)
    if table is None:
        # Built once from the OpenAPI document: FastAPI's own routing tree is internal.
        table = [
            (compile_path(path)[0], {method.upper() for method in operations})
            for path, operations in app.openapi().get("paths", {}).items()
        ]
        app.state.methods_by_path = table
    path = request.url.path
    return sorted({m for pattern, methods in table if pattern.match(path) for m in methods})
