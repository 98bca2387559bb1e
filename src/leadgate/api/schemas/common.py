"""Types the REST schemas share: bounded text, domains, emails, JSON traits, cursors.

Every constraint a handler or the database would enforce is stated here, in the schema,
so the OpenAPI document says exactly what is accepted: a value the document allows is
stored, one it forbids is refused with 422 naming the field. That is what keeps, say, a
NUL character (which PostgreSQL refuses in text) or a 400-character title (longer than its
column) from ever reaching the database.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, TypeAlias

from annotated_types import GroupedMetadata
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    Strict,
    StringConstraints,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)
from typing_extensions import TypeAliasType

from leadgate.domain.errors import InvalidIdentity
from leadgate.domain.identity import normalise_domain, normalise_email

# What Python's str.isspace() (and so str.strip() and the domain's \s) calls white space,
# spelled out so the patterns below mean the same to every regex engine that reads the
# document (JSON Schema validators, schemathesis) as to the Python checks that enforce them.
WHITESPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"

NO_NUL = r"^[^\x00]*$"
# At least one character that is not white space, and no NUL.
NOT_BLANK = rf"^[^\x00]*[^\x00{WHITESPACE}][^\x00]*$"
_LOCAL = rf"[^@\x00{WHITESPACE}]+"
# The domain's own email check (name@domain.tld, white space around it is trimmed), minus NUL.
EMAIL_PATTERN = rf"^[{WHITESPACE}]*{_LOCAL}@{_LOCAL}\.{_LOCAL}[{WHITESPACE}]*$"
_LABEL = rf"[^@/:.\x00{WHITESPACE}]+"
# A bare domain name such as acme.io (any case; a leading "www." is dropped).
DOMAIN_PATTERN = rf"^{_LABEL}(\.{_LABEL})+$"
_DOMAIN = re.compile(DOMAIN_PATTERN)

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1

# The patterns are written into the document and checked here in Python, so that a refusal
# says what is wrong ("must not be blank") rather than quoting the pattern.


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _not_blank(value: str) -> str:
    if not _no_nul(value).strip():
        raise ValueError("must not be blank")
    return value


@dataclass(frozen=True, slots=True)
class _Checked(GroupedMetadata):
    """A string's width, its pattern for the document, and the Python check enforcing it."""

    max_length: int | None
    pattern: str
    check: Callable[[str], str]

    def __iter__(self) -> Iterator[object]:
        if self.max_length is not None:
            yield StringConstraints(max_length=self.max_length)
        yield Field(json_schema_extra={"pattern": self.pattern})
        yield AfterValidator(self.check)


def text(max_length: int | None = None) -> _Checked:
    """``Annotated[str, text(255)]``: at most ``max_length`` characters (a column's
    width), without NUL."""
    return _Checked(max_length, NO_NUL, _no_nul)


def not_blank(max_length: int) -> _Checked:
    """As ``text``, with something besides white space (a reason, an id that is trimmed)."""
    return _Checked(max_length, NOT_BLANK, _not_blank)


def _email(value: str) -> str:
    # normalise_email accepts exactly EMAIL_PATTERN, apart from NUL.
    try:
        email = normalise_email(_no_nul(value))
    except InvalidIdentity as exc:
        raise ValueError(str(exc)) from None
    if len(email) > 320:  # lower-casing a few letters lengthens them
        raise ValueError("longer than 320 characters")
    return email


def _domain(value: str) -> str:
    # Stricter than normalise_domain, which also reads URLs: the API takes bare domains.
    if not _DOMAIN.fullmatch(value):
        raise ValueError(f"not a bare web domain: {value!r} (expected e.g. acme.io)")
    try:
        domain = normalise_domain(value)
    except InvalidIdentity as exc:
        raise ValueError(str(exc)) from None
    if len(domain) > 255:
        raise ValueError("longer than 255 characters")
    return domain


Email: TypeAlias = Annotated[
    str,
    StringConstraints(max_length=320),
    Field(
        description="An email address; stored trimmed and in lower case",
        examples=["ann@acme.io"],
        json_schema_extra={"pattern": EMAIL_PATTERN},
    ),
    AfterValidator(_email),
]
Domain: TypeAlias = Annotated[
    str,
    StringConstraints(max_length=255),
    Field(
        description="A web domain such as acme.io; stored in lower case without www.",
        examples=["acme.io"],
        json_schema_extra={"pattern": DOMAIN_PATTERN},
    ),
    AfterValidator(_domain),
]
# An external or user id: trimmed when stored, so it needs something besides white space.
IdentityValue: TypeAlias = Annotated[str, not_blank(320)]


def _names_without_nul(schema: dict[str, Any]) -> None:
    """State the key rule as propertyNames: with patternProperties alone, JSON Schema
    would still allow any other key."""
    pattern_properties = schema.pop("patternProperties", None)
    if pattern_properties:
        ((pattern, values),) = pattern_properties.items()
        schema["additionalProperties"] = values
        schema["propertyNames"] = {"pattern": pattern}


