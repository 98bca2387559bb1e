"""Route modules, one resource each; every module exposes ``router``."""

from __future__ import annotations

from fastapi import APIRouter

from leadgate.api.routes import (
    accounts,
    admin,
    analytics,
    backtest,
    imports,
    leads,
    models,
    posthog,
    tracking,
)

ROUTERS: tuple[APIRouter, ...] = (
    tracking.router,
    posthog.router,
    leads.router,
    accounts.router,
    models.router,
    backtest.router,
    imports.router,
    analytics.router,
    admin.router,
)
