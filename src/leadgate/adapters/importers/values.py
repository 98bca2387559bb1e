"""Reading one cell as the type its field needs; a ValueError's message is the row error."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

from leadgate.domain.errors import InvalidIdentity
from leadgate.domain.identity import normalise_domain, normalise_email

# The largest employee count the accounts table holds (a 32-bit integer).
MAX_INTEGER = 2**31 - 1

# Currency signs and thousands separators that exports put in numbers.
_NUMBER_NOISE = re.compile(r"[\s,$€£¥]")
# A plain decimal number, as a custom trait should keep it: no leading zeros (a postcode
# or a phone number stays text), no exponent, at most 15 digits (floats are exact there).
_PLAIN_NUMBER = re.compile(r"-?(0|[1-9]\d{0,14})(\.\d{1,15})?")
# US exports (Salesforce, HubSpot in an en-US account) write dates month first.
_US_DATE = re.compile(
    r"(\d{1,2})/(\d{1,2})/(\d{4})(?:[ T,]+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?)?"
)


def number(raw: str) -> float:
    """'$1,200,000.50' -> 1200000.5; refuses text, infinities and negative amounts."""
    try:
        value = float(_NUMBER_NOISE.sub("", raw))
    except ValueError:
        raise ValueError("not a number") from None
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    if value < 0:
        raise ValueError("must not be negative")
    return value


def integer(raw: str) -> int:
    """'1,200' or '1200.0' -> 1200; refuses ranges ('50-200'), fractions and text."""
    value = number(raw)
    if not value.is_integer():
        raise ValueError("not a whole number")
    if value > MAX_INTEGER:
        raise ValueError(f"too large (at most {MAX_INTEGER:,})")
    return int(value)


def email(raw: str) -> str:
    try:
        return normalise_email(raw)
    except InvalidIdentity:
        raise ValueError("not an email address (expected name@domain.tld)") from None


def domain(raw: str) -> str:
    try:
        return normalise_domain(raw)
    except InvalidIdentity:
        raise ValueError("not a web domain or website (expected e.g. acme.io)") from None


def time(raw: str) -> datetime:
    """ISO 8601 ('2026-03-01', '2026-03-01T09:30:00Z', '2026-03-01 09:30') or US
    ('3/1/2026', '3/1/2026 9:30 AM'); a time without an offset is UTC."""
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        value = _us_time(raw)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _us_time(raw: str) -> datetime:
    match = _US_DATE.fullmatch(raw.strip())
    if match is None:
        raise ValueError(
            "not a date or time (expected ISO 8601 such as 2026-03-01T09:30:00Z, "
            "or month/day/year such as 3/1/2026 9:30 AM)"
        )
    month, day, year, hour, minute, second, half = match.groups()
    hours = int(hour or 0)
    if half:
        if not 1 <= hours <= 12:
            raise ValueError("not a time: hour must be 1 to 12 with AM/PM")
        hours = hours % 12 + (12 if half.lower() == "pm" else 0)
    try:
        return datetime(int(year), int(month), int(day), hours, int(minute or 0), int(second or 0))
    except ValueError as exc:
        raise ValueError(f"not a date: {exc}") from None


def items(raw: str) -> tuple[str, ...]:
    """'salesforce; hubspot' -> ('salesforce', 'hubspot')."""
    return tuple(dict.fromkeys(p.strip() for p in re.split(r"[;,|]", raw) if p.strip()))


def trait(raw: str) -> Any:
    """A custom trait's value: plain numbers as numbers (so rules and models can compare
    them), anything else as the text written."""
    if _PLAIN_NUMBER.fullmatch(raw):
        return float(raw) if "." in raw else int(raw)
    return raw
