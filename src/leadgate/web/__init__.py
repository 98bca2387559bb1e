"""The dashboard: server-rendered pages at ``/`` beside the JSON API (docs/dashboard.md).

Everything it needs is in this package: Jinja2 templates, one style sheet, one small
script, charts drawn as SVG on the server. Nothing is fetched from a CDN.
"""

from __future__ import annotations

import time
from pathlib import Path

from fastapi import FastAPI, Request
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from leadgate.config import Settings
from leadgate.web.auth import BadInput, Forbidden, LoginRequired, PageNotFound, current_user
from leadgate.web.cache import ReportCache
from leadgate.web.session import session_secret

STATIC = Path(__file__).parent / "static"
SESSION_COOKIE = "leadgate_session"


def install(api: FastAPI, settings: Settings) -> None:
    """Add the dashboard to the app: session cookies, static files, pages, error pages."""
    from leadgate.web.routes import ROUTERS

    api.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(settings),
        session_cookie=SESSION_COOKIE,
        max_age=settings.session_max_age_seconds,
        same_site="lax",
        https_only=settings.secure_cookies,
    )
    api.add_middleware(ServerTiming)
    api.state.report_cache = ReportCache()
    api.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in ROUTERS:
        api.include_router(router)
    api.add_exception_handler(LoginRequired, _login_required)
    api.add_exception_handler(Forbidden, _forbidden)
    api.add_exception_handler(PageNotFound, _not_found)
    api.add_exception_handler(BadInput, _bad_input)


def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    return RedirectResponse(exc.next_url, status_code=303)


def _error_page(request: Request, status: int, title: str, message: str) -> Response:
    from leadgate.web.templating import render

    try:
        user = current_user(request)
    except LoginRequired:
        user = None
    return render(request, "error.html", user, status_code=status, title=title, message=message)


def _forbidden(request: Request, exc: Exception) -> Response:
    return _error_page(
        request,
        403,
        "Not for your role",
        str(exc) or "Your role does not include this page. Ask an admin if you need it.",
    )


def _bad_input(request: Request, exc: Exception) -> Response:
    return _error_page(request, 400, "Cannot show this", str(exc))


def _not_found(request: Request, exc: Exception) -> Response:
    return _error_page(request, 404, "Not found", str(exc) or "There is nothing here.")


class ServerTiming:
    """Adds ``Server-Timing: app;dur=<ms>`` to dashboard pages: the time the server spent
    on the request, which the dashboard benchmark reads (python -m benchmarks --dashboard)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(("/v1/", "/static/")):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                ms = (time.perf_counter() - started) * 1000
                headers = list(message.get("headers", []))
                headers.append((b"server-timing", f"app;dur={ms:.1f}".encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, timed)
