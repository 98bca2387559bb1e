"""What every tracking format shares: bounded bodies, times corrected for clock skew,
message ids derived for messages sent without one."""

from __future__ import annotations

import gzip
import tracemalloc
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from leadgate.adapters.tracking.payload import (
    MAX_BATCH_BYTES,
    MAX_DOMAIN_CHARS,
    MAX_EMAIL_CHARS,
    MAX_EVENT_CHARS,
    MAX_ID_CHARS,
    MAX_MESSAGE_BYTES,
    MAX_MESSAGE_ID_CHARS,
    Rejected,
    bounded,
    check_document,
    check_message,
    decode_body,
    derived_message_id,
    enabled_for_leadgate,
    event_time,
    parse_time,
    snake,
    text,
)

RECEIVED = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SKEW = timedelta(minutes=5)


def rejected(call: object) -> Rejected:
    """Run a thunk that must raise Rejected; return it."""
    with pytest.raises(Rejected) as info:
        call()  # type: ignore[operator]
    return info.value


# decode_body ---------------------------------------------------------------------------


def test_a_plain_body_is_read_as_json() -> None:
    assert decode_body(b'{"batch": [1, 2]}', None) == {"batch": [1, 2]}
    assert decode_body(b'{"a": 1}', "identity") == {"a": 1}


@pytest.mark.parametrize("header", ["gzip", "GZIP", " gzip "])
def test_a_gzip_body_is_inflated(header: str) -> None:
    body = {"batch": [{"type": "track", "event": "x" * 1000}]}
    assert decode_body(gzip.compress(orjson.dumps(body)), header) == body


def test_a_body_just_under_the_limit_is_read_and_one_over_is_refused() -> None:
    padding = MAX_BATCH_BYTES - len(b'{"p":""}')
    exact = b'{"p":"' + b"x" * padding + b'"}'
    assert len(exact) == MAX_BATCH_BYTES
    assert decode_body(exact, None) == {"p": "x" * padding}
    over = b'{"p":"' + b"x" * (padding + 1) + b'"}'
    problem = rejected(lambda: decode_body(over, None))
    assert problem.code == "too_large"
    assert "500 KB" in problem.message


def test_a_gzip_body_that_inflates_past_the_limit_is_refused_after_the_limit() -> None:
    inflated = b'{"p":"' + b"x" * MAX_BATCH_BYTES + b'"}'
    problem = rejected(lambda: decode_body(gzip.compress(inflated), "gzip"))
    assert problem.code == "too_large"
    assert "500 KB after decompression" in problem.message


def test_a_gzip_bomb_is_refused_without_inflating_it() -> None:
    bomb = gzip.compress(b"0" * 50_000_000, compresslevel=9)
    assert len(bomb) < 100_000  # fifty megabytes that travel as about fifty kilobytes
    tracemalloc.start()
    try:
        problem = rejected(lambda: decode_body(bomb, "gzip"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert problem.code == "too_large"
    # Inflating all of it would take 50 MB; stopping at the limit takes about 0.5 MB.
    assert peak < 4 * MAX_BATCH_BYTES


def test_a_smaller_limit_applies_to_the_inflated_size() -> None:
    body = gzip.compress(b'{"p": "' + b"x" * 200 + b'"}')
    assert rejected(lambda: decode_body(body, "gzip", limit=100)).code == "too_large"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"not gzip at all", "invalid_gzip"),
        (gzip.compress(b'{"a": 1}')[:-12], "invalid_gzip"),  # truncated
        (b"", "invalid_gzip"),
    ],
    ids=["garbage", "truncated", "empty"],
)
def test_a_body_that_is_not_gzip_is_refused_as_such(raw: bytes, code: str) -> None:
    problem = rejected(lambda: decode_body(raw, "gzip"))
    assert problem.code == code
    assert "gzip" in problem.message


@pytest.mark.parametrize("encoding", ["br", "deflate", "compress", "gzip, br"])
def test_an_unsupported_encoding_is_named(encoding: str) -> None:
    problem = rejected(lambda: decode_body(b"{}", encoding))
    assert problem.code == "unsupported_encoding"
    assert repr(encoding) in problem.message


@pytest.mark.parametrize(
    "raw", [b"{", b"", b"{'single': 'quotes'}", b'{"a": 1} trailing', b"\xff\xfe"]
)
def test_malformed_json_is_refused(raw: bytes) -> None:
    problem = rejected(lambda: decode_body(raw, None))
    assert problem.code == "invalid_json"
    assert problem.message.startswith("the body is not valid JSON")


def test_json_inside_gzip_is_checked_too() -> None:
    assert rejected(lambda: decode_body(gzip.compress(b"{nope"), "gzip")).code == "invalid_json"


# message size --------------------------------------------------------------------------


