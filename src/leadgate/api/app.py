"""The FastAPI application: wiring, error shape, access log, routers."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request, Response

from leadgate import __version__
from leadgate.api import errors
from leadgate.api.auth import KeyCache
from leadgate.api.qualifier import BackgroundQualifier
from leadgate.api.ratelimit import RateLimiter
from leadgate.api.responses import JsonResponse
from leadgate.api.routes import health
from leadgate.bootstrap import App, bootstrap
from leadgate.config import Settings

access_log = logging.getLogger("leadgate.access")

DESCRIPTION = """
leadgate's HTTP API.

* **Tracking**: Segment-, RudderStack- and PostHog-compatible endpoints (`/v1/batch`,
  `/v1/track`, ..., `/batch/`, `/capture/`). Authenticate with a *tracking* key
  (`lg_pub_...`) as the HTTP Basic user name or in the body (`writeKey`, `api_key`).
* **REST**: leads, accounts, touchpoints, scores with explanations, transitions, stage
  changes, scoring models, imports. Authenticate with a *secret* key (`lg_sk_...`) as
  `Authorization: Bearer KEY`.

Every error is JSON: `{"code": ..., "message": ...}`.
"""


def create_app(wired: App | None = None, settings: Settings | None = None) -> FastAPI:
    """Given a wired app (or settings to wire one from at start-up), return the ASGI app."""

    @asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        own = wired is None
        app_ = wired or bootstrap(settings or Settings())
        api.state.leadgate = app_
        api.state.keys = KeyCache(app_.uow_factory, app_.settings.key_cache_seconds)
        api.state.rate_limiter = RateLimiter(app_.settings.rate_limit_per_second)
        qualifier = None
        if app_.settings.ingest_mode == "inbox" and app_.settings.inbox_serve_qualifier:
            qualifier = BackgroundQualifier(app_)
            qualifier.start()
        api.state.qualifier = qualifier
        try:
            yield
        finally:
            if qualifier is not None:
                qualifier.stop()
            if own:
                app_.engine.dispose()

    api = FastAPI(
        title="leadgate",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        default_response_class=JsonResponse,
    )
    errors.install(api)

    @api.middleware("http")
    async def _access_log(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        response = await call_next(request)
        response.headers["X-Request-Id"] = request_id
        key = getattr(request.state, "api_key", None)
        access_log.info(
            "request",
            extra={
                "method": request.method,
                "path": request.url.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "request_id": request_id,
                "key": key.prefix if key else None,
            },
        )
        return response

    api.include_router(health.router)
    from leadgate.api.routes import ROUTERS

    for router in ROUTERS:
        api.include_router(router)
    for router in _handoff_routers():
        api.include_router(router)
    from leadgate.web import install as install_dashboard

    install_dashboard(api, wired.settings if wired else settings or Settings())
    return api


def _handoff_routers() -> tuple[APIRouter, ...]:
    """Handoffs, sales feedback, the handoff configuration, notification endpoints and
    the outbox, and audiences."""
    from leadgate.api.routes import audiences, endpoints, feedback, handoff_config, handoffs

    return (
        handoffs.router,
        handoffs.lead_router,
        feedback.router,
        handoff_config.router,
        endpoints.router,
        endpoints.outbox_router,
        audiences.router,
    )
