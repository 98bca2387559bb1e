"""The active scoring model version, which nearly every use case starts from."""

from __future__ import annotations

from leadgate.services.errors import NoActiveModel
from leadgate.services.ports import ModelVersion, UnitOfWork


def active_model(uow: UnitOfWork) -> ModelVersion:
    """The active scoring model version, or NoActiveModel."""
    active = uow.models.active()
    if active is None:
        raise NoActiveModel()
    return active
