"""Signing in and out, and the landing page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from leadgate.services.users import authenticate_user
from leadgate.web.access import home
from leadgate.web.auth import CurrentUser, Wired, safe_next
from leadgate.web.session import CSRF_FIELD, csrf_ok
from leadgate.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/")
def landing(user: CurrentUser) -> Response:
    return RedirectResponse(home(user), status_code=303)


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    return render(request, "login.html", None, next=safe_next(next) or "", error=None)


@router.post("/login")
def login(
    request: Request,
    wired: Wired,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    """Check the form; on success start a fresh session (a new CSRF token too, so a token
    seen before signing in is worthless after)."""
    if not csrf_ok(request.session, csrf_token):
        return render(
            request,
            "login.html",
            None,
            status_code=400,
            next=safe_next(next) or "",
            username=username,
            error="The form expired. Please sign in again.",
        )
    user = authenticate_user(wired.uow(), username, password)
    if user is None:
        return render(
            request,
            "login.html",
            None,
            status_code=401,
            next=safe_next(next) or "",
            username=username,
            error="Unknown user name or wrong password (or the user is disabled).",
        )
    request.session.clear()
    request.session["user_id"] = user.id
    return RedirectResponse(safe_next(next) or home(user), status_code=303)


@router.post("/logout")
def logout(request: Request, csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "") -> Response:
    if csrf_ok(request.session, csrf_token):
        request.session.clear()
    return RedirectResponse("/login", status_code=303)
