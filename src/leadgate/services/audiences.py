"""Saved audiences: leads that meet conditions on stage, grade, score and attributes, kept
in step so membership changes can be pushed to ad platforms and nurture tools."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from leadgate.domain.leads import Lead
from leadgate.domain.notifications import AudienceChange, AudienceMember, audience_changed
from leadgate.domain.predicates import Operator, Predicate
from leadgate.services.errors import InvalidInput, NotFound
from leadgate.services.ports import Audience, StoredScore, UnitOfWork

# Batches of this many members per notification keep webhook bodies small.
_PUSH_BATCH = 500


class AudienceNotFound(NotFound):
    def __init__(self, audience: int | str) -> None:
        super().__init__(f"no audience {audience!r}")


@dataclass(frozen=True, slots=True)
class Refresh:
    audience_id: int
    members: int
    added: int
    removed: int


def parse_conditions(raw: Sequence[Mapping[str, Any]]) -> list[Predicate]:
    """Given ``[{"field": "grade", "op": "in", "value": ["A", "B"]}, ...]``, return the
    predicates, naming the condition and the part that is wrong."""
    predicates = []
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise InvalidInput(f"conditions[{i}]: expected an object with field, op, value")
        field = item.get("field")
        if not isinstance(field, str) or not field.strip():
            raise InvalidInput(f"conditions[{i}].field: required (e.g. 'grade', 'account.region')")
        try:
            op = Operator(str(item.get("op", "eq")))
        except ValueError:
            known = ", ".join(o.value for o in Operator)
            raise InvalidInput(
                f"conditions[{i}].op: {item.get('op')!r} is not one of {known}"
            ) from None
        value = item.get("value")
        problem = _value_problem(op, value)
        if problem:
            raise InvalidInput(f"conditions[{i}].value: {problem}")
        predicates.append(Predicate(field.strip(), op, value))
    return predicates


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _value_problem(op: Operator, value: Any) -> str | None:
    """What is wrong with a condition's value for its operator, or None. Checked when the
    audience is saved: a value the operator cannot use would otherwise fail every refresh
    (``gte`` "high"), or quietly mean something else (``in`` "AB" tests "A" and "B")."""
    scalar = str | int | float | bool
    if op in (Operator.EQ, Operator.CONTAINS):
        return None if isinstance(value, scalar) else f"`{op}` takes one value, found {value!r}"
    if op in (Operator.IN, Operator.NOT_IN):
        ok = isinstance(value, list) and value and all(isinstance(v, scalar) for v in value)
        return None if ok else f"`{op}` takes a non-empty list of values, found {value!r}"
    if op is Operator.BETWEEN:
        ok = (
            isinstance(value, list)
            and len(value) == 2
            and all(_is_number(v) for v in value)
            and value[0] <= value[1]
        )
        return None if ok else f"`between` takes [low, high] numbers, found {value!r}"
    if op in (Operator.GTE, Operator.LTE):
        return None if _is_number(value) else f"`{op}` takes a number, found {value!r}"
    if op is Operator.EXISTS:
        return None if isinstance(value, bool) else f"`exists` takes true or false, found {value!r}"
    if not isinstance(value, str):  # regex
        return f"`regex` takes a pattern, found {value!r}"
    try:
        re.compile(value, re.IGNORECASE)
    except re.error as exc:
        return f"not a regular expression ({exc})"
    return None


NURTURE_TRACK = "nurture_track"
"""The condition field naming the nurture track a recycled lead was put on."""


def _value(lead: Lead, score: StoredScore | None, field: str, track: str | None = None) -> Any:
    if field == NURTURE_TRACK:
        return track
    if field in ("score", "total"):
        return score.total if score else None
    if field in ("grade", "fit", "engagement"):
        if score is None:
            return None
        return score.grade if field == "grade" else getattr(score, field)
    if field == "stage":
        return lead.stage.value
    return lead.attribute(field)


def matches(
    lead: Lead,
    score: StoredScore | None,
    predicates: Sequence[Predicate],
    track: str | None = None,
) -> bool:
    return all(p.test(_value(lead, score, p.field, track)) for p in predicates)


def create_audience(
    uow: UnitOfWork,
    *,
    name: str,
    conditions: Sequence[Mapping[str, Any]],
    endpoint_id: int | None,
    now: datetime,
) -> Audience:
    if not name.strip():
        raise InvalidInput("name: required")
    parse_conditions(conditions)
    with uow:
        if uow.audiences.by_name(name.strip()) is not None:
            raise InvalidInput(f"name: an audience named {name.strip()!r} exists")
        if endpoint_id is not None and uow.outbox.endpoint(endpoint_id) is None:
            raise InvalidInput(f"endpoint_id: no endpoint {endpoint_id}")
        audience = uow.audiences.add(name.strip(), conditions, endpoint_id, now)
        uow.commit()
    return audience


def current_members(
    uow: UnitOfWork, audience: Audience
) -> Iterator[tuple[Lead, StoredScore | None]]:
    """Every lead that meets the audience's conditions now (inside an open unit of work)."""
    predicates = parse_conditions(audience.conditions)
    by_track = any(p.field == NURTURE_TRACK for p in predicates)
    for chunk in uow.leads.id_chunks(1000):
        leads = uow.leads.get_many(chunk)
        scores = uow.scores.get_many(chunk)
        tracks = uow.handoffs.nurture_tracks(chunk) if by_track else {}
        for lead_id in chunk:
            lead = leads.get(lead_id)
            score = scores.get(lead_id)
            if lead is not None and matches(lead, score, predicates, tracks.get(lead_id)):
                yield lead, score