def test_a_message_over_32_kb_is_refused_naming_its_size() -> None:
    check_message({"p": "x" * (MAX_MESSAGE_BYTES - 20)})  # just under: fine
    big = {"p": "x" * MAX_MESSAGE_BYTES}
    problem = rejected(lambda: check_message(big))
    assert problem.code == "message_too_large"
    assert f"{len(orjson.dumps(big)):,} bytes" in problem.message
    assert "32 KB" in problem.message


def nested(depth: int) -> list[object]:
    """A list holding a list ... ``depth`` levels deep."""
    outer: list[object] = []
    inner = outer
    for _ in range(depth - 1):
        inner.append([])
        inner = inner[0]  # type: ignore[assignment]
    return outer


def test_nesting_deeper_than_json_can_store_is_refused() -> None:
    check_message({"p": nested(250)})
    problem = rejected(lambda: check_message({"p": nested(300)}))
    assert (problem.code, problem.message) == (
        "invalid_field",
        "the message: nested more than 255 levels deep",
    )
    problem = rejected(lambda: check_document({"p": nested(1000)}, "context"))
    assert problem.message == "context: nested more than 255 levels deep"
    check_document({"campaign": {"name": "spring"}}, "context")
    assert rejected(lambda: check_document({"a": "\x00"}, "context")).message.startswith(
        "context.a:"
    )


def test_a_nul_character_is_refused_naming_where_it_is() -> None:
    # PostgreSQL stores NUL in neither a text column nor a JSON document.
    problem = rejected(lambda: check_message({"properties": {"tags": ["ok", "a\x00"]}}))
    assert problem.code == "invalid_field"
    assert problem.message == "properties.tags[1]: contains a NUL character (\\u0000)"
    problem = rejected(lambda: check_message({"traits": {"bad\x00key": 1}}))
    assert problem.message.startswith("traits.bad\\u0000key (the name):")
    check_message({"text": "a backslash and u0000: \\u0000 is fine"})


@pytest.mark.parametrize(
    ("value", "limit", "ok"), [("abc", 3, True), ("abcd", 3, False), (None, 0, True)]
)
def test_bounded_refuses_text_longer_than_its_column(
    value: str | None, limit: int, ok: bool
) -> None:
    if ok:
        assert bounded(value, "userId", limit) == value
    else:
        problem = rejected(lambda: bounded(value, "userId", limit, "invalid_trait"))
        assert problem.code == "invalid_trait"
        assert problem.message == "userId: 4 characters; the limit is 3"


def test_the_parsers_limits_fit_the_database_columns() -> None:
    from leadgate.adapters.db import tables as t

    assert t.identities.c.value.type.length >= MAX_ID_CHARS
    assert t.touchpoints.c.message_id.type.length >= MAX_MESSAGE_ID_CHARS
    assert t.touchpoints.c.name.type.length >= MAX_EVENT_CHARS
    assert t.touchpoints.c.original_name.type.length >= MAX_EVENT_CHARS
    assert t.leads.c.email.type.length >= MAX_EMAIL_CHARS
    assert t.identities.c.value.type.length >= MAX_EMAIL_CHARS
    assert t.accounts.c.domain.type.length >= MAX_DOMAIN_CHARS


# times ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-03-01T09:30:00Z", datetime(2026, 3, 1, 9, 30, tzinfo=UTC)),
        ("2026-03-01T09:30:00.250Z", datetime(2026, 3, 1, 9, 30, 0, 250000, tzinfo=UTC)),
        ("2026-03-01T10:30:00+01:00", datetime(2026, 3, 1, 9, 30, tzinfo=UTC)),
        ("2026-03-01T09:30:00", datetime(2026, 3, 1, 9, 30, tzinfo=UTC)),  # naive: UTC
        (" 2026-03-01T09:30:00Z ", datetime(2026, 3, 1, 9, 30, tzinfo=UTC)),
    ],
)
def test_times_are_read_in_utc(raw: str, expected: datetime) -> None:
    parsed = parse_time(raw, "timestamp")
    assert parsed == expected
    assert parsed is not None and parsed.utcoffset() == timedelta(0)


def test_a_missing_time_is_none() -> None:
    assert parse_time(None, "timestamp") is None
    assert parse_time("", "timestamp") is None


@pytest.mark.parametrize("raw", ["yesterday", "2026-13-01T00:00:00Z", "1709280000", 1709280000])
def test_a_bad_time_is_refused_naming_the_field(raw: object) -> None:
    problem = rejected(lambda: parse_time(raw, "sentAt"))
    assert problem.code == "invalid_timestamp"
    assert problem.message.startswith("sentAt:")


def test_without_a_timestamp_the_event_happened_when_it_was_received() -> None:
    assert event_time(None, None, RECEIVED, SKEW).occurred_at == RECEIVED
    assert event_time(None, RECEIVED + timedelta(hours=3), RECEIVED, SKEW).clamped_from is None


