"""The fields each kind of import reads, their types, and which of them a file must have."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from leadgate.services.imports import ImportKind


class FieldType(StrEnum):
    TEXT = "text"
    INTEGER = "integer"  # "1,200" and "1200.0" read as 1200
    NUMBER = "number"  # "$1,200,000.50" reads as 1200000.5
    EMAIL = "email"
    DOMAIN = "domain"  # a domain or a URL: "https://www.acme.io/" reads as acme.io
    TIME = "time"  # ISO 8601 or US m/d/yyyy; no offset means UTC
    LIST = "list"  # separated by ; , or |
    OUTCOME = "outcome"  # see outcomes.py


@dataclass(frozen=True, slots=True)
class Field:
    """One thing a row can say; ``max_length`` mirrors the column that stores it."""

    name: str
    type: FieldType
    help: str
    max_length: int | None = None


def _text(name: str, help: str, max_length: int = 255) -> Field:
    return Field(name, FieldType.TEXT, help, max_length)


_IDENTITY = (
    Field("email", FieldType.EMAIL, "the lead's email (finds the lead; case-insensitive)", 320),
    _text("external_id", "a CRM id (Salesforce Lead ID, HubSpot Record ID ...)", 320),
    _text("user_id", "your product's user id", 320),
)

FIELDS: dict[ImportKind, tuple[Field, ...]] = {
    ImportKind.LEADS: (
        *_IDENTITY,
        _text("first_name", "first name"),
        _text("last_name", "last name"),
        _text("title", "job title"),
        _text("seniority", "c_level, vp, director, manager ...", 100),
        _text("department", "marketing, sales ...", 100),
        _text("persona", "persona", 100),
        _text("source_channel", "channel of the first touch (Lead Source)", 100),
        _text("source_campaign", "campaign of the first touch"),
        _text("country", "the lead's country", 100),
        _text("owner", "the lead's owner (a rep)"),
        Field("account_domain", FieldType.DOMAIN, "the company's web domain or website", 255),
        _text("account_name", "the company's name"),
        _text("account_industry", "the company's industry", 100),
        Field("account_employees", FieldType.INTEGER, "the company's employee count"),
        Field("account_annual_revenue", FieldType.NUMBER, "the company's annual revenue"),
    ),
    ImportKind.ACCOUNTS: (
        Field("domain", FieldType.DOMAIN, "the company's web domain or website", 255),
        _text("name", "the company's name"),
        _text("industry", "industry", 100),
        Field("employees", FieldType.INTEGER, "employee count"),
        Field("annual_revenue", FieldType.NUMBER, "annual revenue"),
        _text("country", "country", 100),
        _text("region", "sales region (NA, EMEA ...)", 50),
        Field("technographics", FieldType.LIST, "tools in use, separated by ; , or |"),
        _text("owner", "the account's owner"),
    ),
    ImportKind.TOUCHPOINTS: (
        _text("message_id", "unique id of the event (default: derived from the row)"),
        _text("name", "event name; the model's aliases map it ('Demo Requested')", 100),
        Field("occurred_at", FieldType.TIME, "when it happened"),
        *_IDENTITY,
        _text("anonymous_id", "an anonymous (cookie) id", 320),
    ),
    ImportKind.OUTCOMES: (
        *_IDENTITY,
        Field("outcome", FieldType.OUTCOME, "the result: converted/won, lost, sql ... or 1/0"),
        Field("occurred_at", FieldType.TIME, "when it happened (default: the import's time)"),
        _text("reason", "why (a lost or disqualification reason)", 1000),
    ),
}

IDENTITY_FIELDS = ("email", "external_id", "user_id")

# A file must have a column for at least one field of each group.
REQUIRED: dict[ImportKind, tuple[tuple[str, ...], ...]] = {
    ImportKind.LEADS: (IDENTITY_FIELDS,),
    ImportKind.ACCOUNTS: (("domain",),),
    ImportKind.TOUCHPOINTS: (
        ("name",),
        ("occurred_at",),
        (*IDENTITY_FIELDS, "anonymous_id"),
    ),
    ImportKind.OUTCOMES: (IDENTITY_FIELDS, ("outcome",)),
}


def field_names(kind: ImportKind) -> list[str]:
    return [f.name for f in FIELDS[kind]]


def get_field(kind: ImportKind, name: str) -> Field | None:
    return next((f for f in FIELDS[kind] if f.name == name), None)
