"""Routes: notification endpoints (Slack, Teams, signed webhooks, email) and the outbox
(every alert and webhook with its delivery attempts; replay). Admin scope throughout:
endpoints hold credentials and the outbox holds what was sent where.

No answer shows a credential or a webhook URL's token: see ``schemas.notifications``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from leadgate.adapters.notify.channel import ChannelConfigError, config_from_dict
from leadgate.api.errors import ERROR_RESPONSES, ApiError, ErrorBody
from leadgate.api.routes.handoff_deps import Admin, Cursor, Limit, Wired, id_path, not_found, now
from leadgate.api.schemas.common import INT64_MAX, read_id_cursor
from leadgate.api.schemas.notifications import (
    EndpointIn,
    EndpointList,
    EndpointOut,
    EndpointPatch,
    MessageStatus,
    OutboxMessageDetail,
    OutboxPage,
)
from leadgate.services.delivery import MessageNotFound, MessagePending, replay
from leadgate.services.handoff_config import (
    EndpointNotFound,
    NameTaken,
    create_endpoint,
    set_endpoint_active,
)
from leadgate.services.handoff_queries import (
    MessageDetail,
    get_endpoint,
    list_endpoints,
    outbox_message,
    outbox_page,
)
from leadgate.services.retry import retry_on_conflict

router = APIRouter(prefix="/v1/endpoints", tags=["notifications"])
outbox_router = APIRouter(prefix="/v1/outbox", tags=["notifications"])

EndpointId = Annotated[int, id_path("Endpoint")]
MessageId = Annotated[int, id_path("Outbox message")]

_CREATE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    409: {"model": ErrorBody, "description": "An endpoint with this name exists"},
    422: {
        "model": ErrorBody,
        "description": "The request does not match the schema (`invalid_request`), or the "
        "channel refuses a setting (`invalid_channel_config`): `errors` names it as "
        "`config.NAME`",
    },
}


def _endpoint(wired: Wired, endpoint_id: int) -> EndpointOut:
    found = get_endpoint(wired.uow(), endpoint_id)
    if found is None:
        raise ApiError(404, "not_found", f"no endpoint with id {endpoint_id}")
    return EndpointOut.of(found)


def _message(wired: Wired, message_id: int) -> MessageDetail:
    found = outbox_message(wired.uow(), message_id)
    if found is None:
        raise ApiError(404, "not_found", f"no outbox message with id {message_id}")
    return found


@router.get("", response_model=EndpointList, responses=ERROR_RESPONSES, summary="List endpoints")
def list_all(key: Admin, wired: Wired) -> EndpointList:
    """Every endpoint, oldest first, with credentials hidden."""
    return EndpointList(items=[EndpointOut.of(e) for e in list_endpoints(wired.uow())])


@router.post(
    "",
    response_model=EndpointOut,
    status_code=201,
    responses=_CREATE_RESPONSES,
    summary="Add an endpoint",
)
def add(body: EndpointIn, key: Admin, wired: Wired) -> EndpointOut:
    """Checks the channel's settings (a missing or wrong one, or an unknown one, is named)
    and stores the endpoint, active, subscribed to ``events``. The answer hides the
    credentials it was given."""
    try:
        endpoint = retry_on_conflict(
            lambda: create_endpoint(
                wired.uow(),
                name=body.name,
                kind=body.kind,
                config=body.config,
                events=body.events,
                check=config_from_dict,
                now=now(),
            )
        )
    except ChannelConfigError as exc:
        field = f"config.{exc.field}" if exc.field else "config"
        raise ApiError(
            422,
            "invalid_channel_config",
            f"{field}: {exc}",
            errors=[{"field": field, "message": str(exc)}],
        ) from None
    except NameTaken as exc:
        raise ApiError(409, "already_exists", str(exc)) from None
    return EndpointOut.of(endpoint)


@router.get(
    "/{endpoint_id}",
    response_model=EndpointOut,
    responses={**ERROR_RESPONSES, **not_found("endpoint")},
    summary="Show an endpoint",
)
def show(endpoint_id: EndpointId, key: Admin, wired: Wired) -> EndpointOut:
    return _endpoint(wired, endpoint_id)


@router.patch(
    "/{endpoint_id}",
    response_model=EndpointOut,
    responses={**ERROR_RESPONSES, **not_found("endpoint")},
    summary="Pause or resume an endpoint",
)
def patch(endpoint_id: EndpointId, body: EndpointPatch, key: Admin, wired: Wired) -> EndpointOut:
    """``active: false`` pauses the endpoint: no new messages are queued for it, and those
    already queued wait (neither sent nor dead-lettered); ``true`` resumes and they go out."""
    try:
        endpoint = retry_on_conflict(
            lambda: set_endpoint_active(wired.uow(), endpoint_id, active=body.active)
        )
    except EndpointNotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    return EndpointOut.of(endpoint)


@outbox_router.get(
    "", response_model=OutboxPage, responses=ERROR_RESPONSES, summary="List outbox messages"
)
def list_messages(
    key: Admin,
    wired: Wired,
    status: Annotated[MessageStatus | None, Query(description="Delivery status")] = None,
    endpoint_id: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> OutboxPage:
    """Messages matching every filter given, oldest (lowest id) first, without their
    bodies (GET one for its notification and attempts)."""
    page = outbox_page(
        wired.uow(),
        status=status,
        endpoint_id=endpoint_id,
        after_id=read_id_cursor(cursor) if cursor else None,
        limit=limit,
    )
    return OutboxPage.of(page)


@outbox_router.get(
    "/{message_id}",
    response_model=OutboxMessageDetail,
    responses={**ERROR_RESPONSES, **not_found("outbox message")},
    summary="Show a message with its notification and every attempt",
)
def show_message(message_id: MessageId, key: Admin, wired: Wired) -> OutboxMessageDetail:
    return OutboxMessageDetail.of_detail(_message(wired, message_id))


@outbox_router.post(
    "/{message_id}/replay",
    response_model=OutboxMessageDetail,
    responses={
        **ERROR_RESPONSES,
        **not_found("outbox message"),
        409: {"model": ErrorBody, "description": "The message is still pending (`pending`)"},
    },
    summary="Send a dead or delivered message again",
)
def replay_message(message_id: MessageId, key: Admin, wired: Wired) -> OutboxMessageDetail:
    """Queues the message again with its idempotency key (so a receiver that got it
    before can tell), its attempt count back at 0; the worker sends it on its next round.
    Earlier attempts stay in the log. A pending message is refused: it is already queued
    (and may be in flight)."""
    try:
        retry_on_conflict(lambda: replay(wired.uow(), message_id, now=now()))
    except MessageNotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    except MessagePending as exc:
        raise ApiError(409, "pending", str(exc)) from None
    return OutboxMessageDetail.of_detail(_message(wired, message_id))
