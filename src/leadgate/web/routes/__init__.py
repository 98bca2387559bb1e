"""Dashboard pages, one module per page (or page and its form)."""

from __future__ import annotations

from fastapi import APIRouter

from leadgate.web.routes import funnel, leads, login, model, queue

ROUTERS: tuple[APIRouter, ...] = (
    login.router,
    funnel.router,
    leads.router,
    queue.router,
    model.router,
)
