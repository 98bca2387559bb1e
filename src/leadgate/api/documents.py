"""YAML documents sent to the API (scoring models, handoff configurations): read by hand,
because a client may send the YAML text itself or JSON ``{"document": "..."}``."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from leadgate.api.errors import ERROR_RESPONSES, ApiError, ErrorBody

YAML_TYPES = ("text/yaml", "application/yaml", "application/x-yaml", "text/x-yaml", "text/plain")

DOCUMENT_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    413: {"model": ErrorBody, "description": "The document is larger than 1 MB"},
    415: {"model": ErrorBody, "description": "Neither YAML text nor JSON"},
}


def document_body(what: str, json_model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI request body of a route that takes a document (FastAPI cannot infer it
    from a body read by hand)."""
    return {
        "requestBody": {
            "required": True,
            "description": f'The {what}\'s YAML text, or JSON `{{"document": "..."}}`',
            "content": {
                # Any YAML text is read; whether it is valid is what the answer says.
                "text/yaml": {"schema": {}},
                "application/json": {"schema": json_model.model_json_schema()},
            },
        }
    }


async def read_document(
    request: Request, what: str, max_bytes: int, json_model: type[BaseModel]
) -> str:
    """Given a request, return the document it carries (``json_model`` wraps it in a
    ``document`` field): 415 for another media type, 413
    past ``max_bytes``, 422 naming the field for a malformed JSON wrapper, 400 for text
    that is not UTF-8."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/json" and media_type not in YAML_TYPES:
        raise ApiError(
            415,
            "unsupported_media_type",
            f"send the {what} as text/yaml or as application/json, not {media_type or 'nothing'}",
        )
    body = await request.body()
    if len(body) > max_bytes:
        raise ApiError(
            413, "too_large", f"the {what} document is larger than {max_bytes / 1e6:g} MB"
        )
    if media_type == "application/json":
        try:
            return str(json_model.model_validate_json(body).model_dump()["document"])
        except ValidationError as exc:
            # The same 422 as any other malformed JSON body, naming the field.
            raise RequestValidationError(
                [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
            ) from None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_input", f"the {what} document is not UTF-8 text") from None
