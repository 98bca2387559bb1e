"""Builders shared by the integration tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from leadgate.adapters.db.unit_of_work import SqlUnitOfWork
from leadgate.services.commands import TouchpointIn
from leadgate.services.models import activate_model

SIMPLE_MODEL = (Path(__file__).parent.parent / "models" / "simple.yaml").read_text()

UowFactory = Callable[[], SqlUnitOfWork]


def activate_simple(uow_factory: UowFactory, at: datetime) -> int:
    return activate_model(uow_factory(), SIMPLE_MODEL, now=at, actor="test").version


def touch(
    mid: str,
    name: str,
    at: datetime,
    *,
    email: str | None = None,
    anonymous_id: str | None = None,
    **properties: Any,
) -> TouchpointIn:
    return TouchpointIn(
        message_id=mid,
        name=name,
        occurred_at=at,
        properties=properties,
        email=email,
        anonymous_id=anonymous_id,
    )


def days(n: float) -> timedelta:
    return timedelta(days=n)
