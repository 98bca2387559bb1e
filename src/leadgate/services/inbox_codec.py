"""Tracking calls as JSON documents and back, for the inbox between capture and qualifier.

A document rebuilds its ``TrackedCall`` exactly: every field that differs from its
default is written, times as ISO 8601 with their offset, tuples as arrays (read back as
tuples). ``v`` is the document's format, so a qualifier meeting a document written by a
newer leadgate parks it with the reason instead of guessing.
"""

from __future__ import annotations

from dataclasses import MISSING, fields
from datetime import datetime
from typing import Any, TypeVar

from leadgate.domain.identity import IdentityKey, IdentityKind
from leadgate.services.commands import AccountIn, LeadIn, TouchpointIn, TrackedCall
from leadgate.services.errors import InvalidInput

FORMAT = 1

_D = TypeVar("_D", TouchpointIn, LeadIn, AccountIn)


class UnreadableCall(InvalidInput):
    """A stored document that does not rebuild a tracking call; the message says why."""


def call_document(call: TrackedCall) -> dict[str, Any]:
    """Given a parsed call, return the JSON-ready document ``tracked_call`` rebuilds it from."""
    document: dict[str, Any] = {
        "v": FORMAT,
        "id": call.message_id,
        "keys": [[key.kind.value, key.value] for key in call.keys],
    }
    if call.touchpoint is not None:
        document["touchpoint"] = _fields(call.touchpoint)
    if call.lead is not None:
        document["lead"] = _fields(call.lead)
    if call.account is not None:
        document["account"] = _fields(call.account)
    return document


def tracked_call(document: Any) -> TrackedCall:
    """Given a stored document, return the call it holds, or raise UnreadableCall."""
    if not isinstance(document, dict):
        raise UnreadableCall(f"expected a JSON object, got {type(document).__name__}")
    if document.get("v") != FORMAT:
        raise UnreadableCall(
            f"document format {document.get('v')!r} is not {FORMAT}, the one this leadgate reads"
        )
    message_id = document.get("id")
    if not isinstance(message_id, str):
        raise UnreadableCall("id: expected the message id as a string")
    return TrackedCall(
        message_id,
        _keys(document.get("keys")),
        touchpoint=_rebuilt(TouchpointIn, document.get("touchpoint"), "touchpoint"),
        lead=_rebuilt(LeadIn, document.get("lead"), "lead"),
        account=_rebuilt(AccountIn, document.get("account"), "account"),
    )


# Per command class, each field's name, its default and how its JSON value is read back:
# worked out once, as every call of every request is written and read.
_TIME, _TUPLE, _OBJECT, _PLAIN = "time", "tuple", "object", "plain"


def _kind_of(declared: str) -> str:
    # commands.py postpones its annotations, so each field's type is its source text.
    if declared == "datetime":
        return _TIME
    if declared.startswith("tuple"):
        return _TUPLE
    return _OBJECT if declared.startswith("dict") else _PLAIN


_SPECS: dict[type, tuple[tuple[str, Any, str], ...]] = {
    kind: tuple(
        (
            spec.name,
            spec.default_factory() if spec.default_factory is not MISSING else spec.default,
            _kind_of(str(spec.type)),
        )
        for spec in fields(kind)
    )
    for kind in (TouchpointIn, LeadIn, AccountIn)
}
_NAMES = {kind: {name: how for name, _, how in specs} for kind, specs in _SPECS.items()}
_KINDS = {kind.value: kind for kind in IdentityKind}


def _fields(value: TouchpointIn | LeadIn | AccountIn) -> dict[str, Any]:
    """The fields of a command that differ from their defaults, as JSON values."""
    written: dict[str, Any] = {}
    for name, default, how in _SPECS[type(value)]:
        item = getattr(value, name)
        if default is not MISSING and item == default:
            continue
        if how == _TIME:
            item = item.isoformat()
        elif how == _TUPLE:
            item = list(item)
        written[name] = item
    return written


def _keys(raw: Any) -> tuple[IdentityKey, ...]:
    if not isinstance(raw, list):
        raise UnreadableCall("keys: expected an array of [kind, value] pairs")
    keys = []
    for position, pair in enumerate(raw):
        if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[1], str)):
            raise UnreadableCall(f"keys[{position}]: expected [kind, value]")
        kind = _KINDS.get(pair[0]) if isinstance(pair[0], str) else None
        if kind is None:
            raise UnreadableCall(f"keys[{position}]: unknown identity kind {pair[0]!r}")
        keys.append(IdentityKey(kind, pair[1]))
    return tuple(keys)


def _rebuilt(kind: type[_D], raw: Any, where: str) -> _D | None:
    """The command ``kind`` from its written fields (None when the call has none)."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise UnreadableCall(f"{where}: expected a JSON object")
    specs = _NAMES[kind]
    values = dict(raw)
    for name, item in raw.items():
        how = specs.get(name)
        if how is None:
            raise UnreadableCall(f"{where}.{name}: not a field of {kind.__name__}")
        if how == _TIME:
            values[name] = _time(item, f"{where}.{name}")
        elif how == _TUPLE:
            if not isinstance(item, list):
                raise UnreadableCall(f"{where}.{name}: expected an array")
            values[name] = tuple(item)
        elif how == _OBJECT and not isinstance(item, dict):
            raise UnreadableCall(f"{where}.{name}: expected a JSON object")
    try:
        return kind(**values)
    except TypeError as exc:  # a required field missing
        raise UnreadableCall(f"{where}: {exc}") from None


def _time(raw: Any, where: str) -> datetime:
    if not isinstance(raw, str):
        raise UnreadableCall(f"{where}: expected an ISO 8601 time")
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise UnreadableCall(f"{where}: {raw!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise UnreadableCall(f"{where}: {raw!r} has no UTC offset")
    return moment
