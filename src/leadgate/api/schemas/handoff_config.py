"""Request and response bodies for the handoff configuration (routing and SLA YAML)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from leadgate.api.schemas.models import ProblemOut
from leadgate.services.handoff_config import ConfigActivation
from leadgate.services.ports import ConfigVersion

# The largest document accepted, in bytes (the shipped one is about 5 KB).
MAX_CONFIG_BYTES = 1_000_000


class ConfigDocumentIn(BaseModel):
    """A handoff configuration as JSON; the same document may be sent as YAML text."""

    model_config = ConfigDict(extra="forbid")

    document: str = Field(description="The configuration's YAML text")


class ConfigVersionOut(BaseModel):
    version: int
    is_active: bool
    created_at: datetime
    created_by: str

    @classmethod
    def of(cls, version: ConfigVersion) -> ConfigVersionOut:
        return cls.model_validate(version, from_attributes=True)


class ConfigVersionList(BaseModel):
    items: list[ConfigVersionOut] = Field(description="Oldest first; at most one is active")


class ConfigVersionDetail(ConfigVersionOut):
    document: str = Field(description="The YAML document as stored")

    @classmethod
    def of(cls, version: ConfigVersion) -> ConfigVersionDetail:
        return cls.model_validate(version, from_attributes=True)


class ActiveConfigOut(BaseModel):
    """The configuration every new handoff is routed and timed by."""

    source: Literal["stored", "default"] = Field(
        description="stored: an activated version; default: the configuration shipped with "
        "leadgate, in force until a version is activated"
    )
    version: int | None = Field(description="null for the shipped default")
    created_at: datetime | None
    created_by: str | None
    document: str


class ConfigUploaded(ConfigVersionOut):
    created: bool = Field(description="False when the same document was already stored")
    warnings: list[ProblemOut]


class ConfigActivationOut(BaseModel):
    version: int
    previous_version: int | None = Field(description="null: the shipped default was in force")
    already_active: bool = Field(description="It was active already; nothing changed")

    @classmethod
    def of(cls, activation: ConfigActivation) -> ConfigActivationOut:
        return cls.model_validate(activation, from_attributes=True)
