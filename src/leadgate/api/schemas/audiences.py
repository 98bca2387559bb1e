"""Request and response bodies for saved audiences.

A condition is written like the predicates of the scoring model and the routing rules,
``{"field": "grade", "in": ["A", "B"]}``, or spelled out as ``{"field": "grade", "op":
"in", "value": ["A", "B"]}``; it is stored (and answered) in the spelled-out form. Values
are checked against their operator here, so an audience that cannot be evaluated (a
broken regex, a ``between`` without two bounds) is refused when it is created rather than
failing at every refresh.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Annotated, Any, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, model_validator

from leadgate.api.schemas.common import INT64_MAX, TraitValue, not_blank, not_nullable
from leadgate.domain.lifecycle import Stage
from leadgate.domain.predicates import Operator
from leadgate.domain.scoring_model import Grade
from leadgate.services.audiences import Refresh
from leadgate.services.handoff_queries import AudienceDetail
from leadgate.services.ports import Audience

_OPERATORS = [o.value for o in Operator]
# Fields whose values are a closed set: a typo there would match nobody, silently.
_KNOWN_VALUES: dict[str, list[str]] = {
    "stage": [s.value for s in Stage],
    "grade": [g.value for g in Grade],
}
_MAX_OPTIONS = 1000
_MAX_TEXT = 1000


def _scalar(value: Any, where: str) -> Any:
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{where}: expected text or a number, got {_kind(value)}")
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{where}: expected a finite number")
        return value
    if isinstance(value, str):
        if len(value) > _MAX_TEXT:
            raise ValueError(f"{where}: longer than {_MAX_TEXT} characters")
        return value
    raise ValueError(f"{where}: expected text or a number, got {_kind(value)}")


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{where}: expected a number, got {_kind(value)}")
    return float(value)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", list: "a list", dict: "an object", str: "text"}.get(
        type(value), "a number"
    )


def checked_value(op: Operator, value: Any, where: str) -> Any:
    """Given an operator and its value, return the value, or raise naming what is wrong."""
    if op in (Operator.IN, Operator.NOT_IN):
        if not isinstance(value, list) or not value:
            raise ValueError(f"{where}: {op.value} needs a non-empty list")
        if len(value) > _MAX_OPTIONS:
            raise ValueError(f"{where}: at most {_MAX_OPTIONS} options")
        return [_scalar(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if op is Operator.BETWEEN:
        if not isinstance(value, list) or len(value) != 2:
            raise ValueError(f"{where}: between needs [low, high]")
        low, high = (_number(v, f"{where}[{i}]") for i, v in enumerate(value))
        if low > high:
            raise ValueError(f"{where}: low {low:g} is above high {high:g}")
        return value
    if op in (Operator.GTE, Operator.LTE):
        _number(value, where)
        return value
    if op is Operator.EXISTS:
        if not isinstance(value, bool):
            raise ValueError(f"{where}: exists needs true or false")
        return value
    if op is Operator.REGEX:
        if not isinstance(value, str) or len(value) > _MAX_TEXT:
            raise ValueError(f"{where}: regex needs a pattern of at most {_MAX_TEXT} characters")
        try:
            re.compile(value, re.IGNORECASE)
        except re.error as exc:
            raise ValueError(f"{where}: not a valid regular expression: {exc}") from None
        return value
    return _scalar(value, where)  # eq, contains


class ConditionIn(BaseModel):
    """``field`` and one operator: ``{"field": "stage", "in": ["recycled"]}`` or
    ``{"field": "stage", "op": "in", "value": ["recycled"]}``. Fields: ``stage``,
    ``grade``, ``score`` (or ``total``), ``fit``, ``engagement``, any lead attribute
    (``seniority``, ``country``, ``owner`` ...), ``account.*``, ``traits.*``."""

    model_config = ConfigDict(extra="forbid")

    field: Annotated[str, not_blank(255)]
    op: Operator | None = Field(
        default=None, description="With `value`", json_schema_extra=not_nullable
    )
    value: TraitValue = None
    eq: TraitValue = None
    in_: TraitValue = Field(default=None, alias="in")
    not_in: TraitValue = None
    between: TraitValue = None
    gte: TraitValue = None
    lte: TraitValue = None
    contains: TraitValue = None
    regex: TraitValue = None
    exists: TraitValue = None

    @model_validator(mode="before")
    @classmethod
    def _one_operator(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        given = [op for op in _OPERATORS if op in data]
        if "op" in data and data["op"] is None:
            raise ValueError("op: leave it out rather than sending null")
        if "op" in data and given:
            raise ValueError(f"give either op and value or {given[0]!r}, not both")
        if "op" not in data and len(given) != 1:
            what = "several operators" if given else "no operator"
            raise ValueError(
                f"{what}: give exactly one of {', '.join(_OPERATORS)} (or op and value)"
            )
        return data

    @model_validator(mode="after")
    def _checked(self) -> ConditionIn:
        if self.op is None:
            self.op = next(o for o in Operator if _attr(o) in self.model_fields_set)
            self.value = getattr(self, _attr(self.op))
        self.value = checked_value(self.op, self.value, self.op.value)
        known = _KNOWN_VALUES.get(self.field.strip())
        if known and self.op in (Operator.EQ, Operator.IN, Operator.NOT_IN):
            for option in self.value if isinstance(self.value, list) else [self.value]:
                if str(option).casefold() not in {k.casefold() for k in known}:
                    raise ValueError(
                        f"{self.field.strip()} {option!r} does not exist; one of {', '.join(known)}"
                    )
        return self

    def stored(self) -> dict[str, Any]:
        """The condition as ``services.audiences.parse_conditions`` reads it."""
        assert self.op is not None  # set by the validator
        return {"field": self.field.strip(), "op": self.op.value, "value": self.value}


def _attr(op: Operator) -> str:
    return "in_" if op is Operator.IN else op.value


Conditions: TypeAlias = list[ConditionIn]


class AudienceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, not_blank(255)] = Field(description="Unique; stored trimmed")
    conditions: Conditions = Field(
        max_length=50,
        description="Every condition must hold; an empty list is every lead",
    )
    endpoint_id: Annotated[int, Field(ge=1, le=INT64_MAX)] | None = Field(
        default=None, description="Where membership changes are pushed (audience.changed)"
    )

    def stored_conditions(self) -> list[dict[str, Any]]:
        return [condition.stored() for condition in self.conditions]


class ConditionOut(BaseModel):
    field: str
    # As parse_conditions reads a stored condition (the CLI and importers write them too).
    op: Operator = Operator.EQ
    value: Any = None


class AudienceOut(BaseModel):
    id: int
    name: str
    conditions: list[ConditionOut]
    endpoint_id: int | None
    created_at: datetime
    refreshed_at: datetime | None = Field(description="null until the first refresh")
    members: int = Field(description="Members as of the last refresh")

    @classmethod
    def of(cls, audience: Audience, members: int) -> AudienceOut:
        return cls(
            id=audience.id,
            name=audience.name,
            conditions=[ConditionOut.model_validate(c) for c in audience.conditions],
            endpoint_id=audience.endpoint_id,
            created_at=audience.created_at,
            refreshed_at=audience.refreshed_at,
            members=members,
        )

    @classmethod
    def of_detail(cls, detail: AudienceDetail) -> AudienceOut:
        return cls.of(detail.audience, detail.members)


class AudienceList(BaseModel):
    items: list[AudienceOut] = Field(description="Oldest first")


class RefreshOut(BaseModel):
    audience_id: int
    members: int = Field(description="Members now")
    added: int = Field(description="Leads that joined since the last refresh")
    removed: int = Field(description="Leads that left since the last refresh")

    @classmethod
    def of(cls, refresh: Refresh) -> RefreshOut:
        return cls.model_validate(refresh, from_attributes=True)