def test_without_sent_at_the_timestamp_is_taken_as_sent() -> None:
    earlier = RECEIVED - timedelta(days=3)
    assert event_time(earlier, None, RECEIVED, SKEW).occurred_at == earlier


def test_a_client_clock_that_is_off_is_corrected_with_sent_at() -> None:
    # The client's clock runs two hours fast; the event happened 90 s before it sent.
    sent = RECEIVED + timedelta(hours=2)
    when = event_time(sent - timedelta(seconds=90), sent, RECEIVED, SKEW)
    assert when.occurred_at == RECEIVED - timedelta(seconds=90)
    assert when.clamped_from is None
    # A slow clock (a day behind) is corrected the same way.
    sent = RECEIVED - timedelta(days=1)
    when = event_time(sent - timedelta(minutes=10), sent, RECEIVED, SKEW)
    assert when.occurred_at == RECEIVED - timedelta(minutes=10)


def test_a_time_within_the_allowed_skew_is_kept() -> None:
    ahead = RECEIVED + SKEW
    assert event_time(ahead, None, RECEIVED, SKEW).occurred_at == ahead
    assert event_time(ahead, None, RECEIVED, SKEW).clamped_from is None


@pytest.mark.parametrize(
    ("timestamp", "sent_at"),
    [
        (datetime(1, 1, 1, tzinfo=UTC), RECEIVED + timedelta(days=2000 * 365)),
        (datetime(9999, 1, 1, tzinfo=UTC), datetime(1000, 1, 1, tzinfo=UTC)),
    ],
    ids=["before-year-1", "after-9999"],
)
def test_a_correction_beyond_the_calendar_is_refused(
    timestamp: datetime, sent_at: datetime
) -> None:
    problem = rejected(lambda: event_time(timestamp, sent_at, RECEIVED, SKEW))
    assert problem.code == "invalid_timestamp"
    assert "too far apart" in problem.message


def test_a_time_too_far_in_the_future_is_clamped_and_flagged() -> None:
    future = RECEIVED + SKEW + timedelta(seconds=1)
    when = event_time(future, None, RECEIVED, SKEW)
    assert when.occurred_at == RECEIVED
    assert when.clamped_from == future
    # Even after correcting with sentAt, an event "sent" a day before it happened is
    # still in the future.
    when = event_time(RECEIVED + timedelta(days=1), RECEIVED, RECEIVED, SKEW)
    assert when.occurred_at == RECEIVED
    assert when.clamped_from == RECEIVED + timedelta(days=1)


# derived message ids -------------------------------------------------------------------


def test_a_derived_message_id_is_stable_across_key_order_and_retries() -> None:
    one = {"type": "track", "userId": "u-1", "event": "Signed Up", "properties": {"a": 1, "b": 2}}
    same = {"properties": {"b": 2, "a": 1}, "event": "Signed Up", "userId": "u-1", "type": "track"}
    assert derived_message_id(one) == derived_message_id(same)
    assert derived_message_id(one) == derived_message_id(orjson.loads(orjson.dumps(one)))
    assert derived_message_id(one).startswith("lg-")
    assert len(derived_message_id(one)) <= 255  # fits the message_id column


@pytest.mark.parametrize(
    "change",
    [
        {"event": "Signed Out"},
        {"userId": "u-2"},
        {"properties": {"a": 1, "b": 3}},
        {"timestamp": "2026-03-01T09:30:00Z"},
    ],
)
def test_a_different_message_gets_a_different_id(change: dict[str, object]) -> None:
    base = {"type": "track", "userId": "u-1", "event": "Signed Up", "properties": {"a": 1, "b": 2}}
    assert derived_message_id(base) != derived_message_id({**base, **change})


# small helpers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("u-1", "u-1"), ("  u-1 ", "u-1"), (42, "42"), ("", None), ("  ", None), (True, None)],
)
def test_ids_may_be_strings_or_numbers(value: object, expected: str | None) -> None:
    assert text(value) == expected
    assert text({"id": 1}) is None
    assert text(None) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("firstName", "first_name"),
        ("first_name", "first_name"),
        ("First Name", "first_name"),
        ("annualRevenue", "annual_revenue"),
        ("numberOfEmployees", "number_of_employees"),
        ("Company-Domain", "company_domain"),
        ("plan", "plan"),
    ],
)
def test_trait_names_are_matched_in_snake_case(raw: str, expected: str) -> None:
    assert snake(raw) == expected


@pytest.mark.parametrize(
    ("integrations", "enabled"),
    [
        ({}, True),
        ({"All": True}, True),
        ({"leadgate": False}, False),
        ({"Leadgate": False}, False),
        ({"All": False}, False),
        ({"All": False, "leadgate": True}, True),
        ({"All": True, "leadgate": False}, False),
        ({"All": False, "leadgate": {"option": 1}}, True),
    ],
)
def test_the_integrations_switch(integrations: dict[str, object], enabled: bool) -> None:
    assert enabled_for_leadgate(integrations) is enabled