def _not_integer(value: Any) -> Any:
    """Integers belong to the integer branch, whose bounds they must meet exactly (a strict
    float would take 9000000000000000001 and round it to 9e18, inside the bound)."""
    if isinstance(value, int):
        raise ValueError("an integer out of range")
    return value


def _one_error(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """One message for a value no branch takes, instead of one per branch tried."""
    try:
        return handler(value)
    except ValidationError:
        raise ValueError(
            "a trait is text without NUL, a number within ±9e18, true, false, null, "
            "or a list or object of those"
        ) from None


# Custom traits: any JSON, except what the database or the JSON encoder cannot keep: NUL
# in text or keys, NaN and infinities, and integers beyond 64 bits (which the response
# encoder refuses). Floats are bounded too, since PostgreSQL's jsonb gives 1e20 back as
# the integer 100000000000000000000. The bound, 9e18, sits inside 64 bits and is exactly
# a float, so JSON Schema validators that compare numbers as floats agree with this one.
# Strict, so 1 stays 1 and never becomes true.
NUMBER_BOUND = 9 * 10**18
SafeText: TypeAlias = Annotated[str, text()]
if TYPE_CHECKING:  # mypy cannot follow the recursive alias pydantic needs
    TraitValue: TypeAlias = Any
else:
    TraitValue = TypeAliasType(
        "TraitValue",
        Annotated[
            Annotated[bool, Strict()]
            | Annotated[int, Strict(), Field(ge=-NUMBER_BOUND, le=NUMBER_BOUND)]
            | Annotated[
                float,
                Strict(),
                Field(allow_inf_nan=False, ge=-float(NUMBER_BOUND), le=float(NUMBER_BOUND)),
                BeforeValidator(_not_integer),
            ]
            | Annotated[SafeText, Strict()]
            | list["TraitValue"]
            | Annotated[dict[SafeText, "TraitValue"], Field(json_schema_extra=_names_without_nul)]
            | None,
            Field(union_mode="left_to_right"),
            WrapValidator(_one_error),
        ],
    )
Traits: TypeAlias = Annotated[
    dict[SafeText, TraitValue],
    Field(
        json_schema_extra=_names_without_nul,
        description="Custom traits: any JSON values, merged into the stored ones",
    ),
]


_FIRST = datetime.min.replace(tzinfo=UTC)
_LAST = datetime.max.replace(tzinfo=UTC)


def not_nullable(schema: dict[str, Any]) -> None:
    """For ``json_schema_extra``: document an optional field (``X | None = None``) as
    ``X``, for fields where null makes no sense and a validator refuses it; left out, the
    field is simply absent. (A union with SkipJsonSchema would do the same but puts the
    union's member names into the field names of validation errors.)"""
    branches = schema.pop("anyOf")
    (kept,) = [branch for branch in branches if branch.get("type") != "null"]
    schema.pop("default", None)
    schema.update(kept)


# RFC 3339 (what "format: date-time" means): pydantic alone would also read "0.5" as a Unix
# time, which the document does not allow.
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)


def _rfc3339(value: Any) -> Any:
    if not (isinstance(value, str) and _RFC3339.fullmatch(value)):
        raise ValueError("expected a date-time with a zone, e.g. 2026-03-01T09:00:00Z")
    return value


def _utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        # Within a day of year 1 or 9999, shifted past it by its zone: the edge it passed.
        return _FIRST if value.year == 1 else _LAST


# Times with a zone (a naive time would be ambiguous), kept as UTC.
UtcDatetime: TypeAlias = Annotated[AwareDatetime, BeforeValidator(_rfc3339), AfterValidator(_utc)]


# --- cursors -------------------------------------------------------------------------
# A cursor is a position in a list: the keyset values of the last row of a page, each
# written in base 36 and joined by dots. Any string of that shape is a position, so a
# cursor never expires; at most 12 digits keeps each value inside a 64-bit integer.
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
_PART = "[0-9a-z]{1,12}"
ID_CURSOR = rf"^{_PART}$"
TIME_ID_CURSOR = rf"^{_PART}\.{_PART}$"
_EPOCH = _FIRST


def _base36(number: int) -> str:
    digits = ""
    while True:
        number, digit = divmod(number, 36)
        digits = _DIGITS[digit] + digits
        if not number:
            return digits


def id_cursor(last_id: int) -> str:
    return _base36(last_id)


def read_id_cursor(cursor: str) -> int:
    return int(cursor, 36)


def time_id_cursor(at: datetime, last_id: int) -> str:
    micros = (at - _EPOCH) // timedelta(microseconds=1)
    return f"{_base36(micros)}.{_base36(last_id)}"


def read_time_id_cursor(cursor: str) -> tuple[datetime, int]:
    micros, last_id = (int(part, 36) for part in cursor.split("."))
    try:
        at = _EPOCH + timedelta(microseconds=micros)
    except OverflowError:
        at = _LAST  # past the last representable time: the list starts from its top
    return at, last_id
