"""Routes: scoring model versions: list, show, validate, upload (a candidate), activate."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi import Path as PathParam

from leadgate.adapters.model_yaml import ModelInvalid, Problem, ValidationReport, validate_model
from leadgate.api.auth import require
from leadgate.api.documents import DOCUMENT_ERRORS, document_body, read_document
from leadgate.api.errors import ERROR_RESPONSES, ApiError, ErrorBody
from leadgate.api.schemas.models import (
    MAX_DOCUMENT_BYTES,
    ActivationOut,
    ModelDocumentIn,
    ModelUploaded,
    ModelVersionDetail,
    ModelVersionList,
    ModelVersionOut,
    ProblemOut,
    ValidationOut,
    problems,
)
from leadgate.bootstrap import App
from leadgate.domain.keys import ApiKey, Scope
from leadgate.services.models import activate_model, store_model
from leadgate.services.ports import ModelVersion
from leadgate.services.queries import model_version, model_versions

router = APIRouter(prefix="/v1/models", tags=["scoring models"])

Reader = Annotated[ApiKey, Depends(require(Scope.READ))]
Admin = Annotated[ApiKey, Depends(require(Scope.ADMIN))]
Version = Annotated[int, PathParam(ge=1, le=2**31 - 1, description="Model version")]

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such model version"},
}
_DOCUMENT_BODY = document_body("model", ModelDocumentIn)


def _wired(request: Request) -> App:
    return request.app.state.leadgate  # type: ignore[no-any-return]


Wired = Annotated[App, Depends(_wired)]


async def model_document(request: Request) -> str:
    """The model document a request carries: YAML text, or JSON ``{"document": ...}``."""
    return await read_document(request, "model", MAX_DOCUMENT_BYTES, ModelDocumentIn)


Document = Annotated[str, Depends(model_document)]


def _check(document: str) -> ValidationReport:
    return validate_model(document, source="document")


def _version(wired: App, version: int) -> ModelVersion:
    found = model_version(wired.uow(), version)
    if found is None:
        raise ApiError(404, "not_found", f"no model version {version}")
    return found


@router.get("", response_model=ModelVersionList, responses=ERROR_RESPONSES, summary="List")
def list_models(key: Reader, wired: Wired) -> ModelVersionList:
    """Every stored model version, oldest first; one is active."""
    return ModelVersionList(items=[ModelVersionOut.of(v) for v in model_versions(wired.uow())])


@router.post(
    "/validate",
    response_model=ValidationOut,
    responses=DOCUMENT_ERRORS,
    openapi_extra=_DOCUMENT_BODY,
    summary="Validate a model document",
)
def validate(document: Document, key: Reader) -> ValidationOut:
    """Every error and warning with line and column, as `leadgate model validate` lists
    them; ``valid`` is false when there is any error. Nothing is stored."""
    return ValidationOut.of(_check(document))


@router.get(
    "/{version:int}",
    response_model=ModelVersionDetail,
    responses={**ERROR_RESPONSES, **_NOT_FOUND},
    summary="Show a version with its YAML document",
)
def get_model(version: Version, key: Reader, wired: Wired) -> ModelVersionDetail:
    return ModelVersionDetail.of(_version(wired, version))


@router.post(
    "",
    response_model=ModelUploaded,
    responses={
        **DOCUMENT_ERRORS,
        201: {"model": ModelUploaded, "description": "Stored as a new candidate version"},
        409: {"model": ErrorBody, "description": "A concurrent upload; retry"},
        422: {"model": ErrorBody, "description": "Not a valid model: `errors` lists every problem"},
    },
    openapi_extra=_DOCUMENT_BODY,
    summary="Upload a model as a candidate version",
)
def upload(document: Document, response: Response, key: Admin, wired: Wired) -> ModelUploaded:
    """Validates the document and stores it as a new version, not active (activate it with
    POST /v1/models/{version}/activate). 201 when new; 200 with the stored version when the
    same document was uploaded before."""
    report = _check(document)
    if report.errors:
        raise _invalid(report.errors)
    try:
        stored, created = store_model(
            wired.uow(), document, now=datetime.now(UTC), actor=f"api:{key.name}"
        )
    except ModelInvalid as exc:  # the repository's own check; the same as the one above
        raise _invalid(exc.problems) from None
    response.status_code = 201 if created else 200
    return ModelUploaded(
        **ModelVersionOut.of(stored).model_dump(),
        created=created,
        warnings=[ProblemOut.of(p) for p in report.warnings],
    )


def _invalid(errors: list[Problem]) -> ApiError:
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return ApiError(
        422, "invalid_model", f"not a valid scoring model: {first}{more}", errors=problems(errors)
    )


@router.post(
    "/{version:int}/activate",
    response_model=ActivationOut,
    responses={
        **ERROR_RESPONSES,
        **_NOT_FOUND,
        409: {"model": ErrorBody, "description": "A concurrent change; retry"},
    },
    summary="Activate a version and rescore every lead",
)
def activate(version: Version, key: Admin, wired: Wired) -> ActivationOut:
    """Makes the version active and rescores every lead under it, as `leadgate model
    activate` does. Earlier transitions keep the version they were made under; new ones
    carry this one. Activating the active version changes nothing."""
    stored = _version(wired, version)
    result = activate_model(
        wired.uow(), stored.document, now=datetime.now(UTC), actor=f"api:{key.name}"
    )
    return ActivationOut.of(result)
