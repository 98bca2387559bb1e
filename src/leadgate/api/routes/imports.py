"""Routes: CSV imports (``POST /v1/imports``), the HTTP face of ``leadgate import``.

The file comes as a multipart upload; the options (kind, preset, map ...) as query
parameters or as form fields of the same upload, whichever the client finds easier
(``curl -F kind=leads -F file=@leads.csv``). Given both ways, lists add up, flags are on
when either is on, and single values must agree.

Answers: 200 with the report when the import stored (or, on a dry run, would store) its
rows. Everything wrong with what was sent is 422, told apart by ``code``:
``invalid_rows`` when rows have errors and nothing was stored (the report is in the body,
``errors`` lists every row error), ``invalid_file`` when the file or the mapping cannot be
used at all (not CSV, unknown column in ``map``, no identity column), ``invalid_request``
when the request does not match the schema. 422 rather than 400 because the request
itself is well formed: its content is what cannot be processed. 413 for a file over 50 MB.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from leadgate.adapters.importers import read_import
from leadgate.api.auth import require
from leadgate.api.errors import ERROR_RESPONSES, ApiError, ErrorBody
from leadgate.api.responses import JsonResponse
from leadgate.bootstrap import App
from leadgate.domain.keys import ApiKey, Scope
from leadgate.services.errors import InvalidInput
from leadgate.services.imports import ImportFile, ImportKind, ImportReport, run_import
from leadgate.services.retry import retry_on_conflict


class _Json(JSONResponse):
    """The app's orjson response, as a JSONResponse so that FastAPI documents the route's
    response model (starlette's plain Response is documented as a string)."""

    render = JsonResponse.render


router = APIRouter(prefix="/v1/imports", tags=["imports"], default_response_class=_Json)

MAX_UPLOAD_BYTES = 50 * 1024 * 1024

Writer = Annotated[ApiKey, Depends(require(Scope.WRITE))]

_T = TypeVar("_T")


class Preset(StrEnum):
    SALESFORCE = "salesforce"
    HUBSPOT = "hubspot"


class ImportOptions(BaseModel):
    """How to read the file; the same options as ``leadgate import``."""

    kind: ImportKind | None = Field(
        None, description="What the file holds, one row each (required, here or in the other)"
    )
    preset: Preset | None = Field(None, description="Column names of a CRM export")
    map: list[str] = Field(
        default_factory=list,
        description="FIELD=COLUMN: read FIELD from COLUMN, e.g. `external_id=Prospect ID`",
    )
    ignore: list[str] = Field(
        default_factory=list, description="Columns to leave out (others become custom traits)"
    )
    placeholder: list[str] = Field(
        default_factory=list, description="More values to read as missing (besides Select, N/A…)"
    )
    no_default_placeholders: bool = Field(
        False, description="Read only empty cells and `placeholder` values as missing"
    )
    encoding: str | None = Field(None, max_length=40, description="Text encoding (utf-8)")
    dry_run: bool = Field(False, description="Check and count everything; store nothing")
    partial: bool = Field(False, description="Store the good rows even when some have errors")


class RowErrorOut(BaseModel):
    row: int
    column: str | None
    value: str | None
    reason: str


class ImportReportOut(BaseModel):
    """What the import did; see ``leadgate.services.imports.ImportReport``."""

    kind: ImportKind
    file: str
    rows: int
    created: int
    updated: int
    unchanged: int
    skipped: int
    errors: int
    transitions: int
    stored: bool
    refused: bool
    dry_run: bool
    partial: bool
    stages: dict[str, int]
    row_errors: list[RowErrorOut]
    placeholders: dict[str, dict[str, int]]
    blanks: dict[str, int]
    columns: dict[str, str]
    traits: dict[str, str]
    seconds: float


class ImportRefused(ErrorBody):
    """Rows had errors, so nothing was stored; ``errors`` lists them, ``report`` has all.
    (A request that does not match the schema has no report.)"""

    report: ImportReportOut | None = None


_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    413: {"model": ErrorBody, "description": "The file is larger than 50 MB"},
    422: {
        "model": ImportRefused,
        "description": "Rows have errors and nothing was stored (`invalid_rows`, with the "
        "report); the file or the mapping cannot be used (`invalid_file`); or the request "
        "does not match the schema (`invalid_request`)",
    },
}


def _one(name: str, query: _T | None, form: _T | None) -> _T | None:
    if query is not None and form is not None and query != form:
        raise ApiError(
            422,
            "invalid_request",
            f"{name}: given as {str(query)!r} in the query and {str(form)!r} in the form",
        )
    return query if query is not None else form


def _read(data: bytes, kind: ImportKind, name: str, options: ImportOptions) -> ImportFile:
    return read_import(
        data,
        kind,
        name=name,
        preset=options.preset.value if options.preset else None,
        maps=options.map,
        ignore=options.ignore,
        placeholders=options.placeholder,
        default_placeholders=not options.no_default_placeholders,
        encoding=options.encoding or "utf-8",
    )


def _run(wired: App, parsed: ImportFile, options: ImportOptions, actor: str) -> ImportReport:
    return retry_on_conflict(
        lambda: run_import(
            wired.uow(),
            parsed,
            now=datetime.now(UTC),
            partial=options.partial,
            dry_run=options.dry_run,
            actor=actor,
        )
    )


@router.post(
    "",
    summary="Import a CSV file of leads, accounts, touchpoints or outcomes",
    response_model=ImportReportOut,
    responses=_RESPONSES,
)
async def create_import(
    request: Request,
    key: Writer,
    file: Annotated[UploadFile, File(description="The CSV file")],
    query: Annotated[ImportOptions, Query()],
    form: Annotated[ImportOptions, Form()],
) -> Any:
    """Check every row, then store them all in one transaction, or none when any row has
    an error (unless `partial`). Importing the same file again changes nothing."""
    kind = _one("kind", query.kind, form.kind)
    if kind is None:
        raise ApiError(
            422,
            "invalid_request",
            "kind: required (leads, accounts, touchpoints or outcomes), as a query "
            "parameter or a form field",
        )
    preset = _one("preset", query.preset, form.preset)
    options = ImportOptions(
        kind=kind,
        preset=preset,
        map=[*query.map, *form.map],
        ignore=[*query.ignore, *form.ignore],
        placeholder=[*query.placeholder, *form.placeholder],
        no_default_placeholders=query.no_default_placeholders or form.no_default_placeholders,
        encoding=_one("encoding", query.encoding, form.encoding),
        dry_run=query.dry_run or form.dry_run,
        partial=query.partial or form.partial,
    )
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise ApiError(413, "too_large", "the file is larger than 50 MB; split it")
    name = (file.filename or "upload.csv").replace("\\", "/").rsplit("/", 1)[-1]
    try:
        parsed = await run_in_threadpool(_read, data, kind, name, options)
    except InvalidInput as exc:
        raise ApiError(422, "invalid_file", str(exc)) from None
    wired: App = request.app.state.leadgate
    report = await run_in_threadpool(_run, wired, parsed, options, f"key:{key.name}")
    body = asdict(report)
    if report.refused:
        return _Json(
            {
                "code": "invalid_rows",
                "message": f"{report.errors} of {report.rows} rows have errors; nothing was "
                "stored (fix them, or send partial=true to store the good rows)",
                "errors": body["row_errors"],
                "report": body,
            },
            status_code=422,
        )
    return _Json(body)
