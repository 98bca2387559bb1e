"""Routes: the handoff configuration (calendars, teams, routing, SLA policies, reasons,
nurture tracks) as versioned YAML documents: show the active one, list, validate, upload,
activate. Like the scoring model: upload a candidate, then activate it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi import Path as PathParam

from leadgate.adapters.handoff_yaml import (
    HandoffConfigInvalid,
    HandoffReport,
    validate_handoff_config,
)
from leadgate.adapters.model_yaml import Problem
from leadgate.api.documents import DOCUMENT_ERRORS, document_body, read_document
from leadgate.api.errors import ERROR_RESPONSES, ApiError, ErrorBody
from leadgate.api.routes.handoff_deps import Admin, Reader, Wired, not_found, now
from leadgate.api.schemas.common import INT32_MAX
from leadgate.api.schemas.handoff_config import (
    MAX_CONFIG_BYTES,
    ActiveConfigOut,
    ConfigActivationOut,
    ConfigDocumentIn,
    ConfigUploaded,
    ConfigVersionDetail,
    ConfigVersionList,
    ConfigVersionOut,
)
from leadgate.api.schemas.models import ProblemOut, ValidationOut, problems
from leadgate.models.handoff import default_handoff_text
from leadgate.services.handoff_config import (
    ConfigVersionNotFound,
    activate_handoff_config,
    active_handoff_config,
    handoff_config_version,
    handoff_config_versions,
    store_handoff_config,
)
from leadgate.services.retry import retry_on_conflict

router = APIRouter(prefix="/v1/handoff-config", tags=["handoff configuration"])

Version = Annotated[int, PathParam(ge=1, le=INT32_MAX, description="Configuration version")]

SOURCE = "document"  # how problems name the document: document:LINE:COLUMN: ...
_INVALID: dict[int | str, dict[str, Any]] = {
    422: {
        "model": ErrorBody,
        "description": "The request does not match the schema (`invalid_request`), or the "
        "document has errors (`invalid_config`): `errors` lists every one with line and column",
    },
}
_DOCUMENT_BODY = document_body("configuration", ConfigDocumentIn)


async def config_document(request: Request) -> str:
    """The configuration document a request carries: YAML text, or JSON ``{"document": ...}``."""
    return await read_document(request, "configuration", MAX_CONFIG_BYTES, ConfigDocumentIn)


Document = Annotated[str, Depends(config_document)]


def report_of(document: str) -> HandoffReport:
    """Every error and warning in a handoff document."""
    return validate_handoff_config(document, SOURCE)


def check(document: str) -> None:
    """Raise HandoffConfigInvalid listing every error, as the use cases expect."""
    report = report_of(document)
    if report.errors:
        raise HandoffConfigInvalid(report.errors)


def _invalid(errors: list[Problem]) -> ApiError:
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return ApiError(
        422,
        "invalid_config",
        f"not a valid handoff configuration: {first}{more}",
        errors=problems(errors),
    )


@router.get("", response_model=ActiveConfigOut, responses=ERROR_RESPONSES, summary="The active one")
def show_active(key: Reader, wired: Wired) -> ActiveConfigOut:
    """The document new handoffs are routed and timed by: the active stored version, or
    the default shipped with leadgate until one is activated."""
    active = active_handoff_config(wired.uow())
    if active is None:
        return ActiveConfigOut(
            source="default",
            version=None,
            created_at=None,
            created_by=None,
            document=default_handoff_text(),
        )
    return ActiveConfigOut(
        source="stored",
        version=active.version,
        created_at=active.created_at,
        created_by=active.created_by,
        document=active.document,
    )


@router.get(
    "/versions",
    response_model=ConfigVersionList,
    responses=ERROR_RESPONSES,
    summary="List stored versions",
)
def list_versions(key: Reader, wired: Wired) -> ConfigVersionList:
    return ConfigVersionList(
        items=[ConfigVersionOut.of(v) for v in handoff_config_versions(wired.uow())]
    )


@router.get(
    "/versions/{version}",
    response_model=ConfigVersionDetail,
    responses={**ERROR_RESPONSES, **not_found("configuration version")},
    summary="Show a version with its YAML document",
)
def show_version(version: Version, key: Reader, wired: Wired) -> ConfigVersionDetail:
    found = handoff_config_version(wired.uow(), version)
    if found is None:
        raise ApiError(404, "not_found", f"no handoff configuration version {version}")
    return ConfigVersionDetail.of(found)


@router.post(
    "/validate",
    response_model=ValidationOut,
    responses=DOCUMENT_ERRORS,
    openapi_extra=_DOCUMENT_BODY,
    summary="Validate a handoff configuration",
)
def validate(document: Document, key: Reader) -> ValidationOut:
    """Every error and warning with line and column; ``valid`` is false when there is any
    error. Nothing is stored."""
    report = report_of(document)
    return ValidationOut(
        valid=not report.errors,
        errors=[ProblemOut.of(p) for p in report.errors],
        warnings=[ProblemOut.of(p) for p in report.warnings],
    )


@router.post(
    "",
    response_model=ConfigUploaded,
    responses={
        **DOCUMENT_ERRORS,
        **_INVALID,
        201: {"model": ConfigUploaded, "description": "Stored as a new version, not active"},
    },
    openapi_extra=_DOCUMENT_BODY,
    summary="Upload a handoff configuration as a new version",
)
def upload(document: Document, response: Response, key: Admin, wired: Wired) -> ConfigUploaded:
    """Validates the document and stores it as a new version, not active (activate it
    with POST /v1/handoff-config/versions/{version}/activate). 201 when new; 200 with the
    stored version when the same document was uploaded before."""
    report = report_of(document)
    if report.errors:
        raise _invalid(report.errors)
    stored, created = retry_on_conflict(
        lambda: store_handoff_config(
            wired.uow(), document, check=check, now=now(), actor=f"api:{key.name}"
        )
    )
    response.status_code = 201 if created else 200
    return ConfigUploaded(
        **ConfigVersionOut.of(stored).model_dump(),
        created=created,
        warnings=[ProblemOut.of(p) for p in report.warnings],
    )


@router.post(
    "/versions/{version}/activate",
    response_model=ConfigActivationOut,
    responses={**ERROR_RESPONSES, **not_found("configuration version"), **_INVALID},
    summary="Activate a version",
)
def activate(version: Version, key: Admin, wired: Wired) -> ConfigActivationOut:
    """Every handoff from now on is routed and timed by this version; handoffs made
    before keep their owner and deadline. The document is checked again first (422
    `invalid_config` if this leadgate reads it as invalid). Activating the active version
    changes nothing (`already_active`)."""
    try:
        activation = retry_on_conflict(
            lambda: activate_handoff_config(wired.uow(), version, check=check, now=now())
        )
    except ConfigVersionNotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    except HandoffConfigInvalid as exc:
        raise _invalid(exc.problems) from None
    return ConfigActivationOut.of(activation)
