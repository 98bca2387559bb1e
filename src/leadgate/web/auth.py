"""The signed-in user of a dashboard request, and the pages' own errors (HTML, not JSON)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request

from leadgate.bootstrap import App
from leadgate.domain.users import User
from leadgate.services.users import active_user
from leadgate.web.cache import ReportCache


class LoginRequired(Exception):
    """No valid session: the page answers with a redirect to the login form."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class Forbidden(Exception):
    """Signed in, but this user's role may not see or do this (403 page)."""


class BadInput(Exception):
    """A query or form value the page cannot use (400 page naming the field)."""


class PageNotFound(Exception):
    """The lead (or other thing) named in the URL does not exist (404 page)."""


def wired(request: Request) -> App:
    app: App = request.app.state.leadgate
    return app


Wired = Annotated[App, Depends(wired)]


def report_cache(request: Request) -> ReportCache:
    cache: ReportCache = request.app.state.report_cache
    return cache


Reports = Annotated[ReportCache, Depends(report_cache)]


def login_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/login?next={quote(target, safe='')}"


def current_user(request: Request) -> User:
    """The user whose session this is, read again now: a user disabled since signing in
    is signed out here."""
    user_id = request.session.get("user_id")
    if not isinstance(user_id, int):
        raise LoginRequired(login_url(request))
    user = active_user(wired(request).uow(), user_id)
    if user is None:
        request.session.clear()
        raise LoginRequired(login_url(request))
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def safe_next(target: str | None) -> str | None:
    """Only a path on this site may follow a login (no ``//evil.example``, no scheme)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target
