"""What every tracking format shares: limits, bodies, rejections, times, traits."""

from __future__ import annotations

import hashlib
import re
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

# Segment's documented limits, which its clients respect and RudderStack's share.
MAX_MESSAGE_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
MAX_BATCH_MESSAGES = 2500


# The longest values the database keeps (adapters/db/tables.py): longer ones are refused
# here, naming the field, rather than failing the whole batch on PostgreSQL.
MAX_ID_CHARS = 320  # user, anonymous and distinct ids (identities.value)
MAX_MESSAGE_ID_CHARS = 255
MAX_EVENT_CHARS = 100  # touchpoints.name: a name the alias table does not map is kept
MAX_EMAIL_CHARS = 254  # RFC 5321's limit, which also keeps its domain a valid one
MAX_DOMAIN_CHARS = 253


class Rejected(Exception):
    """A request or message leadgate will not store; ``code`` is machine-readable and the
    message says what to fix."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Skipped(Rejected):
    """A well-formed message the sender asked leadgate not to process (``integrations``)."""


def enabled_for_leadgate(integrations: dict[str, Any]) -> bool:
    """Segment's ``integrations`` switch: ``{"leadgate": false}`` turns leadgate off for a
    message, ``{"All": false}`` turns every destination off unless leadgate is named."""
    own = next((v for k, v in integrations.items() if k.lower() == "leadgate"), None)
    if own is not None:
        return own is not False
    return integrations.get("All", True) is not False


def decode_body(raw: bytes, content_encoding: str | None, limit: int = MAX_BATCH_BYTES) -> Any:
    """Given a request body, return its JSON, refusing more than ``limit`` bytes of JSON.

    A gzip body is inflated at most ``limit + 1`` bytes, so a small bomb that would
    inflate to gigabytes is refused after reading only a little more than the limit.
    """
    encoding = (content_encoding or "identity").strip().lower()
    if encoding == "gzip":
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            data = inflater.decompress(raw, limit + 1)
        except zlib.error as exc:
            raise Rejected("invalid_gzip", f"the body is not valid gzip: {exc}") from None
        if len(data) > limit or inflater.unconsumed_tail:
            raise Rejected("too_large", _too_large(limit, "after decompression"))
        if not inflater.eof:
            raise Rejected("invalid_gzip", "the gzip body is truncated")
    elif encoding in ("identity", ""):
        data = raw
    else:
        raise Rejected(
            "unsupported_encoding", f"Content-Encoding {encoding!r} is not supported (use gzip)"
        )
    if len(data) > limit:
        raise Rejected("too_large", _too_large(limit, ""))
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise Rejected("invalid_json", f"the body is not valid JSON: {exc}") from None


def _too_large(limit: int, when: str) -> str:
    suffix = f" {when}" if when else ""
    return f"the body is larger than {limit // 1024} KB{suffix}; send smaller batches"


def check_message(message: Any) -> None:
    """Refuse a message over the size limit, or holding what the database cannot store."""
    encoded = _encoded(message, "the message")
    if len(encoded) > MAX_MESSAGE_BYTES:
        raise Rejected(
            "message_too_large",
            f"the message is {len(encoded):,} bytes; the limit is {MAX_MESSAGE_BYTES // 1024} KB",
        )
    if b"\\u0000" in encoded:  # rare: only then walk the message to name the field
        check_text(message, "")


def check_document(value: Any, where: str) -> None:
    """As check_message, without the size limit, for what applies to a whole batch."""
    if b"\\u0000" in _encoded(value, where):
        check_text(value, where)


def _encoded(value: Any, where: str) -> bytes:
    # JSON read from a body may nest 1,024 levels; what is stored (as JSON) may nest 255.
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        raise Rejected("invalid_field", f"{where}: nested more than 255 levels deep") from None


def check_text(value: Any, where: str) -> None:
    """Refuse a NUL character (JSON's \\u0000) anywhere in ``value``, naming where it is:
    PostgreSQL can store it neither in a text column nor in a JSON document."""
    if isinstance(value, str):
        if "\x00" in value:
            raise Rejected("invalid_field", f"{where}: contains a NUL character (\\u0000)")
    elif isinstance(value, dict):
        for key, item in value.items():
            name = str(key).replace("\x00", "\\u0000")
            path = f"{where}.{name}" if where else name
            check_text(key, f"{path} (the name)")
            check_text(item, path)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_text(item, f"{where}[{index}]")


def text(value: Any) -> str | None:
    """A string id or name as sent (numbers allowed, as Segment's clients allow them)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str | int | float):
        stripped = str(value).strip()
        return stripped or None
    return None


def bounded(value: str | None, field: str, limit: int, code: str = "invalid_field") -> str | None:
    """The value, or Rejected naming the field when it is longer than ``limit`` characters."""
    if value is not None and len(value) > limit:
        raise Rejected(code, f"{field}: {len(value):,} characters; the limit is {limit:,}")
    return value


def parse_time(value: Any, field: str) -> datetime | None:
    """Given an ISO 8601 time (or None), return it in UTC; naive times are read as UTC."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Rejected("invalid_timestamp", f"{field}: expected an ISO 8601 string")
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise Rejected(
            "invalid_timestamp",
            f"{field}: {value!r} is not an ISO 8601 time (e.g. 2026-03-01T09:30:00Z)",
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class EventTime:
    occurred_at: datetime
    clamped_from: datetime | None = None


def event_time(
    timestamp: datetime | None,
    sent_at: datetime | None,
    received_at: datetime,
    max_skew: timedelta,
) -> EventTime:
    """When the event happened, by the server's clock.

    As Segment does: the client's clock may be wrong, but the gap between the event and
    the moment the client sent it is right, so the event happened that long before the
    server received it. A time still further in the future than ``max_skew`` is clamped
    to the receive time and flagged.
    """
    if timestamp is None:
        return EventTime(received_at)
    try:
        corrected = received_at - (sent_at - timestamp) if sent_at is not None else timestamp
    except OverflowError:  # thousands of years apart: past year 1 or 9999
        raise Rejected(
            "invalid_timestamp",
            f"timestamp {timestamp.isoformat()} and sentAt {sent_at.isoformat() if sent_at else ''}"
            " are too far apart to be the same client's clock",
        ) from None
    if corrected > received_at + max_skew:
        return EventTime(received_at, clamped_from=corrected)
    return EventTime(corrected)


def derived_message_id(message: Any) -> str:
    """An id for a message sent without one: the same content gives the same id, so a
    retry is still recognised."""
    return (
        "lg-" + hashlib.sha256(orjson.dumps(message, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]
    )


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def snake(name: str) -> str:
    """'firstName' / 'First Name' → 'first_name'."""
    return re.sub(r"[^a-z0-9]+", "_", _CAMEL.sub("_", name.strip()).lower()).strip("_")