def refresh_audience(
    uow: UnitOfWork, audience_id: int, *, now: datetime, push_batch: int = _PUSH_BATCH
) -> Refresh:
    """Recompute the members, store the difference, and push it to the audience's
    endpoint (in batches of ``push_batch`` joins and leaves, each with its own
    idempotency key)."""
    with uow:
        audience = uow.audiences.get(audience_id)
        if audience is None:
            raise AudienceNotFound(audience_id)
        now_in = {lead.id: lead for lead, _ in current_members(uow, audience) if lead.id}
        before = uow.audiences.members(audience_id)
        added = sorted(set(now_in) - before)
        removed = sorted(before - set(now_in))
        uow.audiences.update_members(audience_id, added, removed, now)
        if audience.endpoint_id is not None and (added or removed):
            gone = uow.leads.get_many(removed)
            _push(
                uow,
                audience,
                [now_in[i] for i in added],
                [gone[i] for i in removed if i in gone],
                now,
                push_batch,
            )
        uow.commit()
    return Refresh(audience_id, len(now_in), len(added), len(removed))


def _push(
    uow: UnitOfWork,
    audience: Audience,
    added: list[Lead],
    removed: list[Lead],
    now: datetime,
    batch_size: int,
) -> None:
    def member(lead: Lead) -> AudienceMember:
        assert lead.id is not None
        return AudienceMember(lead.id, lead.email, lead.account.domain if lead.account else None)

    assert audience.endpoint_id is not None
    endpoint = uow.outbox.endpoint(audience.endpoint_id)
    if endpoint is None or not endpoint.active:
        # A paused endpoint gets nothing, as with every other event; its tool catches up
        # from an export (the membership itself is current either way).
        return
    size = max(len(added), len(removed))
    for batch, start in enumerate(range(0, size, batch_size)):
        change = AudienceChange(
            str(audience.id),
            audience.name,
            now,
            tuple(member(x) for x in added[start : start + batch_size]),
            tuple(member(x) for x in removed[start : start + batch_size]),
            batch,
        )
        notification = audience_changed(change)
        uow.outbox.enqueue(
            [audience.endpoint_id],
            event_type=notification.event.value,
            key=notification.key,
            notification=notification.to_record(),
            lead_id=None,
            now=now,
        )
