"""Routes: accounts (companies, by domain) and the leads at each."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi import Path as PathParam

from leadgate.analytics import leads as reads
from leadgate.api.auth import require
from leadgate.api.errors import ERROR_RESPONSES, ApiError, ErrorBody
from leadgate.api.schemas.accounts import AccountOut, AccountPage, AccountUpsert
from leadgate.api.schemas.common import (
    ID_CURSOR,
    INT64_MAX,
    NO_NUL,
    Domain,
    read_id_cursor,
)
from leadgate.api.schemas.leads import LeadPage
from leadgate.bootstrap import App
from leadgate.domain.keys import ApiKey, Scope
from leadgate.domain.lifecycle import Stage
from leadgate.services.profiles import upsert_accounts
from leadgate.services.retry import retry_on_conflict

router = APIRouter(prefix="/v1/accounts", tags=["accounts"])

_READ: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    404: {"model": ErrorBody, "description": "No such account"},
}

AccountId = Annotated[int, PathParam(ge=1, le=INT64_MAX, description="Account id")]
Reader = Annotated[ApiKey, Depends(require(Scope.READ))]
Writer = Annotated[ApiKey, Depends(require(Scope.WRITE))]
Limit = Annotated[int, Query(ge=1, le=500, description="Rows per page")]
Cursor = Annotated[
    str | None, Query(pattern=ID_CURSOR, description="`next_cursor` of the previous page")
]


def _wired(request: Request) -> App:
    return request.app.state.leadgate  # type: ignore[no-any-return]


Wired = Annotated[App, Depends(_wired)]


def _not_found(account_id: int) -> ApiError:
    return ApiError(404, "not_found", f"no account with id {account_id}")


def _account(wired: App, account_id: int) -> AccountOut:
    with wired.engine.connect() as connection:
        row = reads.account_by_id(connection, account_id)
    if row is None:
        raise _not_found(account_id)
    return AccountOut.of(row)


@router.post(
    "",
    response_model=AccountOut,
    responses={
        **ERROR_RESPONSES,
        201: {"model": AccountOut, "description": "Created"},
        409: {
            "model": ErrorBody,
            "description": "No scoring model is active, or a concurrent change (retry)",
        },
    },
    summary="Create or update an account by domain",
)
def upsert_account(
    body: AccountUpsert, response: Response, key: Writer, wired: Wired
) -> AccountOut:
    """Overwrites the given fields of the account with this domain, or creates it; then
    rescores its leads, since fit rules read account attributes. 201 when created."""
    result = retry_on_conflict(
        lambda: upsert_accounts(wired.uow(), [body.command()], now=datetime.now(UTC))
    )
    response.status_code = 201 if result.created else 200
    return _account(wired, result.ids[0])


@router.get("", response_model=AccountPage, responses=ERROR_RESPONSES, summary="List accounts")
def list_accounts(
    key: Reader,
    wired: Wired,
    domain: Annotated[Domain | None, Query(description="Exactly this domain")] = None,
    industry: Annotated[
        str | None, Query(max_length=100, pattern=NO_NUL, description="Ignoring case")
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> AccountPage:
    """Accounts matching every filter given, by ascending id."""
    with wired.engine.connect() as connection:
        page = reads.list_accounts(
            connection,
            limit=limit,
            after=read_id_cursor(cursor) if cursor else None,
            domain=domain,
            industry=industry,
        )
    return AccountPage.of(page)


@router.get("/{account_id}", response_model=AccountOut, responses=_READ, summary="Get an account")
def get_account(account_id: AccountId, key: Reader, wired: Wired) -> AccountOut:
    return _account(wired, account_id)


@router.get(
    "/{account_id}/leads",
    response_model=LeadPage,
    responses=_READ,
    summary="The leads at an account",
)
def account_leads(
    account_id: AccountId,
    key: Reader,
    wired: Wired,
    stage: Annotated[Stage | None, Query(description="Current stage")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> LeadPage:
    """The account's leads by ascending id, with the same shape as GET /v1/leads."""
    with wired.engine.connect() as connection:
        if reads.account_by_id(connection, account_id) is None:
            raise _not_found(account_id)
        page = reads.list_leads(
            connection,
            reads.LeadFilters(account_id=account_id, stage=stage.value if stage else None),
            limit=limit,
            after=read_id_cursor(cursor) if cursor else None,
        )
    return LeadPage.of(page)
