"""Request and response bodies for scoring model versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from leadgate.adapters.model_yaml import Problem, ValidationReport
from leadgate.services.models import Activation
from leadgate.services.ports import ModelVersion

# The largest model document accepted, in bytes (the shipped model is about 10 KB).
MAX_DOCUMENT_BYTES = 1_000_000


class ModelDocumentIn(BaseModel):
    """A scoring model as JSON; the same document may be sent as YAML text instead."""

    model_config = ConfigDict(extra="forbid")

    document: str = Field(description="The model's YAML text")


class ProblemOut(BaseModel):
    """One problem in a model document, where it is, and the line `leadgate model
    validate` prints for it."""

    severity: str = Field(description="error or warning")
    line: int
    column: int
    path: str = Field(description="Where in the document, e.g. engagement_rules[2].points")
    message: str
    text: str = Field(description="As `leadgate model validate` prints it: line:column: ...")

    @classmethod
    def of(cls, problem: Problem) -> ProblemOut:
        return cls(
            severity=problem.severity,
            line=problem.line,
            column=problem.column,
            path=problem.path,
            message=problem.message,
            text=str(problem),
        )


def problems(items: list[Problem]) -> list[dict[str, Any]]:
    return [ProblemOut.of(p).model_dump() for p in items]


class ValidationOut(BaseModel):
    valid: bool = Field(description="No errors (warnings allowed)")
    errors: list[ProblemOut]
    warnings: list[ProblemOut]

    @classmethod
    def of(cls, report: ValidationReport) -> ValidationOut:
        return cls(
            valid=not report.errors,
            errors=[ProblemOut.of(p) for p in report.errors],
            warnings=[ProblemOut.of(p) for p in report.warnings],
        )


class ModelVersionOut(BaseModel):
    version: int
    name: str
    checksum: str = Field(description="SHA-256 of the document")
    is_active: bool
    created_at: datetime
    created_by: str
    activated_at: datetime | None = Field(description="When it was last activated")

    @classmethod
    def of(cls, version: ModelVersion) -> ModelVersionOut:
        return cls.model_validate(version, from_attributes=True)


class ModelVersionList(BaseModel):
    items: list[ModelVersionOut] = Field(description="Oldest first")


class ModelVersionDetail(ModelVersionOut):
    document: str = Field(description="The YAML document as stored")

    @classmethod
    def of(cls, version: ModelVersion) -> ModelVersionDetail:
        return cls.model_validate(version, from_attributes=True)


class ModelUploaded(ModelVersionOut):
    created: bool = Field(description="False when the same document was already stored")
    warnings: list[ProblemOut]


class ActivationOut(BaseModel):
    version: int
    name: str
    previous_version: int | None
    already_active: bool = Field(description="It was active already; nothing changed")
    rescored: int = Field(description="Leads rescored under this version")
    transitions: int = Field(description="Stage transitions the new scores caused")

    @classmethod
    def of(cls, activation: Activation) -> ActivationOut:
        return cls.model_validate(activation, from_attributes=True)
